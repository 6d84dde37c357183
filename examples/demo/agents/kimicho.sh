#!/bin/sh
# Kimi-cho (demo): a local script standing in for the local model; it finds
# no safe fix, so the ladder climbs to K2 Coder, an openai rung.
cat >/dev/null
printf '%s\n' '{"status": "no_fix", "summary": "ledger.conf has a setting I do not know; I cannot tell which the ledger wants"}'
