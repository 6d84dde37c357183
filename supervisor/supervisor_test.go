package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/clock"
	"github.com/razar/razar/internal/proc"
	"github.com/razar/razar/internal/wait"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/supervisor"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

// ladder stands in for the orchestrator behind the Escalator interface: it
// records what the supervisor asks and ends each incident as told.
type ladder struct {
	mu      sync.Mutex
	n       int
	open    map[string]string // component -> incident
	ends    map[string]chan *bus.IncidentRecord
	opened  []string // failures, in order
	aborted []string // actors
	// verdict ends a new incident at once when set; else it stays open
	// until end or Abort.
	verdict razar.IncidentState
}

var _ supervisor.Escalator = (*ladder)(nil)

func newLadder() *ladder {
	return &ladder{open: map[string]string{}, ends: map[string]chan *bus.IncidentRecord{}}
}

func (l *ladder) Escalate(_ context.Context, component, failure, _ string) (string, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id, ok := l.open[component]; ok {
		return id, false, nil
	}
	l.n++
	id := fmt.Sprintf("inc-%d", l.n)
	l.opened = append(l.opened, failure)
	l.ends[id] = make(chan *bus.IncidentRecord, 1)
	l.open[component] = id
	if l.verdict != "" {
		l.endLocked(component, l.verdict, "the ladder said so")
	}
	return id, true, nil
}

func (l *ladder) endLocked(component string, st razar.IncidentState, reason string) {
	id := l.open[component]
	delete(l.open, component)
	l.ends[id] <- &bus.IncidentRecord{ID: id, Component: component, State: st, Reason: reason}
}

// end ends the open incident of component.
func (l *ladder) end(component string, st razar.IncidentState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endLocked(component, st, "ended by the test")
}

func (l *ladder) Wait(ctx context.Context, id string) (*bus.IncidentRecord, error) {
	l.mu.Lock()
	ch := l.ends[id]
	l.mu.Unlock()
	select {
	case rec := <-ch:
		ch <- rec // every waiter sees the end
		return rec, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *ladder) Abort(_ context.Context, component, actor string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.open[component]
	if !ok {
		return "", razar.ErrNotFound
	}
	l.aborted = append(l.aborted, actor)
	l.endLocked(component, razar.IncidentAborted, "aborted by "+actor)
	return id, nil
}

func (l *ladder) OpenIncident(component string) (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[component], "k2"
}

func (l *ladder) NextAttempt(string) time.Time { return time.Time{} }

func (l *ladder) Resumed(context.Context) error { return nil }

func (l *ladder) failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.opened...)
}

type alerts struct {
	mu       sync.Mutex
	msgs     []string
	resolved []string
}

func (a *alerts) RaiseNamed(_ context.Context, name string, _ bus.Severity, _, _, msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.msgs = append(a.msgs, name+": "+msg)
}

func (a *alerts) Resolve(_ context.Context, component, incident string, names ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resolved = append(a.resolved, component+" "+incident+" "+strings.Join(names, ","))
}

func (a *alerts) ResolveNamed(_ context.Context, name string, _ bus.Severity, component, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resolved = append(a.resolved, component+" "+name)
}

// host is a supervisor over real sh components in a temp home, on a real
// embedded JetStream, driven by a fake clock.
type host struct {
	t       *testing.T
	home    string
	workdir string
	clk     *clock.Fake
	lad     *ladder
	sup     *supervisor.Supervisor
	cfg     supervisor.Config
	env     *bustest.Env
}

const roster = `{"agents": [{"name": "crown", "backend": "builtin"}]}` + "\n"

func newHost(t *testing.T, comps []config.Component, cfg supervisor.Config) *host {
	t.Helper()
	h := &host{t: t, home: t.TempDir(), workdir: t.TempDir(), clk: clock.NewFake(time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)), lad: newLadder()}
	if err := os.MkdirAll(filepath.Join(h.home, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.home, "config/razar_ai_agents.json"), []byte(roster), 0o644); err != nil {
		t.Fatal(err)
	}
	h.env = bustest.New(t)
	cfg.Home, cfg.Clock, cfg.Alerts = h.home, h.clk, &alerts{}
	cfg.HandshakeWait = 50 * time.Millisecond
	cfg.Jitter = -1
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 2 * time.Second
	}
	h.cfg = cfg
	h.sup = h.start(comps)
	return h
}

