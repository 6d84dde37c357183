package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/wait"
	"github.com/razar/razar/jetstream/bustest"
)

func TestRollbackPatchWithoutRazarRunning(t *testing.T) {
	t.Parallel()
	const broken = "# app\nport=abc\n"
	diffReply := `{"status":"fixed","summary":"port 8080","diff":"--- a/app.conf\n+++ b/app.conf\n@@ -1,2 +1,2 @@\n # app\n-port=abc\n+port=8080\n"}`
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"},
		{"name": "kimicho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"]}]}`, map[string]string{
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '" + diffReply + "'\n",
		"app/app.conf":      broken,
		"app/check.sh":      "#!/bin/sh\ngrep -Eq '^port=[0-9]+$' app.conf\n",
		"config/boot_config.json": `{"components": [{"name": "app", "priority": 1, "workdir": "app", "start_grace": "200ms",
			"command": ["sh", "-c", "grep -q '^port=8080$' app.conf || exit 1; exec sleep 600"],
			"validate": ["sh", "./check.sh"]}]}`,
	})
	p := start(t, h, nil, "boot", "--once", "--retries", "0", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("boot exit %d:\n%s", code, p.out)
	}
	conf, _ := os.ReadFile(filepath.Join(h, "app/app.conf"))
	if !strings.Contains(string(conf), "port=8080") {
		t.Fatalf("not patched:\n%s", conf)
	}
	_ = os.Remove(filepath.Join(h, "config/razar_ai_agents.bak"))
	out, code := runRazar(t, h, nil, "rollback-patch", "app")
	if code != 0 || !strings.Contains(out, "rolled back") {
		t.Fatalf("rollback-patch: exit %d\n%s", code, out)
	}
	bak, _ := os.ReadFile(filepath.Join(h, "config/razar_ai_agents.bak"))
	roster, _ := os.ReadFile(filepath.Join(h, "config/razar_ai_agents.json"))
	if len(bak) == 0 || string(bak) != string(roster) {
		t.Fatalf("boot snapshot not updated by the rollback:\n%s", bak)
	}
	conf, _ = os.ReadFile(filepath.Join(h, "app/app.conf"))
	if string(conf) != broken {
		t.Fatalf("app.conf after rollback:\n%q", conf)
	}
	hist := jsonLines(t, filepath.Join(h, "logs/patch_history.jsonl"))
	var events []string
	for _, r := range hist {
		events = append(events, r["event"].(string))
		if r["event"] == "reverted" {
			files, _ := r["files"].([]any)
			if len(files) != 1 {
				t.Fatalf("reverted record files: %v", r)
			}
		}
	}
	if strings.Join(events, " ") != "applied reverted" {
		t.Fatalf("patch history events: %v", events)
	}
	if patches := jsonLines(t, filepath.Join(h, "logs/razar_ai_patches.json")); len(patches) != 1 || patches[0]["validation"] != "passed" {
		t.Fatalf("proposals: %v", patches)
	}
	out, code = runRazar(t, h, nil, "rollback-patch", "app")
	if code != 1 || !strings.Contains(out, "nothing to roll back") {
		t.Fatalf("second rollback: exit %d\n%s", code, out)
	}
}

// TestApproveThenRollbackWhileRunning: a validated patch for a component
// with approval: manual waits for `razar approve`; once applied, `razar
// rollback-patch` restores the files and restarts the component through
// the running RAZAR.
func TestApproveThenRollbackWhileRunning(t *testing.T) {
	t.Parallel()
	diffReply := `{"status":"fixed","summary":"note","diff":"--- a/notes.txt\n+++ b/notes.txt\n@@ -1 +1 @@\n-old\n+new\n"}`
	h := home(t, `{"agents": [{"name": "kimicho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "60s"}]}`, map[string]string{
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '" + diffReply + "'\n",
		"app/notes.txt":     "old\n",
		"config/boot_config.json": `{"components": [{"name": "app", "priority": 1, "workdir": "app", "start_grace": "100ms",
			"approval": "manual", "command": ["sleep", "600"]}]}`,
	})
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	esc := start(t, h, nil, "escalate", "app", "--error", "app: stale notes")
	var id string
	bustest.Eventually(t, 30*time.Second, func() bool {
		for _, r := range jsonLines(t, filepath.Join(h, "logs/razar_ai_patches.json")) {
			if r["event"] == "pending" {
				id, _ = r["patch_id"].(string)
			}
		}
		return id != ""
	}, "no pending patch in logs/razar_ai_patches.json")
	if data, _ := os.ReadFile(filepath.Join(h, "app/notes.txt")); string(data) != "old\n" {
		t.Fatal("a pending patch touched the workdir")
	}
	if out, code := runRazar(t, h, nil, "approve", "app", "p-unknown"); code != 1 || !strings.Contains(out, "no patch p-unknown") {
		t.Fatalf("approve of an unknown patch: exit %d\n%s", code, out)
	}
	if out, code := runRazar(t, h, nil, "approve", "app", id); code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	if code := esc.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("escalate exit %d:\n%s", code, esc.out)
	}
	if data, _ := os.ReadFile(filepath.Join(h, "app/notes.txt")); string(data) != "new\n" {
		t.Fatalf("notes.txt after approval: %q", data)
	}
	out, code := runRazar(t, h, nil, "rollback-patch", "app", "--patch", id)
	if code != 0 || !strings.Contains(out, "restarted and healthy") {
		t.Fatalf("rollback-patch while running: exit %d\n%s", code, out)
	}
	if data, _ := os.ReadFile(filepath.Join(h, "app/notes.txt")); string(data) != "old\n" {
		t.Fatalf("notes.txt after rollback: %q", data)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		var ev []string
		for _, r := range jsonLines(t, filepath.Join(h, "logs/patch_history.jsonl")) {
			ev = append(ev, r["event"].(string))
		}
		return strings.Join(ev, " ") == "applied reverted"
	}, "patch history is not applied, reverted")
}

