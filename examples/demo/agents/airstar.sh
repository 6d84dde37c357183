#!/bin/sh
# Air Star (demo): reads the rejected patch in its context and refines it.
# RAZAR validates the patch in a private copy, applies it with a backup,
# and relaunches the ledger to see that it holds.
ctx=$(cat)
case "$ctx" in
*port=auto*) hint="K2 Coder's port=auto failed validation; refined to the ledger's documented port 8450" ;;
*) hint="set the ledger's documented port 8450" ;;
esac
printf '{"status": "fixed", "summary": "%s", "diff": "--- a/ledger.conf\\n+++ b/ledger.conf\\n@@ -1,2 +1,3 @@\\n # ledger settings\\n listen=127.0.0.1\\n+port=8450\\n"}\n' "$hint"
