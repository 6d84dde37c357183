#!/bin/sh
# K2 Coder (demo): proposes a fix that does not hold (a port that is not a number),
# so RAZAR's health check rejects it and the ladder climbs on.
cat >/dev/null
conf="$RAZAR_WORKDIR/ledger.conf"
sed -i '/^port=/d' "$conf" && echo 'port=auto' >> "$conf"
printf '%s\n' '{"status": "fixed", "summary": "added port=auto to ledger.conf", "diff": "--- a/ledger.conf\n+++ b/ledger.conf\n@@ -2 +2,2 @@\n listen=127.0.0.1\n+port=auto\n"}'
