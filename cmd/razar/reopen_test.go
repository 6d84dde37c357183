package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// TestHealThatNeverHoldsReopensOneIncidentThenQuarantines: app fails right
// after each heal (Kimi-cho's fix bumps app/count, which app accepts, then
// app exits 2 s later). Each failure within the settle window reopens the
// one incident instead of opening a new one; after 3 reopenings the next
// failure ends it failed and quarantines app, so Kimi-cho is paid 4 times,
// not forever.
func TestHealThatNeverHoldsReopensOneIncidentThenQuarantines(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"},
		{"name": "kimicho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "60s"}]}`, map[string]string{
		"agents/kimicho.sh": `#!/bin/sh
cat >/dev/null
echo run >> "$RAZAR_WORKDIR/../kimicho.calls"
n=$(cat "$RAZAR_WORKDIR/count")
printf '{"status":"fixed","summary":"count %s","diff":"--- a/count\\n+++ b/count\\n@@ -1 +1 @@\\n-%s\\n+%s\\n"}\n' $((n+1)) $n $((n+1))
`,
		"app/count": "0\n",
		"config/boot_config.json": `{"components": [{"name": "app", "priority": 1, "workdir": "app", "start_grace": "200ms",
			"command": ["sh", "-c", "grep -qvx 0 count || exit 1; sleep 2; exit 1"]}]}`,
	})
	boot(t, h, []string{"RAZAR_SETTLE_WINDOW=5m"}, "--retries", "0", "--nats-listen", "127.0.0.1:0")
	bustest.Eventually(t, 120*time.Second, func() bool {
		out, _ := runRazarQuiet(h, "status", "app")
		return strings.Contains(out, "quarantined")
	}, "app was never quarantined; status:\n%s", bustest.Lazy(func() string { out, _ := runRazarQuiet(h, "status", "app"); return out }))

	audit, err := razarAs(h, "operator", "audit", "--component", "app", "--json").Output()
	if err != nil {
		t.Fatalf("razar audit: %v\n%s", err, audit)
	}
	a := string(audit)
	if n := strings.Count(a, `"event":"opened"`); n != 1 {
		t.Fatalf("%d opened records, want 1 incident reopened:\n%s", n, a)
	}
	if n := strings.Count(a, `"event":"reopened"`); n != 4 {
		t.Fatalf("%d reopened records, want 4 (3 reopenings, then the failure that quarantines):\n%s", n, a)
	}
	if n := strings.Count(a, `"event":"failed"`); n != 1 {
		t.Fatalf("%d failed records, want the one that quarantined app", n)
	}
	calls, _ := os.ReadFile(filepath.Join(h, "kimicho.calls"))
	if n := strings.Count(string(calls), "run"); n != 4 {
		t.Fatalf("Kimi-cho ran %d times, want 4: one per heal, bounded", n)
	}
}
