package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// state reads logs/razar_state.json.
func state(t *testing.T, h string) map[string]map[string]any {
	t.Helper()
	var st struct {
		Components []map[string]any `json:"components"`
	}
	data, err := os.ReadFile(filepath.Join(h, "logs/razar_state.json"))
	if err != nil || json.Unmarshal(data, &st) != nil {
		return nil
	}
	out := map[string]map[string]any{}
	for _, c := range st.Components {
		out[c["name"].(string)] = c
	}
	return out
}

func statusOf(t *testing.T, h, name string) string {
	if c := state(t, h)[name]; c != nil {
		s, _ := c["status"].(string)
		return s
	}
	return ""
}

func alivePID(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestLifecycleAndShutdown: components are stopped and started through
// `razar stop|start` and through `nats req`, every command is audited, and
// after SIGTERM to RAZAR no component process is left running.
func TestLifecycleAndShutdown(t *testing.T) {
	t.Parallel()
	nats := natsCLI(t)
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, map[string]string{
		"config/boot_config.json": `{"components": [
			{"name": "web", "priority": 1, "workdir": "web", "start_grace": "200ms",
			 "command": ["sh", "-c", "sleep 600 & echo $! > child; wait"]},
			{"name": "db", "priority": 0, "workdir": "web", "start_grace": "200ms", "command": ["sleep", "600"],
			 "health_check": {"tcp": "127.0.0.1:1"}}]}`,
	})
	// db's probe can never pass: it must not block web (it is quarantined and boot halts).
	// Use a home without db for the happy path.
	_ = os.WriteFile(filepath.Join(h, "config/boot_config.json"), []byte(`{"components": [
		{"name": "web", "priority": 1, "workdir": "web", "start_grace": "200ms",
		 "command": ["sh", "-c", "trap '' TERM; sleep 600 & echo $! > child; wait"]}]}`), 0o644)
	p, url := boot(t, h, []string{"RAZAR_HEALTH_PROBE_INTERVAL=1h"}, "--nats-listen", "127.0.0.1:0")
	bustest.Eventually(t, 20*time.Second, func() bool { return statusOf(t, h, "web") == "healthy" }, "web never healthy")

	run := func(args ...string) string {
		out, err := exec.Command(razarBin, append([]string{"--home", h}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("razar %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("stop", "web"); !strings.Contains(out, "web: stopped") {
		t.Fatalf("razar stop: %s", out)
	}
	if s := statusOf(t, h, "web"); s != "stopped" {
		t.Fatalf("after stop: %s", s)
	}
	req := func(verb string) bus.LifecycleReply {
		out, err := exec.Command(nats, natsAs(h, url, "operator", "req", "razar.lifecycle."+verb+".web", "", "--raw", "--timeout", "30s")...).Output()
		if err != nil {
			t.Fatalf("nats req %s: %v", verb, err)
		}
		var rep bus.LifecycleReply
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("nats req %s: %s", verb, out)
		}
		return rep
	}
	if rep := req("start"); !rep.OK || statusOf(t, h, "web") != "healthy" {
		t.Fatalf("nats req start: %+v, status %s", rep, statusOf(t, h, "web"))
	}
	if rep := req("stop"); !rep.OK || statusOf(t, h, "web") != "stopped" {
		t.Fatalf("nats req stop: %+v", rep)
	}
	if rep := req("release"); rep.OK || !strings.Contains(rep.Error, "not quarantined") {
		t.Fatalf("release of a healthy component: %+v", rep)
	}
	if out := run("start", "web"); !strings.Contains(out, "healthy") {
		t.Fatalf("razar start: %s", out)
	}
	pid := int(state(t, h)["web"]["pid"].(float64))
	data, _ := os.ReadFile(filepath.Join(h, "web", "child"))
	child, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if pid == 0 || child == 0 || !alivePID(pid) || !alivePID(child) {
		t.Fatalf("pids %d %d", pid, child)
	}
	audit := run("audit", "--component", "web")
	if strings.Count(audit, "stop by") != 2 || strings.Count(audit, "start by") != 2 {
		t.Fatalf("lifecycle commands not all audited:\n%s", audit)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("razar exit %d after SIGTERM", code)
	}
	for _, id := range []int{pid, child} {
		if alivePID(id) {
			t.Errorf("process %d outlived RAZAR", id)
		}
	}
}

// TestOnceHaltExitsOne: an unhealable component halts the boot, --once
// exits 1, and the critical alert is in logs/razar.log with its severity.
func TestOnceHaltExitsOne(t *testing.T) {
	t.Parallel()
	roster := `{"agents": [{"name": "crown", "backend": "builtin"}]}` + "\n"
	h := home(t, roster, map[string]string{
		"config/boot_config.json": `{"components": [
			{"name": "web", "priority": 1, "workdir": "web", "start_grace": "100ms", "command": ["sh", "-c", "echo bind: address already in use >&2; exit 1"]}]}`,
	})
	p := start(t, h, []string{"RAZAR_RSTAR_THRESHOLD=0"}, "boot", "--once", "--retries", "0", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, p.out)
	}
	logData, _ := os.ReadFile(filepath.Join(h, "logs/razar.log"))
	var found bool
	for _, line := range strings.Split(string(logData), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["severity"] == "critical" &&
			rec["message"] == "Boot sequence halted; configuration rolled back to safe defaults" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no critical halt line in razar.log:\n%s", logData)
	}
	if _, err := os.Stat(filepath.Join(h, "quarantine/web.json")); err != nil {
		t.Fatalf("quarantine file: %v", err)
	}
	bak, _ := os.ReadFile(filepath.Join(h, "config/razar_ai_agents.bak"))
	cur, _ := os.ReadFile(filepath.Join(h, "config/razar_ai_agents.json"))
	if string(bak) != roster || string(cur) != roster {
		t.Fatalf("roster %q / snapshot %q", cur, bak)
	}
	// The escalation history stays in the invocation log.
	if len(jsonLines(t, filepath.Join(h, "logs/razar_ai_invocations.json"))) == 0 {
		t.Fatal("no invocation records")
	}
	// After the fact, with RAZAR stopped: the trail replays from the store,
	// and status shows the last recorded state (exit 1: nobody answers).
	out, code := runRazar(t, h, nil, "audit", "--component", "web")
	if code != 0 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "attempt 1 by Crown") {
		t.Fatalf("offline audit: exit %d\n%s", code, out)
	}
	out, code = runRazar(t, h, nil, "status")
	if code != 1 || !strings.Contains(out, "last recorded state") || !strings.Contains(out, "quarantined") {
		t.Fatalf("offline status: exit %d\n%s", code, out)
	}
}
