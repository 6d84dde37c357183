#!/bin/sh
# Air Star (demo): reads the rejected attempt in its context and refines it.
ctx=$(cat)
conf="$RAZAR_WORKDIR/ledger.conf"
case "$ctx" in
*port=auto*) hint="K2 Coder's port=auto was rejected by the health check; using the ledger's documented port 8450" ;;
*) hint="setting the ledger's documented port 8450" ;;
esac
sed -i '/^port=/d' "$conf" && echo 'port=8450' >> "$conf"
printf '{"status": "fixed", "summary": "%s", "diff": "--- a/ledger.conf\\n+++ b/ledger.conf\\n@@ -2 +2,2 @@\\n listen=127.0.0.1\\n+port=8450\\n"}\n' "$hint"
