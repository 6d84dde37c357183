#!/bin/sh
# Kimi-cho (demo): a local model that can read the config but finds no safe fix.
cat >/dev/null
printf '%s\n' '{"status": "no_fix", "summary": "ledger.conf parses, but I cannot tell which port the ledger should use"}'
