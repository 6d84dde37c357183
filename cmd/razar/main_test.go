package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/patch"
)

// razarBin is the razar binary the tests run as real processes.
var razarBin string

func TestMain(m *testing.M) {
	patch.SandboxMain() // the validation sandbox's init, when this binary was started as one
	dir, err := os.MkdirTemp("", "razar-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	razarBin = filepath.Join(dir, "razar")
	build := exec.Command("go", "build", "-race", "-o", razarBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build razar:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// home makes a RAZAR home with the given roster, one component "web" that is
// healthy unless the file web/broken exists, and the files of extra.
func home(t *testing.T, roster string, extra map[string]string) string {
	t.Helper()
	h := t.TempDir()
	files := map[string]string{
		"config/razar_ai_agents.json": roster,
		"config/boot_config.json": `{"components": [{"name": "web", "priority": 1, "command": ["sleep", "600"], "workdir": "web",
			"start_grace": "200ms", "health_check": {"command": ["sh", "-c", "test ! -f broken"]}}]}`,
		"web/.keep": "",
	}
	for k, v := range extra {
		files[k] = v
	}
	for p, content := range files {
		full := filepath.Join(h, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// syncBuf is a bytes.Buffer safe for a process to write while a test reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type proc struct {
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
	err  error
}

// start runs razar with args in home as a real process, stopped at cleanup.
func start(t *testing.T, h string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(razarBin, append([]string{"--home", h}, args...)...)
	cmd.Env = append(os.Environ(), "RAZAR_METRICS_PORT=0", "RAZAR_CHAKRA_PORT=0", "RAZAR_VERIFY_WINDOW=1s")
	cmd.Env = append(cmd.Env, env...)
	p := &proc{cmd: cmd, out: &syncBuf{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("razar %v output:\n%s", args, p.out.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%v did not exit within %v; output:\n%s", p.cmd.Args, d, p.out.String())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatal(p.err)
	return -1
}

// boot starts `razar boot` and waits for its bus.
func boot(t *testing.T, h string, env []string, args ...string) (*proc, string) {
	t.Helper()
	_ = os.Remove(filepath.Join(h, "state/nats.url"))
	p := start(t, h, env, append([]string{"boot"}, args...)...)
	var url string
	bustest.Eventually(t, 20*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(h, "state/nats.url"))
		url = strings.TrimSpace(string(b))
		return err == nil && url != ""
	}, "razar boot did not write state/nats.url; output:\n%s", p.out)
	// The orchestrator answers once it is up: with its reply (which has
	// incidents; the last recorded state printed while it is not up has
	// none), whether status exits 0 or 1 for a halted mission.
	bustest.Eventually(t, 20*time.Second, func() bool {
		out, _ := exec.Command(razarBin, "--home", h, "status", "--json").Output()
		var rep struct {
			Incidents json.RawMessage `json:"incidents"`
		}
		return json.Unmarshal(bytes.TrimSpace(out), &rep) == nil && rep.Incidents != nil
	}, "orchestrator never answered status")
	return p, url
}

func jsonLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s line %d is not JSON: %v: %q", path, i+1, err, line)
		}
		out = append(out, m)
	}
	return out
}

const execRoster = `{"agents": [
  {"name": "crown", "backend": "builtin"},
  {"name": "kimicho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "%s"},
  {"name": "k2", "display": "K2 Coder", "backend": "exec", "command": ["sh", "agents/fix.sh"], "timeout": "10s"},
  {"name": "rstar", "backend": "openai", "endpoint": "${RSTAR_ENDPOINT}", "takeover": true}
]}`

const fixScript = "#!/bin/sh\ncat >/dev/null\nrm -f \"$RAZAR_WORKDIR/broken\"\necho '{\"status\": \"fixed\", \"summary\": \"removed broken\"}'\n"

// breakWeb makes the web component's health check fail.
func breakWeb(t *testing.T, h string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h, "web", "broken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEscalateHealsAndRecords(t *testing.T) {
	t.Parallel()
	h := home(t, fmt.Sprintf(execRoster, "10s"), map[string]string{
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\necho '{\"status\": \"no_fix\", \"summary\": \"nothing here\"}'\n",
		"agents/fix.sh":     fixScript,
	})
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	if code := esc.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("escalate exit %d:\n%s", code, esc.out)
	}
	out := esc.out.String()
	for _, want := range []string{"escalation 1: razar → Crown", "attempt 2 by Kimi-cho: no_fix", "HEALED by K2 Coder"} {
		if !strings.Contains(out, want) {
			t.Errorf("escalate output lacks %q:\n%s", want, out)
		}
	}
	inv := filepath.Join(h, "logs/razar_ai_invocations.json")
	bustest.Eventually(t, 10*time.Second, func() bool { return len(jsonLines(t, inv)) >= 6 }, "invocations file incomplete")
	for _, rec := range jsonLines(t, inv) {
		for _, f := range []string{"component", "incident", "agent", "agent_display", "event", "status", "timestamp", "timestamp_iso"} {
			if _, ok := rec[f]; !ok {
				t.Errorf("invocation record lacks %q: %v", f, rec)
			}
		}
	}
	// The trail replays from JetStream.
	audit, err := exec.Command(razarBin, "--home", h, "audit", "--component", "web").CombinedOutput()
	if err != nil || !strings.Contains(string(audit), "HEALED") {
		t.Fatalf("razar audit: %v\n%s", err, audit)
	}
}

func TestEscalateFailureExitsOne(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, nil)
	boot(t, h, []string{"RAZAR_RSTAR_THRESHOLD=0"}, "--nats-listen", "127.0.0.1:0")
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: address already in use")
	if code := esc.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("escalate exit %d, want 1:\n%s", code, esc.out)
	}
	if !strings.Contains(esc.out.String(), "port in use") {
		t.Fatalf("crown's triage missing:\n%s", esc.out)
	}
	// A failed incident quarantines its component, however it was opened.
	bustest.Eventually(t, 10*time.Second, func() bool { return statusOf(t, h, "web") == "quarantined" },
		"web not quarantined after its hand-opened incident failed: %v", state(t, h)["web"])
	if _, err := os.Stat(filepath.Join(h, "quarantine/web.json")); err != nil {
		t.Fatal(err)
	}
	if out, code := runRazar(t, h, nil, "status"); code != 1 || !strings.Contains(out, "quarantined") {
		t.Fatalf("status with a quarantine: exit %d, want 1\n%s", code, out)
	}
	if out, code := runRazar(t, h, nil, "release", "web"); code != 0 {
		t.Fatalf("release: exit %d\n%s", code, out)
	}
	// Released, web is down and nothing starts it: not healthy yet.
	if out, code := runRazar(t, h, nil, "status"); code != 1 || !strings.Contains(out, "stopped and not by an operator") {
		t.Fatalf("status after the release: exit %d, want 1\n%s", code, out)
	}
	if err := os.Remove(filepath.Join(h, "web", "broken")); err != nil {
		t.Fatal(err)
	}
	if out, code := runRazar(t, h, nil, "start", "web"); code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	if out, code := runRazar(t, h, nil, "status"); code != 0 {
		t.Fatalf("status after the start: exit %d, want 0\n%s", code, out)
	}
}

