#!/bin/sh
grep -Eq '^port=[0-9]+$' app.conf || { echo "app.conf: port missing or not a number" >&2; exit 1; }
