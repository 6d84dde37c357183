#!/bin/sh
# api: reads conf/settings.json.
python3 -c 'import json,sys; json.load(open("conf/settings.json"))' || { echo "api: fatal: cannot load settings" >&2; exit 1; }
echo "api up"
while :; do sleep 1; done
