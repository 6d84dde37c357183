#!/bin/sh
# run.sh starts with only the base environment (no ARCHIVE_DIR).
grep -Eq 'ARCHIVE_DIR:-|^ARCHIVE_DIR=' run.sh || { echo "run.sh: ARCHIVE_DIR has no default" >&2; exit 1; }