// start makes a supervisor over comps on the host's home, as a new RAZAR would.
func (h *host) start(comps []config.Component) *supervisor.Supervisor {
	h.t.Helper()
	for i := range comps {
		if comps[i].Workdir == "" {
			comps[i].Workdir = h.workdir
		}
		if comps[i].StartGrace == 0 {
			comps[i].StartGrace = razar.Duration(time.Second)
		}
	}
	sup, err := supervisor.New(h.env.Store, h.lad, &config.BootConfig{Components: comps}, h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(sup.Close)
	return sup
}

func (h *host) comp(name string) bus.ComponentView {
	h.t.Helper()
	v, err := h.sup.View(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return v.Components[0]
}

// advanceWhen waits until the code under test waits for exactly d on the
// fake clock, then moves the clock by d.
func (h *host) advanceWhen(d time.Duration) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if !h.clk.WaitFor(ctx, func(w time.Duration) bool { return w == d }) {
		m, _ := h.sup.View("")
		h.t.Fatalf("nothing waited for %v on the clock (waiting: %v); components: %+v", d, h.clk.Waiters(), m.Components)
	}
	h.clk.Advance(d)
}

// bootAsync runs Boot in the background and returns its result channel.
func (h *host) bootAsync() <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.sup.Boot(context.Background()) }()
	return done
}

// bootTicking boots, moving the clock on until the cycle ends: for
// components that start together, each waiting out its own grace.
func (h *host) bootTicking() error { return h.tickUntil(h.bootAsync()) }

// tickUntil moves the clock on a second at a time until done says the boot ended.
func (h *host) tickUntil(done <-chan error) error {
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-done:
			return err
		case <-deadline:
			h.t.Fatal("boot did not return")
		case <-time.After(20 * time.Millisecond):
			h.clk.Advance(time.Second)
		}
	}
}

func (h *host) wait(done <-chan error) error {
	h.t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		h.t.Fatal("boot did not return")
		return nil
	}
}

func sh(script string) []string { return []string{"sh", "-c", script} }

// unhealthy is a health check that always fails.
var unhealthy = &razar.HealthCheck{Command: []string{"false"}}

func alive(pid int) bool {
	id, err := proc.Identify(pid)
	return err == nil && id.Alive()
}

// starts counts how often a component wrote its name to workdir/starts.
func (h *host) starts(name string) int {
	data, _ := os.ReadFile(filepath.Join(h.workdir, "starts"))
	return strings.Count(string(data), name+"\n")
}

func counted(name, rest string) []string {
	return sh("echo " + name + " >> starts; " + rest)
}

func TestStopDuringStartGraceHoldsThroughTheBootCycle(t *testing.T) {
	h := newHost(t, []config.Component{
		{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600")},
		{Name: "b", Priority: 2, Command: counted("b", "exec sleep 600")},
	}, supervisor.Config{Retries: 3})
	done := h.bootAsync()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if !h.clk.WaitFor(ctx, func(d time.Duration) bool { return d == time.Second }) {
		t.Fatal("a never entered its start grace")
	}
	wait.For(t, 15*time.Second, func() error {
		if h.starts("a") != 1 {
			return errors.New("a has not run yet")
		}
		return nil
	})
	pid := h.comp("a").PID
	if err := h.sup.Stop(ctx, "a", "alice"); err != nil {
		t.Fatal(err)
	}
	// b's grace: the cycle goes on past the stopped a.
	if err := h.tickUntil(done); err != nil {
		t.Fatalf("boot: %v", err)
	}
	a := h.comp("a")
	if a.Status != bus.StatusStopped || !a.Held || a.PID != 0 || alive(pid) {
		t.Fatalf("a after a stop in its grace: %+v (pid %d alive %v)", a, pid, alive(pid))
	}
	if n := h.starts("a"); n != 1 {
		t.Fatalf("a started %d times, want 1: the stop must hold", n)
	}
	if b := h.comp("b"); b.Status != bus.StatusHealthy {
		t.Fatalf("b: %+v", b)
	}
	if got := h.lad.failures(); len(got) != 0 {
		t.Fatalf("a stopped component was escalated: %q", got)
	}
}

func TestStopDuringTheFirstProbeHolds(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600"),
		// The probe blocks until the test lets it pass.
		HealthCheck: &razar.HealthCheck{Command: sh("touch probing; while [ ! -f pass ]; do sleep 0.02; done"), Timeout: razar.Duration(20 * time.Second)}}},
		supervisor.Config{Retries: 3})
	done := h.bootAsync()
	h.advanceWhen(time.Second)
	wait.For(t, 15*time.Second, func() error {
		if _, err := os.Stat(filepath.Join(h.workdir, "probing")); err != nil {
			return errors.New("the first probe has not started")
		}
		return nil
	})
	if err := h.sup.Stop(context.Background(), "a", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.workdir, "pass"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.wait(done); err != nil {
		t.Fatalf("boot: %v", err)
	}
	if a := h.comp("a"); a.Status != bus.StatusStopped || !a.Held || a.PID != 0 || h.starts("a") > 1 {
		t.Fatalf("a after a stop during its probe: %+v, started %d times", a, h.starts("a"))
	}
}

