#!/bin/sh
# web: serves on the port app.conf names.
port=$(sed -n 's/^port=//p' app.conf)
[ -n "$port" ] || { echo "web: fatal: no port configured (expected port=N in app.conf)" >&2; exit 1; }
echo "web up on $port"
while :; do sleep 1; done
