#!/usr/bin/env bash
# The RAZAR demo: boot three components on a copy of examples/demo. The
# ledger's config is broken, so it will not start; local restarts cannot help,
# so RAZAR escalates it up the ladder of repair agents until one fixes it,
# boots the rest, and shuts down cleanly (--once).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
razar="$root/bin/razar"
home=$(mktemp -d "${TMPDIR:-/tmp}/razar-demo.XXXXXX")
cp -R "$root/examples/demo/." "$home/"
export RAZAR_METRICS_PORT=${RAZAR_METRICS_PORT:-0}
export RAZAR_CHAKRA_PORT=${RAZAR_CHAKRA_PORT:-0}
unset RSTAR_API_KEY RSTAR_ENDPOINT

echo "== RAZAR demo home: $home"
echo "== the ledger's config has no port:"
sed 's/^/   /' "$home/services/ledger/ledger.conf"
echo
echo "== razar boot --once --retries 1 --nats-listen 127.0.0.1:0"
set +e
"$razar" --home "$home" boot --once --retries 1 --nats-listen 127.0.0.1:0
code=$?
set -e
echo
echo "== exit status $code; the ledger's config now:"
sed 's/^/   /' "$home/services/ledger/ledger.conf"
echo
echo "== escalation history, logs/razar_ai_invocations.json:"
if command -v jq >/dev/null 2>&1; then
  jq -r '[.timestamp_iso[11:19], .event, .agent_display, (.status // ""), (.summary // .error // "")] | @tsv' "$home/logs/razar_ai_invocations.json"
else
  cut -c1-200 "$home/logs/razar_ai_invocations.json"
fi
echo
echo "== patches, logs/patch_history.jsonl:"
if command -v jq >/dev/null 2>&1; then
  jq -r '[.timestamp_iso[11:19], .event, .patch_id, .agent_display, (.reason // "")] | @tsv' "$home/logs/patch_history.jsonl"
else
  cut -c1-200 "$home/logs/patch_history.jsonl"
fi
echo "   (undo it with: bin/razar --home $home rollback-patch ledger)"
echo
echo "== logs/razar_state.json:"
cat "$home/logs/razar_state.json"
exit "$code"
