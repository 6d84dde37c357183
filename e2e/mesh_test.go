package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/alert"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
)

func TestMain(m *testing.M) {
	patch.SandboxMain() // the validation sandbox's init, when this binary was started as one
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

// rung is one rung of a test mesh: its roster entry and its backend. A nil
// backend with unavailable set makes the rung unable to run.
type rung struct {
	name        string
	takeover    bool
	timeout     time.Duration
	backend     razar.Agent
	unavailable error
	// human makes it a human rung (backend human): no runtime, the
	// orchestrator pages; ackTimeout is its ack_timeout.
	human      bool
	ackTimeout time.Duration
}

type mesh struct {
	t        testing.TB
	env      *bustest.Env
	workdir  string
	roster   *config.Roster
	boot     *config.BootConfig
	cfg      orchestrator.Config
	orch     *orchestrator.Orchestrator
	stopOrch func()
}

// healthy is the test component's health: the file "healed" in its workdir.
func (m *mesh) heal() error {
	return os.WriteFile(filepath.Join(m.workdir, "healed"), []byte("ok"), 0o644)
}

func newMesh(t testing.TB, rungs []rung, cfg orchestrator.Config) *mesh {
	t.Helper()
	return newMeshOn(t, bustest.New(t), rungs, cfg)
}

// newMeshOn is newMesh on a given server, for a test that needs the store
// before the mesh (an Alerter on it).
func newMeshOn(t testing.TB, env *bustest.Env, rungs []rung, cfg orchestrator.Config) *mesh {
	t.Helper()
	m := &mesh{t: t, env: env, workdir: t.TempDir()}
	m.roster = &config.Roster{}
	for _, r := range rungs {
		e := config.AgentEntry{Name: r.name, Backend: config.BackendExec, Takeover: r.takeover, Timeout: razar.Duration(r.timeout)}
		if r.human {
			e.Backend, e.AckTimeout = config.BackendHuman, razar.Duration(r.ackTimeout)
		}
		m.roster.Agents = append(m.roster.Agents, e)
	}
	m.boot = &config.BootConfig{Components: []config.Component{{
		Name: "web", Command: []string{"true"}, Workdir: m.workdir,
		HealthCheck: &razar.HealthCheck{Command: []string{"test", "-f", "healed"}},
	}}}
	cfg.Roster = func() (*config.Roster, error) { return m.roster, nil }
	cfg.Components = func() (*config.BootConfig, error) { return m.boot, nil }
	if cfg.VerifyWindow == 0 {
		cfg.VerifyWindow = 200 * time.Millisecond
	}
	if cfg.Backoff == (orchestrator.Backoff{}) {
		cfg.Backoff = orchestrator.Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond}
	}
	if cfg.Alerts == nil {
		cfg.Alerts = alert.New(env.Store, zerolog.Nop()) // as the host wires it: on the bus and the audit stream
	}
	m.cfg = cfg
	m.stopOrch = m.startOrchestrator()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range rungs {
		r := r
		if r.human {
			continue
		}
		rt, err := agents.New(env.Store, agents.Config{
			Name: r.name, AckWait: 2 * time.Second, Heartbeat: time.Hour, Log: zerolog.Nop(),
			Load: func(context.Context) (razar.Agent, error) {
				if r.unavailable != nil {
					return nil, r.unavailable
				}
				return r.backend, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = rt.Run(ctx) }()
	}
	// Every rung has reported its readiness before the first incident opens.
	for _, r := range rungs {
		if r.human {
			continue
		}
		bustest.Eventually(t, 10*time.Second, func() bool {
			_, err := env.Store.AgentStatus(ctx, r.name)
			return err == nil
		}, "rung %s never reported", r.name)
	}
	t.Cleanup(func() { m.stopOrch(); cancel(); wg.Wait() })
	return m
}

// startOrchestrator starts an orchestrator on the mesh's store and returns
// the function that stops it and waits for it, as a crash would leave things.
func (m *mesh) startOrchestrator() (stop func()) {
	o, err := orchestrator.New(m.env.Store, m.cfg)
	if err != nil {
		m.t.Fatal(err)
	}
	m.orch = o
	ctx, cancel := context.WithCancel(context.Background())
	if err := o.DeclareRungs(ctx); err != nil {
		m.t.Fatal(err)
	}
	stopWatch, err := o.WatchRungs(ctx)
	if err != nil {
		m.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; stopWatch() }) }
	m.t.Cleanup(stop)
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := o.Resumed(rctx); err != nil {
		m.t.Fatalf("orchestrator did not start: %v", err)
	}
	return stop
}

