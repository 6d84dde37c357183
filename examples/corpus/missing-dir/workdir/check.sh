#!/bin/sh
[ -d spool ] || { echo "spool/: missing" >&2; exit 1; }