// TestSigkillJustAfterTheAppliedRecordHealsOnRestartWithTheFixAppliedOnce
// SIGKILLs razar boot 0, 0.15 and 0.4 s after a patch's applied record
// reaches the stream (its mirror in logs/patch_history.jsonl), while the
// patched component is being verified, and boots again on the same store:
// the resumed attempt finds the patch applied, verifies it and heals the
// incident. No conflict, no second application, no quarantine.
func TestSigkillJustAfterTheAppliedRecordHealsOnRestartWithTheFixAppliedOnce(t *testing.T) {
	t.Parallel()
	const fixed = "# app\nport=8080\n"
	diffReply := `{"status":"fixed","summary":"port 8080","diff":"--- a/app.conf\n+++ b/app.conf\n@@ -1,2 +1,2 @@\n # app\n-port=abc\n+port=8080\n"}`
	for _, delay := range []time.Duration{0, 150 * time.Millisecond, 400 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"},
				{"name": "kimicho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "60s"}]}`, map[string]string{
				"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\necho run >> kimicho.runs\nprintf '%s\\n' '" + diffReply + "'\n",
				"app/app.conf":      "# app\nport=abc\n",
				"app/check.sh":      "#!/bin/sh\ngrep -Eq '^port=[0-9]+$' app.conf\n",
				"config/boot_config.json": `{"components": [{"name": "app", "priority": 1, "workdir": "app", "start_grace": "200ms",
					"command": ["sh", "-c", "grep -q '^port=8080$' app.conf || exit 1; echo $$ >> ../app.pids; exec sleep 600"],
					"validate": ["sh", "./check.sh"]}]}`,
			})
			// A SIGKILL leaves the component running, and a failed test may
			// leave any of its runs: each writes its pid for the clean-up.
			t.Cleanup(func() {
				pids, _ := os.ReadFile(filepath.Join(h, "app.pids"))
				for _, f := range strings.Fields(string(pids)) {
					if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
						_ = syscall.Kill(-pid, syscall.SIGKILL)
					}
				}
			})
			listen := fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))
			first := start(t, h, nil, "boot", "--nats-listen", listen)
			bustest.Eventually(t, 60*time.Second, func() bool {
				for _, r := range jsonLines(t, filepath.Join(h, "logs/patch_history.jsonl")) {
					if r["event"] == "applied" {
						return true
					}
				}
				return false
			}, "no applied record; output:\n%s", first.out)
			<-time.After(delay) // the point of the test: where the kill lands
			if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			first.wait(t, 10*time.Second)

			boot(t, h, nil, "--nats-listen", listen)
			bustest.Eventually(t, 60*time.Second, func() bool {
				for _, r := range jsonLines(t, filepath.Join(h, "logs/razar_ai_invocations.json")) {
					if r["event"] == "attempt" && r["agent"] == "kimicho" && r["outcome"] != nil {
						return true
					}
				}
				return false
			}, "kimicho's attempt never finished after the restart")
			waitHealthy(t, h, "app")

			if conf, _ := os.ReadFile(filepath.Join(h, "app/app.conf")); string(conf) != fixed {
				t.Fatalf("app.conf after the restart: %q, want %q", conf, fixed)
			}
			if runs, _ := os.ReadFile(filepath.Join(h, "kimicho.runs")); strings.Count(string(runs), "run") != 1 {
				t.Fatalf("kimicho ran %d times, want once", strings.Count(string(runs), "run"))
			}
			// The incident's healed record follows kimicho's attempt record:
			// wait for the whole ledger, which must never hold anything else.
			const want = "attempt:crown:no_fix applied attempt:kimicho:healed healed"
			wait.For(t, 30*time.Second, func() error {
				out, code := runRazar(t, h, nil, "audit", "--json", "--component", "app")
				if code != 0 {
					t.Fatalf("audit: exit %d\n%s", code, out)
				}
				var got []string
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					var r bus.AuditRecord
					if err := json.Unmarshal([]byte(line), &r); err != nil {
						t.Fatalf("audit line %q: %v", line, err)
					}
					switch r.Event {
					case bus.EventApplied, bus.EventRejected, bus.EventReverted, bus.EventHealed, bus.EventFailed:
						got = append(got, string(r.Event))
					case bus.EventAttempt:
						got = append(got, fmt.Sprintf("attempt:%s:%s", r.Agent, r.Outcome))
					}
				}
				if g := strings.Join(got, " "); g != want {
					if !strings.HasPrefix(want, g) { // records come in order: this one never heals
						t.Fatalf("audit after the restart: %s\nwant: %s", g, want)
					}
					return fmt.Errorf("audit after the restart: %s\nwant: %s", g, want)
				}
				return nil
			})
		})
	}
}