// TestReleaseWorksWithRazarStopped: after `boot --once` halts, the advice
// its log leaves (`razar release <component>`) works with RAZAR stopped;
// web is still down, so the mission stays halted until the next boot.
func TestReleaseWorksWithRazarStopped(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, map[string]string{"web/broken": ""})
	p := start(t, h, []string{"RAZAR_RSTAR_THRESHOLD=0"}, "boot", "--once", "--retries", "0", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("boot --once: exit %d, want 1 (halted)\n%s", code, p.out)
	}
	if !strings.Contains(p.out.String(), "razar release") {
		t.Fatalf("the halt does not say how to recover:\n%s", p.out)
	}
	if out, code := runRazar(t, h, nil, "status"); code != 1 || !strings.Contains(out, "halted") {
		t.Fatalf("status of a halted mission: exit %d\n%s", code, out)
	}
	out, code := runRazar(t, h, nil, "release", "web")
	if code != 0 || !strings.Contains(out, "quarantine lifted") {
		t.Fatalf("release with RAZAR stopped: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(h, "quarantine/web.json")); !os.IsNotExist(err) {
		t.Fatalf("quarantine file after release: %v", err)
	}
	st, err := os.ReadFile(filepath.Join(h, "logs/razar_state.json"))
	if err != nil || !strings.Contains(string(st), `"quarantine": []`) || !strings.Contains(string(st), `"health": "halted"`) {
		t.Fatalf("state after release: %v\n%s", err, st)
	}
	if out, code := runRazar(t, h, nil, "status"); code != 1 || !strings.Contains(out, "then `razar boot` starts a new cycle") {
		t.Fatalf("status after an offline release: exit %d, want 1 and the next step\n%s", code, out)
	}
	if out, code := runRazar(t, h, nil, "release", "web"); code != 1 || !strings.Contains(out, "not quarantined") {
		t.Fatalf("second release: exit %d\n%s", code, out)
	}
}

