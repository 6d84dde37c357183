#!/bin/sh
# Every line is a comment or "key: value".
bad=$(grep -nEv '^[[:space:]]*(#.*)?$|^[a-z_]+:[[:space:]]+[^[:space:]]' config.yaml | head -n 1)
[ -z "$bad" ] || { echo "config.yaml: line ${bad%%:*}: not key: value: ${bad#*:}" >&2; exit 1; }
grep -Eq '^port:[[:space:]]+[0-9]+$' config.yaml || { echo "config.yaml: no port" >&2; exit 1; }
