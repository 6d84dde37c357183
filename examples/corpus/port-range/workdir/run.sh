#!/bin/sh
# gateway: listens on the port in settings/net.conf.
. ./settings/net.conf
if [ "$listen_port" -lt 1 ] || [ "$listen_port" -gt 65535 ]; then
  echo "gateway: fatal: listen: invalid port" >&2; exit 1
fi
echo "gateway up on $listen_port"
while :; do sleep 1; done
