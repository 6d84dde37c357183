package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/patch"
)

// razarBin is the -race razar binary the scenarios run as real processes.
var razarBin string

// full is RAZAR_CHAOS=full (make chaos): more kill moments, more incidents.
var full = os.Getenv("RAZAR_CHAOS") == "full"

func TestMain(m *testing.M) {
	patch.SandboxMain() // the validation sandbox's init, when this binary was started as one
	dir, err := os.MkdirTemp("", "razar-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	razarBin = filepath.Join(dir, "razar")
	build := exec.Command("go", "build", "-race", "-o", razarBin, "../cmd/razar")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build razar:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// row is one line of the chaos table.
type row struct {
	scenario string
	faults   int
	r        *Report
}

var (
	tableMu sync.Mutex
	table   []row
)

// record adds a scenario's line to the table and fails t for every
// invariant r says was broken.
func record(t *testing.T, faults int, r *Report) {
	t.Helper()
	tableMu.Lock()
	table = append(table, row{scenario: t.Name(), faults: faults, r: r})
	tableMu.Unlock()
	for _, p := range r.Problems {
		t.Error(p)
	}
	if r.Incidents == 0 {
		t.Error("no incident at all: the scenario injected nothing that RAZAR had to handle")
	}
}

// printTable is the table of every scenario run so far, as markdown.
func printTable() string {
	tableMu.Lock()
	defer tableMu.Unlock()
	var b strings.Builder
	mode := "slice"
	if full {
		mode = "full (RAZAR_CHAOS=full)"
	}
	fmt.Fprintf(&b, "chaos table, %s:\n\n", mode)
	b.WriteString("| scenario | incidents | faults injected | ended once | lost | duplicated | torn | orphans | doubled |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range table {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", scenarioName(x.scenario),
			x.r.Incidents, x.faults, x.r.EndedOnce, x.r.Lost, x.r.Duplicated, x.r.Torn, x.r.Orphans, x.r.Doubled)
	}
	return b.String()
}

// scenarioName is a test's name without its top-level test.
func scenarioName(name string) string {
	if _, sub, ok := strings.Cut(name, "/"); ok {
		return sub
	}
	return name
}

var markerN atomic.Int64

// marker is a command-line argument unique to one component of one run:
// `sleep 600 <marker>` sleeps 600 s and a bit, and Procs finds it.
func marker() string { return fmt.Sprintf("0.%d%04d", os.Getpid(), markerN.Add(1)) }

// comp is the boot-config entry of a component that fails to start while
// its workdir holds the file "broken" and otherwise sleeps with its marker.
func comp(name, mark string) string {
	return fmt.Sprintf(`{"name": %q, "priority": 1, "workdir": %q, "start_grace": "200ms",
		"command": ["sh", "-c", "test ! -f broken || exit 1; exec sleep 600 %s"]}`, name, name, mark)
}

// chaosHome makes a RAZAR home with roster, n broken components c1..cn and
// the files of extra (paths relative to the home, a config file of extra
// replacing the made one; "@HOME@" in a file is replaced by the home's path). It returns the home and each component's
// marker; every process with a marker is SIGKILLed at cleanup.
func chaosHome(t *testing.T, roster string, n int, extra map[string]string) (string, map[string]string) {
	t.Helper()
	h := t.TempDir()
	markers := map[string]string{}
	var comps []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("c%d", i)
		markers[name] = marker()
		comps = append(comps, comp(name, markers[name]))
		extra[name+"/broken"] = ""
	}
	files := map[string]string{
		"config/razar_ai_agents.json": roster,
		"config/boot_config.json":     `{"components": [` + strings.Join(comps, ",\n") + `]}`,
	}
	for k, v := range extra {
		files[k] = strings.ReplaceAll(v, "@HOME@", h)
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
	t.Cleanup(func() {
		for _, pids := range livePIDs(markers) {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return h, markers
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
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("razar %v output:\n%s", args, tail(p.out.String(), 6000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%v did not exit within %v; output:\n%s", p.cmd.Args, d, tail(p.out.String(), 6000))
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

// kill SIGKILLs the process and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
}

// stop SIGTERMs the process (RAZAR's clean shutdown) and wants exit 0.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Errorf("%v exit %d after SIGTERM; output:\n%s", p.cmd.Args, code, tail(p.out.String(), 6000))
	}
}

// boot starts `razar boot` and waits until its orchestrator answers.
func boot(t *testing.T, h string, env []string, args ...string) *proc {
	t.Helper()
	_ = os.Remove(filepath.Join(h, "state/nats.url"))
	p := start(t, h, env, append([]string{"boot", "--retries", "0"}, args...)...)
	bustest.Eventually(t, 30*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(h, "state/nats.url"))
		return err == nil && strings.TrimSpace(string(b)) != ""
	}, "razar boot did not write state/nats.url; output:\n%s", bustest.Lazy(func() string { return tail(p.out.String(), 6000) }))
	return p
}

// live connects to the bus a running RAZAR of h is on (url, or
// state/nats.url with the orchestrator's identity) to watch its store;
// the connection reconnects across restarts on the same address.
func live(t *testing.T, h, url string) *jetstream.Store {
	t.Helper()
	var opts []bus.ConnOption
	if url == "" {
		b, err := os.ReadFile(filepath.Join(h, "state/nats.url"))
		if err != nil {
			t.Fatal(err)
		}
		url = strings.TrimSpace(string(b))
		opts = append(opts, bus.WithCreds(filepath.Join(h, "state/identities/orchestrator.creds")))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, url, "chaos-watch", zerolog.Nop(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var st *jetstream.Store
	bustest.Eventually(t, 30*time.Second, func() bool {
		st, err = jetstream.Bind(ctx, nc)
		return err == nil
	}, "bind the store: %v", bustest.Lazy(func() string { return fmt.Sprint(err) }))
	return st
}

// incidents lists the incident records, nil when the store cannot answer.
func incidents(st *jetstream.Store) []*bus.IncidentRecord {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	recs, err := st.Incidents(ctx, nil)
	if err != nil {
		return nil
	}
	return recs
}

// waitEnded waits until at least n incidents exist and all have ended.
func waitEnded(t *testing.T, st *jetstream.Store, n int, d time.Duration) {
	t.Helper()
	var recs []*bus.IncidentRecord
	bustest.Eventually(t, d, func() bool {
		recs = incidents(st)
		if len(recs) < n {
			return false
		}
		for _, r := range recs {
			if !r.State.Final() {
				return false
			}
		}
		return true
	}, "%d incidents did not all end: %v", n, bustest.Lazy(func() string { return describe(recs) }))
}

func describe(recs []*bus.IncidentRecord) string {
	var s []string
	for _, r := range recs {
		s = append(s, fmt.Sprintf("%s %s %s (%d attempts)", r.ID, r.Component, r.State, len(r.Attempts)))
	}
	return strings.Join(s, "; ")
}

// supervised is the pid the running RAZAR of h (asked with `razar status
// --json`, never a state file an earlier RAZAR left) gives each component,
// once its boot cycle is complete and every one of markers' components is
// healthy.
func supervised(t *testing.T, h string, markers map[string]string) map[string]int {
	t.Helper()
	var pids map[string]int
	var last string
	bustest.Eventually(t, 60*time.Second, func() bool {
		out, _ := exec.Command(razarBin, "--home", h, "status", "--json").Output()
		last = string(out)
		var view bus.StatusView
		if json.Unmarshal(bytes.TrimSpace(out), &view) != nil || view.Incidents == nil || view.Mission == nil || view.Mission.Cycle != "" {
			return false
		}
		pids = map[string]int{}
		for _, c := range view.Mission.Components {
			if c.Status == bus.StatusHealthy && c.PID > 0 {
				pids[c.Name] = c.PID
			}
		}
		return len(pids) == len(markers)
	}, "RAZAR does not answer with every component healthy: %v", bustest.Lazy(func() string { return tail(last, 3000) }))
	return pids
}

// finish is the end of every scenario: the process check with RAZAR
// running, a clean stop, the process check again, then Check on the store
// RAZAR leaves (the embedded one of h, or st on an external bus).
func finish(t *testing.T, h string, b *proc, markers map[string]string, faults int) *Report {
	t.Helper()
	return finishOn(t, h, b, markers, faults, nil)
}

func finishOn(t *testing.T, h string, b *proc, markers map[string]string, faults int, st *jetstream.Store) *Report {
	t.Helper()
	r := &Report{}
	Procs(r, markers, supervised(t, h, markers))
	b.stop(t)
	Procs(r, markers, nil)
	if st == nil {
		st = bustest.OpenHome(t, h).Store
	}
	c, err := Check(context.Background(), st, h)
	if err != nil {
		t.Fatal(err)
	}
	c.Orphans, c.Doubled, c.Problems = r.Orphans, r.Doubled, append(r.Problems, c.Problems...)
	record(t, faults, c)
	return c
}

// lines counts the lines of the file at path, 0 when there is none.
func lines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// startSleep runs `sleep 600 <mark>`, killed at cleanup, and returns its pid.
func startSleep(t *testing.T, mark string) int {
	t.Helper()
	cmd := exec.Command("sleep", "600", mark)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}