func TestBadConfigExitsTwoWithOneLine(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "magic"}]}`, nil)
	p := start(t, h, nil, "boot", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 20*time.Second); code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, p.out)
	}
	out := strings.TrimSpace(p.out.String())
	if strings.Count(out, "\n") != 0 || !strings.Contains(out, "razar_ai_agents.json") || !strings.Contains(out, "agents[0] (crown).backend") {
		t.Fatalf("want one line naming file and field, got:\n%s", out)
	}
}

func TestCommandsWithoutRazarRunning(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, nil)
	p := start(t, h, nil, "status")
	if code := p.wait(t, 20*time.Second); code != 1 || !strings.Contains(p.out.String(), "not running") {
		t.Fatalf("status without razar: exit %d:\n%s", code, p.out)
	}
}

// TestKillMidIncident SIGKILLs razar while a rung works on an attempt and
// starts it again on the same store: the incident resumes where it stood,
// no finished attempt runs again, none is lost.
func TestKillMidIncident(t *testing.T) {
	t.Parallel()
	h := home(t, fmt.Sprintf(execRoster, "4s"), map[string]string{
		// kimicho records each run and then hangs past its deadline.
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\necho run >> kimicho.runs\nsleep 30\n",
		"agents/fix.sh":     fixScript,
	})
	listen := fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))
	first, _ := boot(t, h, nil, "--nats-listen", listen)
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	bustest.Eventually(t, 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(h, "kimicho.runs"))
		return err == nil
	}, "kimicho never started")
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 10*time.Second)

	boot(t, h, nil, "--nats-listen", listen)
	if code := esc.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("escalate across the restart: exit %d:\n%s", code, esc.out)
	}
	runs, _ := os.ReadFile(filepath.Join(h, "kimicho.runs"))
	// The restarted RAZAR hands the attempt the killed one waited on back
	// to kimicho at once (not after the redelivery wait), so the rung may
	// run it a second time; the record below still holds it once.
	if n := strings.Count(string(runs), "run"); n < 1 || n > 2 {
		t.Fatalf("kimicho's attempt ran %d times, want once or, handed back after the kill, twice", n)
	}
	// The record of truth: every attempt once, in order.
	out, err := exec.Command(razarBin, "--home", h, "audit", "--json", "--component", "web").Output()
	if err != nil {
		t.Fatal(err)
	}
	var attempts []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r bus.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Event == bus.EventAttempt {
			attempts = append(attempts, fmt.Sprintf("%d:%s:%s", r.Attempt, r.Agent, r.Outcome))
		}
	}
	if got := strings.Join(attempts, " "); got != "1:crown:no_fix 2:kimicho:timeout 3:k2:healed" {
		t.Fatalf("attempts after the kill: %s", got)
	}
	// And the incident's whole timeline, across the crash, in order.
	var id string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r bus.AuditRecord
		if json.Unmarshal([]byte(line), &r) == nil && r.Event == bus.EventOpened {
			id = r.Incident
		}
	}
	tl, err := exec.Command(razarBin, "--home", h, "audit", "--json", "--incident", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	var last uint64
	for _, line := range strings.Split(strings.TrimSpace(string(tl)), "\n") {
		var r bus.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.Seq <= last {
			t.Fatalf("audit --incident out of order: seq %d after %d", r.Seq, last)
		}
		last = r.Seq
		if r.Event != bus.EventAlert && r.Event != bus.EventLifecycle {
			events = append(events, string(r.Event))
		}
	}
	if got := strings.Join(events, " "); got != "opened escalation shown attempt escalation shown attempt escalation shown attempt healed" {
		t.Fatalf("the incident's timeline across the kill: %s", got)
	}
}

// TestSecondBootInTheSameHomeRefused: two servers must never share one
// JetStream store.
func TestSecondBootInTheSameHomeRefused(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, nil)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	p := start(t, h, nil, "boot", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 20*time.Second); code != 1 || !strings.Contains(p.out.String(), "already running") {
		t.Fatalf("second boot: exit %d\n%s", code, p.out)
	}
	// The first one still answers.
	if out, code := runRazar(t, h, nil, "status"); code != 0 {
		t.Fatalf("status after the refused second boot: exit %d\n%s", code, out)
	}
}
