package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// TestTwoRungProcessesShareTheWork: two `razar agent k2` processes share the
// durable consumer agent_k2; with one worker each and two attempts at once,
// each process takes one. A reload reaches both.
func TestTwoRungProcessesShareTheWork(t *testing.T) {
	t.Parallel()
	script := "#!/bin/sh\ncat >/dev/null\necho $PPID >> hosts\n" +
		"while [ ! -f release ]; do sleep 0.05; done\n" +
		"rm -f \"$RAZAR_WORKDIR/broken\"\necho '{\"status\": \"fixed\", \"summary\": \"fixed\"}'\n"
	h := home(t, `{"agents": [{"name": "k2", "backend": "exec", "command": ["sh", "agents/k2.sh"], "timeout": "60s"}]}`, map[string]string{
		"agents/k2.sh": script,
		"config/boot_config.json": `{"components": [
			{"name": "web1", "priority": 1, "workdir": "w1", "start_grace": "100ms", "command": ["sleep", "600"], "health_check": ["sh", "-c", "test ! -f broken"]},
			{"name": "web2", "priority": 1, "workdir": "w2", "start_grace": "100ms", "command": ["sleep", "600"], "health_check": ["sh", "-c", "test ! -f broken"]}]}`,
		"w1/.keep": "", "w2/.keep": "",
	})
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0", "--agents", "external")
	a1 := start(t, h, debugLog, "agent", "k2", "--workers", "1")
	a2 := start(t, h, debugLog, "agent", "k2", "--workers", "1")
	for _, a := range []*proc{a1, a2} {
		bustest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(a.out.String(), "rung is up") }, "rung process did not start:\n%s", a.out)
	}
	for _, w := range []string{"w1", "w2"} {
		if err := os.WriteFile(filepath.Join(h, w, "broken"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e1 := start(t, h, nil, "escalate", "web1", "--error", "web1: down")
	e2 := start(t, h, nil, "escalate", "web2", "--error", "web2: down")
	var pids []string
	bustest.Eventually(t, 30*time.Second, func() bool {
		data, _ := os.ReadFile(filepath.Join(h, "hosts"))
		pids = strings.Fields(string(data))
		return len(pids) == 2
	}, "two attempts were not taken at once")
	if pids[0] == pids[1] {
		t.Fatalf("both attempts went to process %s", pids[0])
	}
	if err := os.WriteFile(filepath.Join(h, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*proc{e1, e2} {
		if code := e.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("escalate exit %d:\n%s", code, e.out)
		}
	}
	out, code := runRazar(t, h, nil, "agents", "reload")
	if code != 0 || !strings.Contains(out, "reload sent") {
		t.Fatalf("agents reload: exit %d\n%s", code, out)
	}
	for _, a := range []*proc{a1, a2} {
		bustest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(a.out.String(), "reload requested") },
			"a rung process did not get the reload:\n%s", a.out)
	}
}

// debugLog shows routine chatter, such as a rung's "reload requested".
var debugLog = []string{"RAZAR_LOG_LEVEL=debug"}
