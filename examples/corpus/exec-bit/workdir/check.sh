#!/bin/sh
[ -x run.sh ] || { echo "run.sh: not executable" >&2; exit 1; }
