#!/bin/sh
# archiver: keeps its archive under $ARCHIVE_DIR.
: "${ARCHIVE_DIR:?ARCHIVE_DIR is not set}"
mkdir -p "$ARCHIVE_DIR"
echo up > "$ARCHIVE_DIR/state"
while :; do sleep 1; done
