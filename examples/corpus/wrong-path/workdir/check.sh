#!/bin/sh
# The settings file run.sh names exists.
f=$(sed -n 's/^CONF=//p' run.sh)
[ -f "$f" ] || { echo "run.sh: CONF=$f: no such file" >&2; exit 1; }
