#!/bin/sh
# store: reads app.ini.
python3 -c 'import configparser; c = configparser.ConfigParser(); c.read("app.ini"); c["server"]["port"]' || { echo "store: fatal: app.ini unreadable" >&2; exit 1; }
echo "store up"
while :; do sleep 1; done
