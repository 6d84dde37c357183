#!/usr/bin/env bash
# The RAZAR demo: boot three components on a copy of examples/demo. The
# ledger's config is broken, so it will not start; local restarts cannot help,
# so RAZAR escalates it up the ladder of repair agents until one fixes it,
# boots the rest, and shuts down cleanly (--once).
#
# Then the same failure happens twice more (docs/FIXES.md): with the fix
# memory the second occurrence heals from the remembered fix, no rung
# asked; with RAZAR_FIX_MEMORY=off the third climbs the ladder again. The
# demo prints each occurrence's rung calls and time to heal.
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
[ "$code" -eq 0 ] || exit "$code"

# measure prints the newest ledger incident: how it ended, the rungs asked,
# the memory's attempt, and the time from opened to healed (the audit
# stream's timestamps, read from the stopped home's store).
measure() {
  "$razar" --home "$home" audit --component ledger --json |
    jq -rs --arg name "$1" '
      [.[] | select((.incident // "") != "")] | group_by(.incident) | map({
        opened: (map(select(.event == "opened"))[0].timestamp),
        end: (map(select(.event == "healed" or .event == "failed"))[0]),
        rungs: (map(select(.event == "attempt" and .agent != "memory")) | length),
        memory: ((map(select(.event == "attempt" and .agent == "memory"))[0].outcome) // "not tried")
      }) | sort_by(.opened) | last |
      "\($name)\t\(.end.event)\trung calls: \(.rungs)\tmemory: \(.memory)\ttime to heal: \(((.end.timestamp - .opened) * 1000 | floor)) ms"'
}
if ! command -v jq >/dev/null 2>&1; then
  echo "== jq is missing: the recurrence part of the demo needs it"
  exit 0
fi
results=$(measure "1st occurrence (ladder, learns the fix)")

# rerun breaks the ledger's config as it was and boots again in the same home.
rerun() {
  cp "$root/examples/demo/services/ledger/ledger.conf" "$home/services/ledger/ledger.conf"
  set +e
  "$razar" --home "$home" boot --once --retries 1 --nats-listen 127.0.0.1:0 >"$home/logs/demo-run-$1.out" 2>&1
  code=$?
  set -e
  if [ "$code" -ne 0 ]; then
    echo "== run $1 exited $code:"; tail -20 "$home/logs/demo-run-$1.out"; exit "$code"
  fi
}
echo
echo "== the same failure again: the ledger's config is broken as before; razar boot --once"
rerun 2
results="$results
$(measure "2nd occurrence (fix memory)")"
echo "== the fix records on the audit stream (razar fixes list shows them while RAZAR runs):"
"$razar" --home "$home" audit --component ledger --json | jq -r 'select(.event | startswith("fix_")) | "   \(.event) \(.signature) fix \(.fix) by \(.agent)"'
echo
echo "== and once more with RAZAR_FIX_MEMORY=off"
RAZAR_FIX_MEMORY=off rerun 3
results="$results
$(measure "3rd occurrence (RAZAR_FIX_MEMORY=off)")"
echo
echo "== recurrence of the ledger failure:"
printf '%s\n' "$results" | sed 's/^/   /'
exit 0
