#!/bin/sh
# spooler: writes its spool under spool/, which must exist.
[ -d spool ] || { echo "spooler: fatal: spool/: directory missing (create spool/)" >&2; exit 1; }
echo up > spool/state
while :; do sleep 1; done