func TestStopDuringARestartBackoffHolds(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1, Command: counted("a", "exit 1")}},
		supervisor.Config{Retries: 3})
	done := h.bootAsync()
	// a exits in its grace; the supervisor waits 1 s before restarting it.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	wait.For(t, 15*time.Second, func() error {
		if c := h.comp("a"); c.Status != bus.StatusRestarting || c.Backoff != "1s" || c.NextRestart.IsZero() {
			return fmt.Errorf("a is %+v, want restarting with a 1s backoff and its next restart", c)
		}
		return nil
	})
	if err := h.sup.Stop(ctx, "a", "alice"); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Minute)
	if err := h.wait(done); err != nil {
		t.Fatalf("boot: %v", err)
	}
	if a := h.comp("a"); a.Status != bus.StatusStopped || !a.Held || h.starts("a") != 1 {
		t.Fatalf("a after a stop in its backoff: %+v, started %d times", a, h.starts("a"))
	}
}

func TestStopMidIncidentAbortsItAndHolds(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600"), HealthCheck: unhealthy}},
		supervisor.Config{Retries: 0})
	done := h.bootAsync()
	h.advanceWhen(time.Second)
	wait.For(t, 15*time.Second, func() error {
		if id, _ := h.lad.OpenIncident("a"); id == "" {
			return errors.New("no incident opened")
		}
		return nil
	})
	if err := h.sup.Stop(context.Background(), "a", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := h.wait(done); err != nil {
		t.Fatalf("boot: %v", err)
	}
	a := h.comp("a")
	if a.Status != bus.StatusStopped || !a.Held {
		t.Fatalf("a after a stop mid-incident: %+v, want stopped (not quarantined)", a)
	}
	if _, err := os.Stat(filepath.Join(h.home, "quarantine/a.json")); err == nil {
		t.Fatal("a stopped component was quarantined")
	}
	if len(h.lad.aborted) != 1 || h.lad.aborted[0] != "stopped by alice" {
		t.Fatalf("aborts: %q", h.lad.aborted)
	}
	// Start lifts the hold.
	if err := os.WriteFile(filepath.Join(h.workdir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStopWhileWaitingForItsBootTurnHolds(t *testing.T) {
	h := newHost(t, []config.Component{
		{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600")},
		{Name: "b", Priority: 2, Command: counted("b", "exec sleep 600")},
	}, supervisor.Config{})
	done := h.bootAsync()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	h.clk.WaitFor(ctx, func(d time.Duration) bool { return d == time.Second })
	if b := h.comp("b"); b.Status != bus.StatusWaiting {
		t.Fatalf("b before its turn: %+v, want waiting", b)
	}
	if err := h.sup.Stop(ctx, "b", "alice"); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Second)
	if err := h.wait(done); err != nil {
		t.Fatal(err)
	}
	if b := h.comp("b"); b.Status != bus.StatusStopped || h.starts("b") != 0 {
		t.Fatalf("b: %+v, started %d times", b, h.starts("b"))
	}
	// Its start lifts the hold.
	go func() { h.advanceWhen(time.Second) }()
	if err := h.sup.Start(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if b := h.comp("b"); b.Status != bus.StatusHealthy || b.Held {
		t.Fatalf("b after start: %+v", b)
	}
}

// TestCrashLoopPastTheGraceIsEscalated: a component that passes its grace
// and probe, then crashes, again and again, is restarted --retries times
// with a growing backoff and then handed to the ladder, not restarted forever.
func TestCrashLoopPastTheGraceIsEscalated(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1, Command: counted("a", "sleep 0.2; echo crashing; exit 4")}},
		supervisor.Config{Retries: 3})
	done := h.bootAsync()
	h.advanceWhen(time.Second) // grace: it is healthy
	if err := h.wait(done); err != nil {
		t.Fatal(err)
	}
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		h.advanceWhen(d) // backoff before restart i+1
		h.advanceWhen(time.Second)
		wait.For(t, 15*time.Second, func() error {
			if c := h.comp("a"); c.Restarts != i+1 {
				return fmt.Errorf("restart %d: %+v", i+1, c)
			}
			return nil
		})
	}
	wait.For(t, 15*time.Second, func() error {
		if got := h.lad.failures(); len(got) != 1 {
			return fmt.Errorf("escalations %q, want one after 3 restarts", got)
		}
		return nil
	})
	f := h.lad.failures()[0]
	for _, want := range []string{"exited with status 4", "crash loop: 3 restarts", "crashing"} {
		if !strings.Contains(f, want) {
			t.Errorf("failure sent to the ladder lacks %q:\n%s", want, f)
		}
	}
	if c := h.comp("a"); c.Status != bus.StatusEscalated || c.LastExit != "exited with status 4" {
		t.Fatalf("a: %+v", c)
	}
	if n := h.starts("a"); n != 4 {
		t.Fatalf("a started %d times, want 4 (first start and 3 restarts)", n)
	}
}

