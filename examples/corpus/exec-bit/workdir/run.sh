#!/bin/sh
# beacon: must be executable; it is run directly.
echo "beacon up"
while :; do sleep 1; done
