#!/bin/sh
# Health check: the ledger needs a listen address and a numeric port.
grep -q '^listen=' ledger.conf || { echo "ledger.conf: no listen address" >&2; exit 1; }
grep -Eq '^port=[0-9]+$' ledger.conf || { echo "ledger.conf: port missing or not a number" >&2; exit 1; }