// escalate opens an incident once the orchestrator runs and waits for its end.
func (m *mesh) escalate(failure string) *bus.IncidentRecord {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var id string
	bustest.Eventually(m.t, 5*time.Second, func() bool {
		var err error
		id, _, err = m.orch.Escalate(ctx, "web", failure, "")
		return err == nil
	}, "escalate")
	rec, err := m.orch.Wait(ctx, id)
	if err != nil {
		m.t.Fatalf("incident %s did not end: %v", id, err)
	}
	return rec
}

// audit returns the incident's audit records, in stream order.
func (m *mesh) audit(incident string) []bus.AuditRecord {
	m.t.Helper()
	var out []bus.AuditRecord
	err := m.env.Store.Scan(context.Background(), bus.AuditAll, time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err != nil {
			return err
		}
		if r.Incident == incident {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		m.t.Fatal(err)
	}
	return out
}

func noFix(summary string) razar.Agent {
	return razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		return razar.Fix{Status: razar.StatusNoFix, Summary: summary}, nil
	})
}

func attemptsOf(rec *bus.IncidentRecord) string {
	var s []string
	for _, a := range rec.Attempts {
		s = append(s, a.Rung+":"+string(a.Outcome))
	}
	return strings.Join(s, " ")
}

func fiveRungs(over map[string]rung) []rung {
	var out []rung
	for _, n := range []string{"crown", "kimicho", "k2", "airstar", "rstar"} {
		r := rung{name: n, takeover: n == "rstar", timeout: 5 * time.Second, backend: noFix(n + " found nothing")}
		if o, ok := over[n]; ok {
			o.name, o.takeover = n, n == "rstar"
			if o.timeout == 0 {
				o.timeout = r.timeout
			}
			r = o
		}
		out = append(out, r)
	}
	return out
}

func TestLadderOnTheBus(t *testing.T) {
	all := "crown:no_fix kimicho:no_fix k2:no_fix airstar:no_fix"
	tests := []struct {
		name  string
		T, R  int
		want  string
		state razar.IncidentState
	}{
		{"T=9 two and a quarter passes (4+4+1) then rStar", 9, 1, all + " " + all + " crown:no_fix rstar:no_fix", razar.IncidentFailed},
		{"T=2 rStar after two", 2, 1, "crown:no_fix kimicho:no_fix rstar:no_fix", razar.IncidentFailed},
		{"T=0 one pass, no takeover", 0, 1, all, razar.IncidentFailed},
		{"two attempts per turn", 2, 2, "crown:no_fix crown:no_fix rstar:no_fix rstar:no_fix", razar.IncidentFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMesh(t, fiveRungs(nil), orchestrator.Config{Threshold: tt.T, RemoteAttempts: tt.R})
			rec := m.escalate("web: down")
			if got := attemptsOf(rec); got != tt.want || rec.State != tt.state {
				t.Fatalf("attempts\n got %s (%s)\nwant %s (%s)", got, rec.State, tt.want, tt.state)
			}
			// Every attempt carried every earlier one as context: the runtime
			// hands it to the backend, and the record keeps it.
			for i, a := range rec.Attempts {
				if a.Number != i+1 {
					t.Errorf("attempt %d numbered %d", i+1, a.Number)
				}
			}
		})
	}
}

func TestContextCarriesHistory(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	record := func(name string, fix bool, m **mesh) razar.Agent {
		return razar.AgentFunc(func(_ context.Context, task razar.Task) (razar.Fix, error) {
			mu.Lock()
			seen[name] = len(task.History)
			mu.Unlock()
			if fix {
				if err := (*m).heal(); err != nil {
					return razar.Fix{}, err
				}
				return razar.Fix{Status: razar.StatusFixed, Summary: "wrote healed"}, nil
			}
			return razar.Fix{Status: razar.StatusNoFix, Summary: name + " says no"}, nil
		})
	}
	var m *mesh
	m = newMesh(t, fiveRungs(map[string]rung{
		"crown":   {backend: record("crown", false, &m)},
		"kimicho": {backend: record("kimicho", false, &m)},
		"k2":      {backend: record("k2", true, &m)},
	}), orchestrator.Config{Threshold: 9})
	rec := m.escalate("web: down")
	if rec.State != razar.IncidentHealed {
		t.Fatalf("state %s: %s", rec.State, attemptsOf(rec))
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["crown"] != 0 || seen["kimicho"] != 1 || seen["k2"] != 2 {
		t.Fatalf("history lengths seen by rungs: %v", seen)
	}
	if rec.Attempts[1].Summary != "kimicho says no" {
		t.Fatalf("history lost the summary: %+v", rec.Attempts[1])
	}
}

func TestFixThatDoesNotHoldIsRejected(t *testing.T) {
	liar := razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		return razar.Fix{Status: razar.StatusFixed, Summary: "trust me"}, nil
	})
	m := newMesh(t, fiveRungs(map[string]rung{"crown": {backend: liar}}), orchestrator.Config{Threshold: 1})
	rec := m.escalate("web: down")
	a := rec.Attempts[0]
	if a.Outcome != razar.OutcomeRejected || !strings.Contains(a.Reason, "health check failed after fix") {
		t.Fatalf("first attempt %+v, want rejected by the health check", a)
	}
	if rec.State != razar.IncidentFailed {
		t.Fatalf("state %s", rec.State)
	}
}

