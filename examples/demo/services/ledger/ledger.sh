#!/bin/sh
# A stand-in service: it refuses to start on a broken config, else idles.
sh ./check.sh || exit 1
echo "ledger up on $(grep '^port=' ledger.conf)"
while :; do sleep 1; done
