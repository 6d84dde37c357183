#!/usr/bin/env bash
# The RAZAR demo: boot three components on a copy of examples/demo. The
# ledger's config has a typo (prot=8450), so it will not start; local
# restarts cannot help, so RAZAR escalates it up the ladder of repair
# agents. Kimi-cho (a local script) finds nothing; K2 Coder, an openai rung,
# is served by the stand-in model (bin/razar-standin: internal/standin, a
# stand-in, not a model) on a loopback port, which reads what RAZAR shows
# it and proposes a diff; RAZAR places and validates it, boots the rest,
# and shuts down cleanly (--once). The same roster works against a real
# endpoint: see "Point the rungs at a real model" in the README.
#
# Then the same failure happens twice more (docs/FIXES.md): with the fix
# memory the second occurrence heals from the remembered fix, no rung
# asked; with RAZAR_FIX_MEMORY=off the third climbs the ladder again. The
# demo prints each occurrence's rung calls, tokens and time to heal.
#
# The stand-in writes hunk headers without line numbers (@@ ... @@), as
# models often do; RAZAR places the hunk by its content and the patch
# record notes how. STANDIN_SLOPPY=0 makes it write exact headers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
razar="$root/bin/razar"
standin="$root/bin/razar-standin"
home=$(mktemp -d "${TMPDIR:-/tmp}/razar-demo.XXXXXX")
cp -R "$root/examples/demo/." "$home/"
export RAZAR_METRICS_PORT=${RAZAR_METRICS_PORT:-0}
export RAZAR_CHAKRA_PORT=${RAZAR_CHAKRA_PORT:-0}

# The stand-in model, on a free loopback port, asking for a bearer key
# like a hosted API would. The key is a made-up one for the demo.
export RAZAR_DEMO_KEY="demo-key-not-a-secret"
sloppy=()
[ "${STANDIN_SLOPPY:-1}" = 1 ] && sloppy=(-sloppy)
"$standin" -listen 127.0.0.1:0 -url-file "$home/standin.url" -key-env RAZAR_DEMO_KEY "${sloppy[@]}" >"$home/standin.out" 2>&1 &
standin_pid=$!
trap 'kill "$standin_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  [ -s "$home/standin.url" ] && break
  kill -0 "$standin_pid" 2>/dev/null || { cat "$home/standin.out"; exit 1; }
  sleep 0.1
done
endpoint=$(cat "$home/standin.url")
export KIMI2_ENDPOINT="$endpoint" AIRSTAR_ENDPOINT="$endpoint" RSTAR_ENDPOINT="$endpoint"
export KIMI2_API_KEY="$RAZAR_DEMO_KEY" AIRSTAR_API_KEY="$RAZAR_DEMO_KEY" RSTAR_API_KEY="$RAZAR_DEMO_KEY"

echo "== RAZAR demo home: $home"
echo "== the stand-in model serves K2 Coder, Air Star and rStar at $endpoint"
echo "== the ledger's config has a typo:"
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
  jq -r '[.timestamp_iso[11:19], .event, .agent_display, (.status // ""), (.summary // .error // ""),
    (if .usage then "tokens \(.usage.prompt_tokens // 0)+\(.usage.completion_tokens // 0)" else "" end)] | @tsv' "$home/logs/razar_ai_invocations.json"
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
if command -v jq >/dev/null 2>&1; then
  echo
  echo "== the diff K2 Coder sent and how RAZAR placed it (the patch record, razar audit --json):"
  "$razar" --home "$home" audit --component ledger --json |
    jq -r 'select(.event == "patch") | (.diff | rtrimstr("\n") | split("\n") | map("   " + .) | join("\n")), ((.placement // ["placed exactly as written"]) | map("   placement: " + .) | join("\n"))'
fi
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
        tokens: (map(select(.event == "attempt") | (.usage.prompt_tokens // 0) + (.usage.completion_tokens // 0)) | add // 0),
        memory: ((map(select(.event == "attempt" and .agent == "memory"))[0].outcome) // "not tried")
      }) | sort_by(.opened) | last |
      "\($name)\t\(.end.event)\trung calls: \(.rungs)\ttokens: \(.tokens)\tmemory: \(.memory)\ttime to heal: \(((.end.timestamp - .opened) * 1000 | floor)) ms"'
}
if ! command -v jq >/dev/null 2>&1; then
  echo "== jq is missing: the recurrence part of the demo needs it"
  exit 0
fi
results=$(measure "1st occurrence (ladder, learns the fix)")

# rerun breaks the ledger's config as it was and boots again in the same home.
# The recurrence comes seconds after the heal: within the settle window
# (RAZAR_SETTLE_WINDOW, 5m) RAZAR would take it for a heal that did not hold
# and reopen the incident; the demo narrows the window to show a recurrence.
rerun() {
  cp "$root/examples/demo/services/ledger/ledger.conf" "$home/services/ledger/ledger.conf"
  set +e
  RAZAR_SETTLE_WINDOW=1ms "$razar" --home "$home" boot --once --retries 1 --nats-listen 127.0.0.1:0 >"$home/logs/demo-run-$1.out" 2>&1
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