func TestHangingRungTimesOutAndLadderAdvances(t *testing.T) {
	hang := razar.AgentFunc(func(ctx context.Context, _ razar.Task) (razar.Fix, error) {
		<-ctx.Done()
		return razar.Fix{}, ctx.Err()
	})
	m := newMesh(t, fiveRungs(map[string]rung{"crown": {backend: hang, timeout: 300 * time.Millisecond}}), orchestrator.Config{Threshold: 2})
	rec := m.escalate("web: down")
	if got := attemptsOf(rec); got != "crown:timeout kimicho:no_fix rstar:no_fix" {
		t.Fatalf("attempts %s", got)
	}
	if !strings.Contains(rec.Attempts[0].Error, "deadline") {
		t.Fatalf("timeout error %q does not say why", rec.Attempts[0].Error)
	}
}

func TestUnavailableRungIsSkippedNotCounted(t *testing.T) {
	missing := &razar.AgentCredentialError{Agent: "k2", EnvVar: "KIMI2_API_KEY"}
	m := newMesh(t, fiveRungs(map[string]rung{"k2": {unavailable: missing}}), orchestrator.Config{Threshold: 3})
	rec := m.escalate("web: down")
	if got := attemptsOf(rec); got != "crown:no_fix kimicho:no_fix airstar:no_fix rstar:no_fix" {
		t.Fatalf("attempts %s", got)
	}
	if len(rec.Skips) != 1 || rec.Skips[0].Rung != "k2" || !strings.Contains(rec.Skips[0].Reason, "KIMI2_API_KEY") {
		t.Fatalf("skips %+v", rec.Skips)
	}
	var skipped int
	for _, r := range m.audit(rec.ID) {
		if r.Event == bus.EventSkipped && r.Agent == "k2" {
			skipped++
		}
	}
	if skipped != 1 {
		t.Fatalf("%d skipped records for k2, want 1", skipped)
	}
}

func TestWarningFromTheWthEscalation(t *testing.T) {
	for _, w := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("W=%d", w), func(t *testing.T) {
			m := newMesh(t, fiveRungs(nil), orchestrator.Config{Threshold: 9, WarnThreshold: w})
			rec := m.escalate("web: down")
			var esc, warn int
			for _, r := range m.audit(rec.ID) {
				switch {
				case r.Event == bus.EventEscalation:
					esc++
				case r.Event == bus.EventAlert && r.Severity == string(bus.SeverityWarning):
					warn++
				}
			}
			// crown kimicho k2 airstar ×2, crown, rstar: every attempt is a hand-over.
			if esc != 10 {
				t.Fatalf("%d escalations, want 10", esc)
			}
			want := 0
			if w > 0 {
				want = esc - w + 1
			}
			if warn != want {
				t.Fatalf("%d warnings, want %d", warn, want)
			}
		})
	}
}

func TestLongTaskUntilAbort(t *testing.T) {
	m := newMesh(t, fiveRungs(nil), orchestrator.Config{Threshold: 1, LongTask: true})
	ctx := context.Background()
	id, _, err := m.orch.Escalate(ctx, "web", "web: down", "")
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 20*time.Second, func() bool {
		rec, _, err := m.env.Store.Incident(ctx, id)
		return err == nil && strings.Count(attemptsOf(rec), "rstar:") >= 4
	}, "rStar did not keep receiving attempts")
	if _, err := m.orch.Abort(ctx, "web", "test"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rec, err := m.orch.Wait(wctx, id)
	if err != nil || rec.State != razar.IncidentAborted {
		t.Fatalf("after abort: %v %v", rec.State, err)
	}
	if _, err := m.orch.Abort(ctx, "web", "test"); !errors.Is(err, razar.ErrNotFound) {
		t.Fatalf("second abort: %v, want ErrNotFound", err)
	}
}

