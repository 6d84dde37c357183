#!/usr/bin/env bash
# The RAZAR demo: boot the mesh on a copy of examples/demo, break-then-heal the
# ledger component up the escalation ladder, show the records, shut down.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
razar="$root/bin/razar"
home=$(mktemp -d "${TMPDIR:-/tmp}/razar-demo.XXXXXX")
cp -R "$root/examples/demo/." "$home/"
export RAZAR_METRICS_PORT=${RAZAR_METRICS_PORT:-0} RAZAR_VERIFY_WINDOW=${RAZAR_VERIFY_WINDOW:-2s}
unset RSTAR_API_KEY RSTAR_ENDPOINT

echo "== RAZAR demo home: $home"
"$razar" --home "$home" boot --nats-listen 127.0.0.1:0 2>"$home/boot.stderr" &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 100); do [ -s "$home/state/nats.url" ] && break; sleep 0.1; done
[ -s "$home/state/nats.url" ] || { echo "razar did not start:"; cat "$home/boot.stderr"; exit 1; }
echo "== bus at $(cat "$home/state/nats.url"); the ledger's config has no port:"
cat "$home/services/ledger/ledger.conf"
echo
echo "== razar escalate ledger --error 'ledger: port missing in ledger.conf'"
"$razar" --home "$home" escalate ledger --error "ledger: port missing in ledger.conf"
echo
echo "== the ledger's config now:"
cat "$home/services/ledger/ledger.conf"
echo
echo "== logs/razar_ai_invocations.json (one JSON line per attempt, skip and escalation):"
for _ in $(seq 1 50); do grep -q '"event":"attempt".*"outcome":"healed"' "$home/logs/razar_ai_invocations.json" 2>/dev/null && break; sleep 0.1; done
cut -c1-160 "$home/logs/razar_ai_invocations.json"
echo
echo "== razar status"
"$razar" --home "$home" status
cleanup
trap - EXIT
echo
echo "== done: RAZAR shut down cleanly. Everything is in $home"
