#!/bin/sh
# A stand-in service that needs the ledger: it writes to its outbox.
echo "courier up" > outbox
while :; do sleep 1; done