// TestAStableRunStartsANewRestartBudget: a crash after the component ran
// stably for StableAfter is a new failure: its backoff and budget start over.
func TestAStableRunStartsANewRestartBudget(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1,
		Command: counted("a", "while [ ! -f crash ]; do sleep 0.02; done; rm crash; exit 1")}},
		supervisor.Config{Retries: 1, StableAfter: 10 * time.Minute})
	done := h.bootAsync()
	h.advanceWhen(time.Second)
	if err := h.wait(done); err != nil {
		t.Fatal(err)
	}
	crash := func() { _ = os.WriteFile(filepath.Join(h.workdir, "crash"), nil, 0o644) }
	for i := 1; i <= 3; i++ {
		h.clk.Advance(11 * time.Minute) // a stable run
		crash()
		h.advanceWhen(time.Second) // always the first backoff: the budget started over
		h.advanceWhen(time.Second) // grace
		wait.For(t, 15*time.Second, func() error {
			if c := h.comp("a"); c.Restarts != i || c.Status != bus.StatusHealthy || c.Crashes != 1 {
				return fmt.Errorf("after crash %d: %+v", i, c)
			}
			return nil
		})
	}
	if got := h.lad.failures(); len(got) != 0 {
		t.Fatalf("crashes after stable runs were escalated: %q", got)
	}
}

