package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// TestChaosEveryIncidentEndsOnceWithNothingLostOrOrphaned runs every
// scenario, each injecting its faults into real RAZAR processes, and holds
// each to the same invariants (Check, Procs); the table says what each
// injected and what it found.
func TestChaosEveryIncidentEndsOnceWithNothingLostOrOrphaned(t *testing.T) {
	t.Run("sigkill_boot_mid_ladder", killBootMidLadder)
	t.Run("sigkill_boot_after_applied", killBootAfterApplied)
	t.Run("sigkill_rung_process_mid_attempt", killRungProcess)
	t.Run("nats_server_restart", restartNATS)
	t.Run("cluster_node_replaced", replaceClusterNode)
	t.Run("full_logs_disk", fullLogsDisk)
	t.Run("many_concurrent_incidents", manyIncidents)
	t.Run("clock_jumps_in_process", clockJumps)
	t.Log("\n" + printTable())
}

const fixScript = "#!/bin/sh\ncat >/dev/null\nrm -f \"$RAZAR_WORKDIR/broken\"\necho '{\"status\": \"fixed\", \"summary\": \"removed broken\"}'\n"

// hangScript records its run and hangs while the process that ran it lives
// (a SIGKILLed rung leaves no hanging script behind).
const hangScript = "#!/bin/sh\ncat >/dev/null\necho run >> \"@HOME@/kimicho.runs\"\n" +
	"while kill -0 $PPID 2>/dev/null; do sleep 0.1; done\necho '{\"status\": \"no_fix\", \"summary\": \"my rung is gone\"}'\n"

const ladderRoster = `{"agents": [
  {"name": "crown", "backend": "builtin"},
  {"name": "kimicho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "3s"},
  {"name": "k2", "backend": "exec", "command": ["sh", "agents/fix.sh"], "timeout": "20s"}
]}`

// killBootMidLadder: SIGKILL of `razar boot` while kimicho works on an
// attempt, at one or (full) ten moments of it, then a boot on the same
// store: the incident resumes, kimicho's attempt is counted once (the
// restart hands it back at once, so kimicho may take it again within its
// deadline, never a third time), k2 heals.
func killBootMidLadder(t *testing.T) {
	moments := []time.Duration{0}
	if full {
		moments = nil
		for i := range 10 {
			moments = append(moments, time.Duration(i)*250*time.Millisecond)
		}
	}
	for _, m := range moments {
		t.Run(m.String(), func(t *testing.T) {
			h, markers := chaosHome(t, ladderRoster, 1, map[string]string{"agents/kimicho.sh": hangScript, "agents/fix.sh": fixScript})
			listen := fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))
			first := boot(t, h, nil, "--nats-listen", listen)
			bustest.Eventually(t, 60*time.Second, func() bool { return lines(filepath.Join(h, "kimicho.runs")) == 1 },
				"kimicho never started; output:\n%s", bustest.Lazy(func() string { return tail(first.out.String(), 6000) }))
			<-time.After(m) // the point of the scenario: where the kill lands
			first.kill(t)
			second := boot(t, h, nil, "--nats-listen", listen)
			st := live(t, h, "")
			waitEnded(t, st, 1, 60*time.Second)
			if n := lines(filepath.Join(h, "kimicho.runs")); n < 1 || n > 2 {
				t.Errorf("kimicho's attempt ran %d times across the kill, want once, or twice when resumed", n)
			}
			for _, r := range incidents(st) {
				k := 0
				for _, a := range r.Attempts {
					if a.Rung == "kimicho" {
						k++
					}
				}
				if k != 1 {
					t.Errorf("incident %s has %d kimicho attempts, want the one the kill cut short counted once", r.ID, k)
				}
			}
			finish(t, h, second, markers, 1)
		})
	}
}

