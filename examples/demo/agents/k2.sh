#!/bin/sh
# K2 Coder (demo): proposes a patch that RAZAR's validation rejects
# (port=auto is not a number), so the ladder climbs on.
cat >/dev/null
printf '%s\n' '{"status": "fixed", "summary": "add port=auto to ledger.conf", "diff": "--- a/ledger.conf\n+++ b/ledger.conf\n@@ -1,2 +1,3 @@\n # ledger settings\n listen=127.0.0.1\n+port=auto\n"}'
