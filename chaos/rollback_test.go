package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// TestChaosRollbackPatchKilledIsFinishedOnceWithNothingTorn: `razar
// rollback-patch` with RAZAR running, and a SIGKILL of the CLI, or of
// RAZAR under it, at one or (full) nine moments after it starts. A CLI
// whose RAZAR died exits within seconds; the next run (or the next boot)
// finishes the rollback: app.conf restored, no temporary file left in the
// workdir, one reverted record, and the suite's invariants hold.
func TestChaosRollbackPatchKilledIsFinishedOnceWithNothingTorn(t *testing.T) {
	moments := []time.Duration{0}
	if full {
		moments = nil
		for i := range 9 {
			moments = append(moments, time.Duration(i)*25*time.Millisecond)
		}
	}
	for _, victim := range []string{"cli", "razar"} {
		for _, m := range moments {
			t.Run(fmt.Sprintf("sigkill_%s_%s", victim, m), func(t *testing.T) { killRollback(t, victim, m) })
		}
	}
}

func killRollback(t *testing.T, victim string, m time.Duration) {
	mark := marker()
	diffReply := `{"status":"fixed","summary":"port 8080","diff":"--- a/app.conf\n+++ b/app.conf\n@@ -1,2 +1,2 @@\n # app\n-port=abc\n+port=8080\n"}`
	// app starts on the patched app.conf, or on any once app/anyway exists,
	// so the rollback's restart leaves it healthy for the invariants.
	h, _ := chaosHome(t, `{"agents": [{"name": "crown", "backend": "builtin"},
		{"name": "kimicho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "60s"}]}`, 0, map[string]string{
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '" + diffReply + "'\n",
		"app/app.conf":      "# app\nport=abc\n",
		"config/boot_config.json": `{"components": [{"name": "app", "priority": 1, "workdir": "app", "start_grace": "200ms",
			"command": ["sh", "-c", "test -f anyway || grep -q '^port=8080$' app.conf || exit 1; exec sleep 600 ` + mark + `"]}]}`,
	})
	markers := map[string]string{"app": mark}
	t.Cleanup(func() {
		for _, pid := range livePIDs(markers)["app"] {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	listen := fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))
	b := boot(t, h, nil, "--nats-listen", listen)
	supervised(t, h, markers)
	if countEvents(t, h, bus.EventApplied) != 1 {
		t.Fatalf("no applied patch to roll back")
	}
	if err := os.WriteFile(filepath.Join(h, "app/anyway"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	rb := start(t, h, nil, "rollback-patch", "app")
	<-time.After(m) // the point of the scenario: where the kill lands
	switch victim {
	case "cli":
		_ = rb.cmd.Process.Signal(syscall.SIGKILL)
		rb.wait(t, 10*time.Second)
	case "razar":
		b.kill(t)
		// Well under the 2 minutes a CLI used to wait on a dead RAZAR.
		rb.wait(t, 15*time.Second)
		b = boot(t, h, nil, "--nats-listen", listen)
		supervised(t, h, markers) // its orchestrator answers before the CLI runs again
	}
	again := start(t, h, nil, "rollback-patch", "app")
	if code := again.wait(t, 60*time.Second); code != 0 && !strings.Contains(again.out.String(), "nothing to roll back") {
		t.Fatalf("rollback-patch run again: exit %d\n%s", code, again.out)
	}
	if conf, _ := os.ReadFile(filepath.Join(h, "app/app.conf")); string(conf) != "# app\nport=abc\n" {
		t.Errorf("app.conf after the rollback: %q, want it restored", conf)
	}
	entries, _ := os.ReadDir(filepath.Join(h, "app"))
	for _, e := range entries {
		if n := e.Name(); n != "app.conf" && n != "anyway" {
			t.Errorf("app/ holds %s after the rollback: a torn or stray file", n)
		}
	}
	bustest.Eventually(t, 20*time.Second, func() bool { return countEvents(t, h, bus.EventReverted) >= 1 },
		"no reverted record in logs/patch_history.jsonl")
	finish(t, h, b, markers, 1)
	if n := countEvents(t, h, bus.EventReverted); n != 1 {
		t.Errorf("%d reverted records in logs/patch_history.jsonl, want 1", n)
	}
}
