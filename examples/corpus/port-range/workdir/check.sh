#!/bin/sh
p=$(sed -n 's/^listen_port=//p' settings/net.conf)
[ "$p" -ge 1 ] 2>/dev/null && [ "$p" -le 65535 ] || { echo "settings/net.conf: listen_port=$p out of range" >&2; exit 1; }
