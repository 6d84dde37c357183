#!/bin/sh
# Health check and validator: the ledger reads a listen address and a
# numeric port, and refuses any setting it does not know.
n=0
while IFS= read -r line; do
  n=$((n + 1))
  case "$line" in
  '' | '#'*) ;;
  listen=* | port=*) ;;
  *) echo "ledger.conf:$n: $line: unknown setting (the ledger reads listen= and port=)" >&2; exit 1 ;;
  esac
done <ledger.conf
grep -q '^listen=' ledger.conf || { echo "ledger.conf: no listen address" >&2; exit 1; }
grep -Eq '^port=[0-9]+$' ledger.conf || { echo "ledger.conf: port missing or not a number" >&2; exit 1; }