// killBootAfterApplied: SIGKILL of `razar boot` 0 (and, full, 0.05 to
// 0.45 s) after a patch's applied record reaches logs/patch_history.jsonl,
// then a boot on the same store: the fix is applied once and heals.
func killBootAfterApplied(t *testing.T) {
	moments := []time.Duration{0}
	if full {
		moments = nil
		for i := range 10 {
			moments = append(moments, time.Duration(i)*50*time.Millisecond)
		}
	}
	diffReply := `{"status":"fixed","summary":"port 8080","diff":"--- a/app.conf\n+++ b/app.conf\n@@ -1,2 +1,2 @@\n # app\n-port=abc\n+port=8080\n"}`
	for _, m := range moments {
		t.Run(m.String(), func(t *testing.T) {
			mark := marker()
			h, _ := chaosHome(t, `{"agents": [{"name": "crown", "backend": "builtin"},
				{"name": "kimicho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "60s"}]}`, 0, map[string]string{
				"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\necho run >> kimicho.runs\nprintf '%s\\n' '" + diffReply + "'\n",
				"app/app.conf":      "# app\nport=abc\n",
				"app/check.sh":      "#!/bin/sh\ngrep -Eq '^port=[0-9]+$' app.conf\n",
				"config/boot_config.json": `{"components": [{"name": "app", "priority": 1, "workdir": "app", "start_grace": "200ms",
					"command": ["sh", "-c", "grep -q '^port=8080$' app.conf || exit 1; exec sleep 600 ` + mark + `"],
					"validate": ["sh", "./check.sh"]}]}`,
			})
			markers := map[string]string{"app": mark}
			t.Cleanup(func() {
				for _, pid := range livePIDs(markers)["app"] {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			listen := fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))
			first := boot(t, h, nil, "--nats-listen", listen)
			bustest.Eventually(t, 60*time.Second, func() bool {
				data, _ := os.ReadFile(filepath.Join(h, "logs/patch_history.jsonl"))
				return strings.Contains(string(data), `"event":"applied"`)
			}, "no applied record; output:\n%s", bustest.Lazy(func() string { return tail(first.out.String(), 6000) }))
			<-time.After(m)
			first.kill(t)
			second := boot(t, h, nil, "--nats-listen", listen)
			st := live(t, h, "")
			waitEnded(t, st, 1, 60*time.Second)
			if recs := incidents(st); len(recs) != 1 || recs[0].State != "healed" {
				t.Errorf("incidents after the kill: %s, want one healed", describe(recs))
			}
			if conf, _ := os.ReadFile(filepath.Join(h, "app/app.conf")); string(conf) != "# app\nport=8080\n" {
				t.Errorf("app.conf after the restart: %q", conf)
			}
			if n := lines(filepath.Join(h, "kimicho.runs")); n != 1 {
				t.Errorf("kimicho ran %d times, want once", n)
			}
			finish(t, h, second, markers, 1)
			if n := countEvents(t, h, bus.EventApplied); n != 1 {
				t.Errorf("%d applied records in logs/patch_history.jsonl, want 1 (the fix applied once)", n)
			}
		})
	}
}

// countEvents counts the records of ev in logs/patch_history.jsonl.
func countEvents(t *testing.T, h string, ev bus.Event) int {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(h, "logs/patch_history.jsonl"))
	return strings.Count(string(data), `"event":"`+string(ev)+`"`)
}

// killRungProcess: two `razar agent k2` processes share the rung; the one
// that took the attempt is SIGKILLed mid-attempt. The attempt goes to the
// other process (redelivered, or timed out and tried again) and heals.
func killRungProcess(t *testing.T) {
	kills := 1
	if full {
		kills = 3
	}
	// The first `kills` attempts hang in whichever process takes them; the
	// next one fixes.
	script := "#!/bin/sh\ncat >/dev/null\necho $PPID >> \"@HOME@/hosts\"\n" +
		"if [ \"$(wc -l < \"@HOME@/hosts\")\" -le " + strconv.Itoa(kills) + " ]; then\n" +
		"  while kill -0 $PPID 2>/dev/null; do sleep 0.1; done; exit 1\nfi\n" +
		"rm -f \"$RAZAR_WORKDIR/broken\"\necho '{\"status\": \"fixed\", \"summary\": \"fixed\"}'\n"
	h, markers := chaosHome(t, `{"agents": [{"name": "k2", "backend": "exec", "command": ["sh", "agents/k2.sh"], "timeout": "4s"}]}`, 1,
		map[string]string{"agents/k2.sh": script})
	b := boot(t, h, nil, "--nats-listen", "127.0.0.1:0", "--agents", "external")
	rungs := map[int]*proc{}
	spawn := func() {
		a := start(t, h, nil, "agent", "k2", "--workers", "1")
		bustest.Eventually(t, 30*time.Second, func() bool { return strings.Contains(a.out.String(), "rung is up") },
			"rung process did not start:\n%s", a.out)
		rungs[a.cmd.Process.Pid] = a
	}
	spawn()
	spawn()
	for k := 1; k <= kills; k++ {
		var host int
		bustest.Eventually(t, 60*time.Second, func() bool {
			data, _ := os.ReadFile(filepath.Join(h, "hosts"))
			f := strings.Fields(string(data))
			if len(f) < k {
				return false
			}
			host, _ = strconv.Atoi(f[k-1])
			return true
		}, "attempt %d never reached a rung process", k)
		a, ok := rungs[host]
		if !ok {
			t.Fatalf("attempt %d ran under pid %d, not a rung process of this test", k, host)
		}
		a.kill(t)
		delete(rungs, host)
		spawn() // the next kill again has two processes to choose from
	}
	st := live(t, h, "")
	waitEnded(t, st, 1, 90*time.Second)
	if recs := incidents(st); len(recs) != 1 || recs[0].State != "healed" {
		t.Errorf("incidents after %d rung kills: %s, want one healed", kills, describe(recs))
	}
	finish(t, h, b, markers, kills)
}

// manyIncidents: N components fail at once (10, full 40); every incident
// ends healed.
func manyIncidents(t *testing.T) {
	n := 10
	if full {
		n = 40
	}
	h, markers := chaosHome(t, `{"agents": [{"name": "crown", "backend": "builtin"},
		{"name": "k2", "backend": "exec", "command": ["sh", "agents/fix.sh"], "timeout": "30s"}]}`, n, map[string]string{"agents/fix.sh": fixScript})
	b := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	st := live(t, h, "")
	waitEnded(t, st, n, 180*time.Second)
	for _, r := range incidents(st) {
		if r.State != "healed" {
			t.Errorf("incident %s of %s ended %s, want healed", r.ID, r.Component, r.State)
		}
	}
	finish(t, h, b, markers, n)
}