func TestOrchestratorRestartResumes(t *testing.T) {
	release := make(chan struct{})
	var calls sync.Map
	slow := razar.AgentFunc(func(ctx context.Context, task razar.Task) (razar.Fix, error) {
		n, _ := calls.LoadOrStore(task.Attempt, new(int))
		*(n.(*int))++
		select {
		case <-release:
		case <-ctx.Done():
			return razar.Fix{}, ctx.Err()
		}
		return razar.Fix{Status: razar.StatusNoFix, Summary: "slow no"}, nil
	})
	m := newMesh(t, fiveRungs(map[string]rung{"kimicho": {backend: slow, timeout: 30 * time.Second}}), orchestrator.Config{Threshold: 3})
	ctx := context.Background()

	id, _, err := m.orch.Escalate(ctx, "web", "web: down", "")
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		rec, _, err := m.env.Store.Incident(ctx, id)
		return err == nil && rec.Pending != nil && rec.Pending.Rung == "kimicho"
	}, "kimicho never got its attempt")
	m.stopOrch()

	// A new orchestrator on the same store picks the incident up where it stood.
	m.startOrchestrator()
	close(release)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rec, err := m.orch.Wait(wctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := attemptsOf(rec); got != "crown:no_fix kimicho:no_fix k2:no_fix rstar:no_fix" {
		t.Fatalf("attempts after restart: %s", got)
	}
	if n, _ := calls.Load(2); *(n.(*int)) != 1 {
		t.Fatalf("kimicho's attempt ran %d times, want once", *(n.(*int)))
	}
}

// TestLongTaskWithoutATakeoverHealsFromTheLocalStack: under --long-task a
// takeover rung that cannot run (its key missing) does not end the incident:
// the local stack keeps its turns, pass after pass, with a warning skip of
// the takeover each pass, until a fix holds.
func TestLongTaskWithoutATakeoverHealsFromTheLocalStack(t *testing.T) {
	missing := &razar.AgentCredentialError{Agent: "rstar", EnvVar: "RSTAR_API_KEY"}
	var mu sync.Mutex
	calls := 0
	// Air Star finds the fix on its third turn: past the threshold and the
	// takeover's turn that cannot come.
	airstar := razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls < 3 {
			return razar.Fix{Status: razar.StatusNoFix, Summary: "not yet"}, nil
		}
		return razar.Fix{Status: razar.StatusFixed, Summary: "healed"}, nil
	})
	m := newMesh(t, fiveRungs(map[string]rung{"rstar": {unavailable: missing}, "airstar": {backend: airstar}}),
		orchestrator.Config{Threshold: 4, LongTask: true})
	m.cfg.Verify = func(context.Context, config.Component) error {
		mu.Lock()
		defer mu.Unlock()
		if calls >= 3 {
			return nil
		}
		return errors.New("still down")
	}
	m.stopOrch()
	m.stopOrch = m.startOrchestrator()
	rec := m.escalate("web: down")
	if rec.State != razar.IncidentHealed {
		t.Fatalf("incident %s: %s (%s)", rec.State, rec.Reason, attemptsOf(rec))
	}
	for _, a := range rec.Attempts {
		if a.Rung == "rstar" {
			t.Fatalf("the takeover that cannot run got attempts: %s", attemptsOf(rec))
		}
	}
	last := rec.Attempts[len(rec.Attempts)-1]
	if last.Rung != "airstar" || last.Outcome != razar.OutcomeHealed || len(rec.Attempts) != 12 {
		t.Fatalf("attempts %s, want three passes of the local stack ending with Air Star's fix", attemptsOf(rec))
	}
	var takeoverSkips int
	for _, s := range rec.Skips {
		if s.Rung == "rstar" {
			takeoverSkips++
			if !strings.Contains(s.Reason, "RSTAR_API_KEY") || !strings.Contains(s.Reason, "local stack keeps its turns") {
				t.Errorf("takeover skip reason %q should say why and what happens instead", s.Reason)
			}
		}
	}
	if takeoverSkips < 1 || takeoverSkips > 3 {
		t.Fatalf("%d takeover skips, want one per pass past the threshold", takeoverSkips)
	}
}
