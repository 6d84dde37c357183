#!/bin/sh
# indexer: reads its settings from config/indexer.conf.
CONF=./confg/indexer.conf
[ -f "$CONF" ] || { echo "indexer: fatal: $CONF: No such file or directory" >&2; exit 1; }
echo "indexer up with $(cat "$CONF")"
while :; do sleep 1; done