func TestHandOpenedIncidentThatFailsQuarantines(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600")}}, supervisor.Config{})
	done := h.bootAsync()
	h.advanceWhen(time.Second)
	if err := h.wait(done); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, isNew, err := h.sup.EscalateByHand(ctx, "a", "a: corrupt index")
	if err != nil || !isNew {
		t.Fatalf("escalate: %v %v", isNew, err)
	}
	h.lad.end("a", razar.IncidentFailed)
	wait.For(t, 15*time.Second, func() error {
		if c := h.comp("a"); c.Status != bus.StatusQuarantined || c.Incident != id || c.PID != 0 {
			return fmt.Errorf("a: %+v", c)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(h.home, "quarantine/a.json")); err != nil {
		t.Fatal(err)
	}
	m, _ := h.sup.View("")
	if m.Health != bus.HealthDegraded || !m.Problem() {
		t.Fatalf("mission with a quarantine: %s", m.Health)
	}
	if err := h.sup.Release(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// Released but down, and nothing will start it: not healthy.
	if m, _ := h.sup.View(""); m.Health != bus.HealthDegraded || !m.Problem() {
		t.Fatalf("mission after release: %+v", m)
	}
	// An operator's stop is a choice, not an outage.
	if err := h.sup.Stop(ctx, "a", "alice"); err != nil {
		t.Fatal(err)
	}
	if m, _ := h.sup.View(""); m.Health != bus.HealthHealthy || m.Problem() {
		t.Fatalf("mission with a held stop: %+v", m)
	}
}

// TestHaltedMissionStaysHaltedAfterAnOfflineRelease: a release lifts the
// quarantine but starts nothing, so the state file still says halted, with
// the component down and the next step, until the cycle goes on.
func TestHaltedMissionStaysHaltedAfterAnOfflineRelease(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600"), HealthCheck: unhealthy}}, supervisor.Config{Retries: 0})
	h.lad.verdict = razar.IncidentFailed
	done := h.bootAsync()
	h.advanceWhen(time.Second)
	if err := h.wait(done); !errors.Is(err, supervisor.ErrBootHalted) {
		t.Fatalf("boot: %v", err)
	}
	if m, _ := h.sup.View(""); m.Health != bus.HealthHalted || !strings.Contains(m.Next, "razar release a") || !strings.Contains(m.Next, "razar resume") {
		t.Fatalf("halted mission: %+v", m)
	}
	h.sup.Close()
	// RAZAR is stopped: release works on the files alone.
	if err := supervisor.ReleaseOffline(h.home, "a"); err != nil {
		t.Fatal(err)
	}
	st, err := supervisor.ReadState(h.home)
	if err != nil {
		t.Fatal(err)
	}
	if st.Health != bus.HealthHalted || len(st.Quarantine) != 0 || st.Components[0].Status != bus.StatusStopped || st.Next != "`razar resume`" || !st.Problem() {
		t.Fatalf("state after an offline release: %+v", st)
	}
	if err := supervisor.ReleaseOffline(h.home, "a"); !errors.Is(err, razar.ErrNotFound) {
		t.Fatalf("second release: %v, want not found", err)
	}
}

// TestDetachedComponentsAreAdoptedWithoutARestart: a RAZAR that detaches
// (or dies) leaves its components running; the next one adopts each by pid
// and start time, probes it, and restarts none that is healthy.
func TestDetachedComponentsAreAdoptedWithoutARestart(t *testing.T) {
	comps := func() []config.Component {
		return []config.Component{{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600"),
			HealthCheck: &razar.HealthCheck{Command: sh("true")}}}
	}
	h := newHost(t, comps(), supervisor.Config{Retries: 3})
	done := h.bootAsync()
	h.advanceWhen(time.Second)
	if err := h.wait(done); err != nil {
		t.Fatal(err)
	}
	pid := h.comp("a").PID
	h.sup.Detach()
	if !alive(pid) {
		t.Fatal("detach stopped the component")
	}
	h.sup = h.start(comps())
	if err := h.wait(h.bootAsync()); err != nil {
		t.Fatal(err)
	}
	a := h.comp("a")
	if a.PID != pid || !a.Adopted || a.Status != bus.StatusHealthy || h.starts("a") != 1 {
		t.Fatalf("after the new boot: %+v (was pid %d), started %d times", a, pid, h.starts("a"))
	}
	// The adopted process is supervised: its death is noticed and healed.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.advanceWhen(time.Second) // backoff
	h.advanceWhen(time.Second) // grace
	wait.For(t, 15*time.Second, func() error {
		if c := h.comp("a"); c.PID == pid || c.PID == 0 || c.Status != bus.StatusHealthy || c.Adopted {
			return fmt.Errorf("a after its adopted process died: %+v", c)
		}
		return nil
	})
	if !strings.Contains(h.comp("a").LastExit, "adopted") {
		t.Fatalf("last exit %q should say the status of an adopted process is unknown", h.comp("a").LastExit)
	}
}

// TestAReusedPidIsNeverAdopted: a pid file whose pid now belongs to another
// process (its start time differs) is not adopted, and that process is not
// signalled.
func TestAReusedPidIsNeverAdopted(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600")}}, supervisor.Config{})
	stranger, err := os.StartProcess("/bin/sleep", []string{"sleep", "600"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stranger.Kill(); _, _ = stranger.Wait() }()
	id, err := proc.Identify(stranger.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// A pid file as a dead RAZAR left it, for a process that had this pid.
	dir := filepath.Join(h.home, "state/components")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pf := fmt.Sprintf(`{"component": "a", "process": {"pid": %d, "start": %d}, "spec": "x", "log_from": 0}`, id.PID, id.Start-1)
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(pf), 0o600); err != nil {
		t.Fatal(err)
	}
	done := h.bootAsync()
	h.advanceWhen(time.Second)
	if err := h.wait(done); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 15*time.Second, func() error {
		if h.starts("a") != 1 {
			return fmt.Errorf("a started %d times, want once", h.starts("a"))
		}
		return nil
	})
	a := h.comp("a")
	if a.PID == stranger.Pid || a.Adopted {
		t.Fatalf("a: %+v, started %d times: a reused pid was adopted", a, h.starts("a"))
	}
	if !alive(stranger.Pid) {
		t.Fatal("the process that reused the pid was signalled")
	}
}

// TestReloadTouchesOnlyWhatChanged: a new component starts, a removed one
// stops, a changed one restarts, an unchanged one keeps its process.
func TestReloadTouchesOnlyWhatChanged(t *testing.T) {
	spec := func(name string, env map[string]string) config.Component {
		return config.Component{Name: name, Priority: 1, Command: counted(name, "exec sleep 600"), Env: env,
			Workdir: "", StartGrace: razar.Duration(time.Second)}
	}
	h := newHost(t, []config.Component{spec("keep", nil), spec("change", map[string]string{"V": "1"}), spec("drop", nil)}, supervisor.Config{})
	if err := h.bootTicking(); err != nil {
		t.Fatal(err)
	}
	keep, change, drop := h.comp("keep").PID, h.comp("change").PID, h.comp("drop").PID
	next := []config.Component{spec("keep", nil), spec("change", map[string]string{"V": "2"}), spec("add", nil)}
	for i := range next {
		next[i].Workdir = h.workdir
	}
	rep := h.sup.Reload(context.Background(), &config.BootConfig{Components: next})
	if fmt.Sprint(rep.Added, rep.Removed, rep.Changed, rep.Unchanged) != "[add] [drop] [change] [keep]" {
		t.Fatalf("report %+v", rep)
	}
	wait.For(t, 15*time.Second, func() error {
		h.clk.Advance(time.Second) // the graces of the two starts
		m, _ := h.sup.View("")
		got := map[string]bus.ComponentView{}
		for _, c := range m.Components {
			got[c.Name] = c
		}
		switch {
		case got["keep"].PID != keep:
			return fmt.Errorf("keep was touched: %+v", got["keep"])
		case got["change"].PID == change || got["change"].Status != bus.StatusHealthy:
			return fmt.Errorf("change was not restarted: %+v", got["change"])
		case got["add"].Status != bus.StatusHealthy:
			return fmt.Errorf("add was not started: %+v", got["add"])
		case len(got) != 3:
			return fmt.Errorf("components %v, want drop gone", m.Components)
		}
		return nil
	})
	if alive(drop) {
		t.Fatal("the removed component still runs")
	}
	if h.starts("keep") != 1 {
		t.Fatalf("keep started %d times", h.starts("keep"))
	}
}

// TestAbortDuringBootQuarantinesAndTheBootGoesOn: `razar abort` during a
// boot is the operator taking the incident: the component is quarantined,
// the cycle goes on to the next priority, nothing is rolled back and no
// halt is paged.
func TestAbortDuringBootQuarantinesAndTheBootGoesOn(t *testing.T) {
	h := newHost(t, []config.Component{
		{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600"), HealthCheck: unhealthy},
		{Name: "b", Priority: 2, Command: counted("b", "exec sleep 600")},
	}, supervisor.Config{Retries: 0})
	done := h.bootAsync()
	h.advanceWhen(time.Second)
	wait.For(t, 15*time.Second, func() error {
		if id, _ := h.lad.OpenIncident("a"); id == "" {
			return errors.New("no incident opened")
		}
		return nil
	})
	if _, err := h.lad.Abort(context.Background(), "a", "alice"); err != nil {
		t.Fatal(err)
	}
	h.advanceWhen(time.Second) // b's start grace
	if err := h.wait(done); err != nil {
		t.Fatalf("boot after an abort: %v, want it to go on", err)
	}
	if a := h.comp("a"); a.Status != bus.StatusQuarantined || a.PID != 0 {
		t.Fatalf("a after abort: %+v", a)
	}
	if b := h.comp("b"); b.Status != bus.StatusHealthy || b.PID == 0 {
		t.Fatalf("b after a's abort: %+v", b)
	}
	al := h.cfg.Alerts.(*alerts)
	al.mu.Lock()
	defer al.mu.Unlock()
	for _, m := range al.msgs {
		if strings.HasPrefix(m, "RazarBootHalted") {
			t.Fatalf("an abort paged the halt: %q", al.msgs)
		}
	}
	if m, _ := h.sup.View(""); m.Health != bus.HealthDegraded || m.Halted != "" || !m.Problem() {
		t.Fatalf("mission after an abort: %+v", m)
	}
}

// TestResumeTakesTheHaltedCycleOnInPriorityOrder: after a halt, resume is
// refused while the quarantine stands; once released, it brings up every
// component the halt left down, lower priority first, leaves alone what an
// operator stopped, and resolves the halt's page.
func TestResumeTakesTheHaltedCycleOnInPriorityOrder(t *testing.T) {
	h := newHost(t, []config.Component{
		{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600")},
		{Name: "b", Priority: 2, Command: counted("b", "if [ -f fixed ]; then exec sleep 600; fi; exit 3")},
		{Name: "c", Priority: 3, Command: counted("c", "exec sleep 600")},
		{Name: "d", Priority: 3, Command: counted("d", "exec sleep 600")},
	}, supervisor.Config{Retries: 0})
	h.lad.verdict = razar.IncidentFailed
	ctx := context.Background()
	if _, err := h.sup.Resume(ctx, nil); !errors.Is(err, supervisor.ErrNotHalted) {
		t.Fatalf("resume before any halt: %v, want ErrNotHalted", err)
	}
	if err := h.bootTicking(); !errors.Is(err, supervisor.ErrBootHalted) {
		t.Fatalf("boot: %v, want the halt", err)
	}
	m, _ := h.sup.View("")
	if m.Health != bus.HealthHalted || m.Halted == "" {
		t.Fatalf("after the halt: %+v", m)
	}
	if _, err := h.sup.Resume(ctx, nil); !errors.Is(err, supervisor.ErrQuarantined) || !strings.Contains(err.Error(), "razar release b") {
		t.Fatalf("resume with b quarantined: %v", err)
	}
	if got := h.starts("a") + h.starts("c"); got != 1 { // a, once, by the boot
		t.Fatalf("a refused resume started something: a+c started %d times", got)
	}
	if err := h.sup.Stop(ctx, "d", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.workdir, "fixed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.sup.Release(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if m, _ := h.sup.View(""); m.Health != bus.HealthHalted || m.Next != "`razar resume`" {
		t.Fatalf("after the release: %+v", m)
	}
	resumed := make(chan error, 1)
	cycle, err := h.sup.Resume(ctx, func(err error) { resumed <- err })
	if err != nil || cycle != m.Halted {
		t.Fatalf("resume: %q %v, want cycle %q", cycle, err, m.Halted)
	}
	if err := h.tickUntil(resumed); err != nil {
		t.Fatalf("resumed cycle: %v", err)
	}
	m, _ = h.sup.View("")
	if m.Health != bus.HealthHealthy || m.Halted != "" || m.Next != "" {
		t.Fatalf("after resume: %+v", m)
	}
	for _, n := range []string{"a", "b", "c"} {
		if c := h.comp(n); c.Status != bus.StatusHealthy || c.PID == 0 {
			t.Fatalf("%s after resume: %+v", n, c)
		}
	}
	if d := h.comp("d"); d.Status != bus.StatusStopped || !d.Held || h.starts("d") != 0 {
		t.Fatalf("d, stopped by an operator, after resume: %+v (started %d times)", d, h.starts("d"))
	}
	order, _ := os.ReadFile(filepath.Join(h.workdir, "starts"))
	if got := strings.Join(strings.Fields(string(order)), " "); got != "a b a b c" {
		t.Fatalf("start order %q, want the boot's a b, then the resumed cycle's a b c", got)
	}
	al := h.cfg.Alerts.(*alerts)
	al.mu.Lock()
	defer al.mu.Unlock()
	if last := al.resolved[len(al.resolved)-1]; last != bus.SystemComponent+" RazarBootHalted" {
		t.Fatalf("resolved %q, want the halt's page resolved last", al.resolved)
	}
}

// TestLastOutputIsThisRunsOnly: the failure a restart or the ladder is
// given quotes what the failing run wrote, never an earlier run's lines.
func TestLastOutputIsThisRunsOnly(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1,
		Command:     counted("a", `if [ ! -f ran ]; then touch ran; echo "first run: stale line"; exec sleep 600; fi; echo "second run: bad config"; exit 2`),
		HealthCheck: &razar.HealthCheck{Command: sh("while [ ! -f ran ]; do sleep 0.02; done"), Timeout: razar.Duration(20 * time.Second)}}}, supervisor.Config{Retries: 0})
	done := h.bootAsync()
	h.advanceWhen(time.Second)
	if err := h.wait(done); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 15*time.Second, func() error {
		data, _ := os.ReadFile(filepath.Join(h.home, "logs/components/a.log"))
		if !strings.Contains(string(data), "stale line") {
			return errors.New("the first run has not written its line")
		}
		return nil
	})
	if err := h.sup.Stop(context.Background(), "a", "test"); err != nil {
		t.Fatal(err)
	}
	// The second run exits in its grace, which the fake clock never ends.
	if err := h.sup.Start(context.Background(), "a"); err == nil || !strings.Contains(err.Error(), "second run: bad config") || strings.Contains(err.Error(), "stale line") {
		t.Fatalf("start error %v: want this run's output and not the earlier run's", err)
	}
}

// TestAStopHoldsAcrossARazarRestart: an operator's stop is kept on disk; the
// next RAZAR on the home leaves the component down until `razar start`.
func TestAStopHoldsAcrossARazarRestart(t *testing.T) {
	comps := func() []config.Component {
		return []config.Component{{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600")}}
	}
	h := newHost(t, comps(), supervisor.Config{})
	if err := h.bootTicking(); err != nil {
		t.Fatal(err)
	}
	if err := h.sup.Stop(context.Background(), "a", "alice"); err != nil {
		t.Fatal(err)
	}
	h.sup.Close()
	h.sup = h.start(comps())
	if err := h.bootTicking(); err != nil {
		t.Fatal(err)
	}
	if a := h.comp("a"); a.Status != bus.StatusStopped || !a.Held || a.PID != 0 {
		t.Fatalf("a after a RAZAR restart: %+v, want still stopped by the operator", a)
	}
	started := make(chan error, 1)
	go func() { started <- h.sup.Start(context.Background(), "a") }()
	if err := h.tickUntil(started); err != nil {
		t.Fatal(err)
	}
	h.sup.Close()
	h.sup = h.start(comps())
	if err := h.bootTicking(); err != nil {
		t.Fatal(err)
	}
	if a := h.comp("a"); a.Held || a.Status != bus.StatusHealthy {
		t.Fatalf("a after start and another restart: %+v, want running", a)
	}
}

// TestHealthyComponentsBeatAtStartAndAfterEachPassingProbe: a component
// heartbeats (kind component, with the host) when its start probe passes
// and after each passing periodic probe, and falls silent once a probe
// fails: the chakra service measures its pulse from exactly these.
func TestHealthyComponentsBeatAtStartAndAfterEachPassingProbe(t *testing.T) {
	h := newHost(t, []config.Component{{Name: "a", Priority: 1, Chakra: "root", Command: sh("exec sleep 600"),
		HealthCheck: &razar.HealthCheck{Command: sh("test ! -f broken")}}},
		supervisor.Config{Retries: 3, ProbeInterval: 30 * time.Second, Host: "node-1"})
	var mu sync.Mutex
	var beats []bus.Heartbeat
	sentinels := 0
	stop, err := bus.Serve(h.env.NC, bus.HeartbeatSubject("*"), func(m *bus.Request) {
		var hb bus.Heartbeat
		if err := bus.Decode(m.Data, &hb); err != nil {
			t.Errorf("undecodable heartbeat on %s: %v", m.Subject, err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if hb.Name == "sentinel" {
			sentinels++
			return
		}
		if m.Subject != bus.HeartbeatSubject(hb.Name) {
			t.Errorf("heartbeat of %s on %s", hb.Name, m.Subject)
		}
		beats = append(beats, hb)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(beats) }
	// flushed waits until a beat published after everything the supervisor
	// sent has arrived: one connection's messages arrive in order.
	flushed := func() {
		t.Helper()
		mu.Lock()
		want := sentinels + 1
		mu.Unlock()
		bus.Beat(h.env.NC, &bus.Heartbeat{Name: "sentinel", Kind_: "component"})
		wait.For(t, 15*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			if sentinels < want {
				return errors.New("the sentinel beat has not arrived")
			}
			return nil
		})
	}

	if err := h.bootTicking(); err != nil {
		t.Fatalf("boot: %v", err)
	}
	flushed()
	if n := count(); n != 1 {
		t.Fatalf("%d heartbeats after the boot, want 1 (the start probe passed)", n)
	}
	mu.Lock()
	first := beats[0]
	mu.Unlock()
	if first.Name != "a" || first.Kind_ != "component" || first.Status != bus.StatusHealthy || first.Host != "node-1" ||
		!strings.HasPrefix(first.Detail, "pid ") || first.Time.IsZero() || first.Time.After(h.clk.Now()) {
		t.Fatalf("start heartbeat: %+v", first)
	}

	ctx, cancel := context.WithCancel(context.Background())
	supDone := make(chan struct{})
	go func() { defer close(supDone); h.sup.Supervise(ctx) }()
	defer func() { cancel(); <-supDone }()
	for i := 2; i <= 3; i++ {
		h.advanceWhen(30 * time.Second)
		wait.For(t, 15*time.Second, func() error {
			if n := count(); n != i {
				return fmt.Errorf("%d heartbeats, want %d after %d passing periodic probes", n, i, i-1)
			}
			return nil
		})
	}

	if err := os.WriteFile(filepath.Join(h.workdir, "broken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.advanceWhen(30 * time.Second)
	wait.For(t, 15*time.Second, func() error {
		if st := h.comp("a").Status; st == bus.StatusHealthy {
			return errors.New("a is still healthy after a failing probe")
		}
		return nil
	})
	flushed()
	if n := count(); n != 3 {
		t.Fatalf("%d heartbeats, want still 3: a failing probe must not beat", n)
	}
}
