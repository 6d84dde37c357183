package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/alert"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/supervisor"
)

// bootMesh is a mesh plus a supervisor over real sh components in a home.
type bootMesh struct {
	*mesh
	home   string
	sup    *supervisor.Supervisor
	sleeps *sleepLog
}

// sleepLog is the injected clock: waits of a second or more (restart
// backoffs) are recorded and pass at once, running hook first when set;
// shorter ones (start graces, probe ticks) take their real time.
type sleepLog struct {
	mu   sync.Mutex
	ds   []time.Duration
	hook func(n int)
}

func (s *sleepLog) Now() time.Time { return time.Now() }

func (s *sleepLog) After(d time.Duration) <-chan time.Time {
	if d < time.Second {
		return time.After(d)
	}
	s.mu.Lock()
	s.ds = append(s.ds, d)
	n, hook := len(s.ds), s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

func (s *sleepLog) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

const rosterJSON = `{"agents": [{"name": "crown", "backend": "builtin"}, {"name": "kimicho", "backend": "exec", "command": ["x"]}]}` + "\n"

func newBootMesh(t *testing.T, comps []config.Component, rungs []rung, cfg orchestrator.Config, scfg supervisor.Config) *bootMesh {
	t.Helper()
	m := newMesh(t, rungs, cfg)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config/razar_ai_agents.json"), []byte(rosterJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range comps {
		if comps[i].Workdir == "" {
			comps[i].Workdir = m.workdir
		}
		if comps[i].StartGrace == 0 {
			comps[i].StartGrace = razar.Duration(100 * time.Millisecond)
		}
	}
	m.boot = &config.BootConfig{Components: comps}
	m.cfg.Home = home
	// The orchestrator verifies fixes through the supervisor, as cmd wires it.
	var sup *supervisor.Supervisor
	m.cfg.Verify = func(ctx context.Context, c config.Component) error { return sup.Verify(ctx, c) }
	m.stopOrch()
	m.stopOrch = m.startOrchestrator()
	sl := &sleepLog{}
	scfg.Home = home
	scfg.Clock = sl
	scfg.HandshakeWait = 200 * time.Millisecond
	scfg.Alerts = alert.New(m.env.Store, zerolog.Nop())
	if scfg.StopGrace == 0 {
		scfg.StopGrace = 2 * time.Second
	}
	var err error
	sup, err = supervisor.New(m.env.Store, m.orch, m.boot, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Close)
	return &bootMesh{mesh: m, home: home, sup: sup, sleeps: sl}
}

func sh(script string) []string { return []string{"sh", "-c", script} }

func (b *bootMesh) component(name string) bus.ComponentView {
	v, err := b.sup.View(name)
	if err != nil {
		b.t.Fatalf("component %s: %v", name, err)
	}
	return v.Components[0]
}

func (b *bootMesh) view() *bus.MissionState {
	v, _ := b.sup.View("")
	return v
}

func TestBootOrderByPriority(t *testing.T) {
	start := func(name string) []string { return sh("echo " + name + " >> order; exec sleep 600") }
	b := newBootMesh(t, []config.Component{
		{Name: "d", Priority: 3, Command: start("d")},
		{Name: "b", Priority: 2, Command: start("b")},
		{Name: "a", Priority: 1, Command: start("a")},
		{Name: "c", Priority: 2, Command: start("c")},
	}, fiveRungs(nil), orchestrator.Config{}, supervisor.Config{})
	if err := b.sup.Boot(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(b.workdir, "order"))
	order := strings.Fields(string(data))
	if len(order) != 4 || order[0] != "a" || order[3] != "d" || !((order[1] == "b" && order[2] == "c") || (order[1] == "c" && order[2] == "b")) {
		t.Fatalf("boot order %v, want a, {b c}, d", order)
	}
	for _, c := range b.view().Components {
		if c.Status != bus.StatusHealthy || c.PID == 0 {
			t.Errorf("%s: %s pid %d", c.Name, c.Status, c.PID)
		}
	}
	// logs/razar_state.json says the same, written atomically.
	var st bus.MissionState
	data, err := os.ReadFile(razar.Home(b.home).StateFile())
	if err != nil || json.Unmarshal(data, &st) != nil || st.Health != "healthy" || len(st.Components) != 4 {
		t.Fatalf("state file: %v %s", err, data)
	}
}

