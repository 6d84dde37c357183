#!/bin/sh
# cache: needs every setting in config.yaml as "key: value".
sh ./check.sh || exit 1
echo "cache up"
while :; do sleep 1; done