func TestBootHaltsQuarantinesAndRestoresRoster(t *testing.T) {
	b := newBootMesh(t, []config.Component{
		{Name: "ok", Priority: 1, Command: sh("exec sleep 600")},
		{Name: "bad", Priority: 2, Command: sh("echo cannot open config >&2; exit 3")},
		{Name: "never", Priority: 3, Command: sh("touch never-started; exec sleep 600")},
	}, fiveRungs(nil), orchestrator.Config{Threshold: 0}, supervisor.Config{Retries: 3})
	rosterPath := filepath.Join(b.home, "config/razar_ai_agents.json")
	// Something edits the roster mid-cycle; the halt must undo it.
	b.sleeps.hook = func(n int) {
		if n == 1 {
			_ = os.WriteFile(rosterPath, []byte(`{"agents": [{"name": "broken"`), 0o644)
		}
	}
	alerts := make(chan string, 10)
	sub, err := b.env.NATS.Subscribe(bus.AlertSubject(bus.SeverityCritical), func(m *nats.Msg) {
		var a bus.AlertMsg
		if bus.Decode(m.Data, &a) == nil {
			alerts <- a.Message
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	err = b.sup.Boot(context.Background())
	if !errors.Is(err, supervisor.ErrBootHalted) {
		t.Fatalf("boot: %v, want ErrBootHalted", err)
	}
	// Backoff: 1 s doubling, with up to 20% jitter, before the escalation.
	ds := b.sleeps.all()
	if len(ds) != 3 {
		t.Fatalf("%d backoffs, want 3 (--retries 3): %v", len(ds), ds)
	}
	for i, d := range ds {
		lo := time.Second << i
		if d < lo || d > lo+lo/5 {
			t.Errorf("backoff %d = %v, want %v..%v", i+1, d, lo, lo+lo/5)
		}
	}
	got, _ := os.ReadFile(rosterPath)
	if !bytes.Equal(got, []byte(rosterJSON)) {
		t.Fatalf("roster not restored byte for byte:\n%q", got)
	}
	var q supervisor.Quarantine
	data, err := os.ReadFile(filepath.Join(b.home, "quarantine/bad.json"))
	if err != nil || json.Unmarshal(data, &q) != nil || q.Incident == "" || len(q.Attempts) != 4 {
		t.Fatalf("quarantine file: %v %s", err, data)
	}
	if _, err := os.Stat(filepath.Join(b.workdir, "never-started")); err == nil {
		t.Fatal("a component after the halt was started")
	}
	if c := b.component("ok"); c.Status != bus.StatusStopped || c.PID != 0 {
		t.Fatalf("ok after halt: %+v", c)
	}
	if c := b.component("bad"); c.Status != bus.StatusQuarantined {
		t.Fatalf("bad after halt: %+v", c)
	}
	// The incident's own failure is critical too; the halt follows it.
	deadline := time.After(10 * time.Second)
	for halted := false; !halted; {
		select {
		case msg := <-alerts:
			halted = msg == "Boot sequence halted; configuration rolled back to safe defaults"
		case <-deadline:
			t.Fatal("no critical alert with the halt message")
		}
	}
	// The escalation history stays: the incident's attempts are on the stream.
	if n := len(b.audit(q.Incident)); n == 0 {
		t.Fatal("no audit records for the incident")
	}
	// A quarantined component cannot start until released.
	ctx := context.Background()
	if err := b.sup.Start(ctx, "bad"); err == nil || !strings.Contains(err.Error(), "release") {
		t.Fatalf("start of a quarantined component: %v", err)
	}
	if err := b.sup.Release(ctx, "bad"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.home, "quarantine/bad.json")); !os.IsNotExist(err) {
		t.Fatalf("quarantine file after release: %v", err)
	}
}

func TestSupervisionRestartsAnExitedComponent(t *testing.T) {
	b := newBootMesh(t, []config.Component{{Name: "web", Priority: 1, Command: sh("exec sleep 600")}},
		fiveRungs(nil), orchestrator.Config{}, supervisor.Config{Retries: 2})
	if err := b.sup.Boot(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := b.component("web").PID
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		c := b.component("web")
		return c.Status == bus.StatusHealthy && c.PID != 0 && c.PID != first && c.Restarts == 1
	}, "web was not restarted: %+v", b.component("web"))
}

func TestPeriodicProbeFailureRestarts(t *testing.T) {
	b := newBootMesh(t, []config.Component{{Name: "web", Priority: 1, Command: sh("exec sleep 600"),
		HealthCheck: &razar.HealthCheck{Command: sh("test ! -f broken")}}},
		fiveRungs(nil), orchestrator.Config{}, supervisor.Config{Retries: 2, ProbeInterval: 50 * time.Millisecond})
	broken := filepath.Join(b.workdir, "broken")
	b.sleeps.hook = func(int) { _ = os.Remove(broken) } // the fault clears before the restart
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.sup.Boot(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); b.sup.Supervise(ctx) }()
	defer func() { cancel(); <-done }()
	first := b.component("web").PID
	if err := os.WriteFile(broken, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		c := b.component("web")
		return c.Status == bus.StatusHealthy && c.PID != first && c.Restarts == 1
	}, "web was not restarted after its probe failed: %+v", b.component("web"))
}

func TestCloseLeavesNoProcess(t *testing.T) {
	b := newBootMesh(t, []config.Component{
		// A component that forks a child and ignores SIGTERM: the group is killed.
		{Name: "stubborn", Priority: 1, Command: sh("trap '' TERM; sleep 600 & echo $! > child; wait")},
	}, fiveRungs(nil), orchestrator.Config{}, supervisor.Config{StopGrace: 200 * time.Millisecond})
	if err := b.sup.Boot(context.Background()); err != nil {
		t.Fatal(err)
	}
	leader := b.component("stubborn").PID
	var child int
	bustest.Eventually(t, 5*time.Second, func() bool {
		data, _ := os.ReadFile(filepath.Join(b.workdir, "child"))
		_, err := fmtSscan(strings.TrimSpace(string(data)), &child)
		return err == nil && child > 0
	}, "child pid not written")
	b.sup.Close()
	for _, pid := range []int{leader, child} {
		bustest.Eventually(t, 5*time.Second, func() bool { return !alive(pid) }, "pid %d outlived the supervisor", pid)
	}
}

// TestBackoffResetsAfterAHealthyRun: consecutive failures back off further
// (1 s, then 2 s); after a long enough healthy run the next failure starts
// again at 1 s.
func TestBackoffResetsAfterAHealthyRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		resetAfter time.Duration
		second     time.Duration
	}{
		{"no reset", time.Hour, 2 * time.Second},
		{"reset", time.Nanosecond, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBootMesh(t, []config.Component{{Name: "web", Priority: 1, Command: sh("exec sleep 600")}},
				fiveRungs(nil), orchestrator.Config{}, supervisor.Config{Retries: 3, StableAfter: tc.resetAfter, Jitter: -1})
			if err := b.sup.Boot(context.Background()); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 2; i++ {
				pid := b.component("web").PID
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				bustest.Eventually(t, 10*time.Second, func() bool {
					c := b.component("web")
					return c.Status == bus.StatusHealthy && c.PID != pid && c.Restarts == i
				}, "restart %d", i)
			}
			ds := b.sleeps.all()
			if len(ds) != 2 || ds[0] != time.Second || ds[1] != tc.second {
				t.Fatalf("backoffs %v, want [1s %v]", ds, tc.second)
			}
		})
	}
}
