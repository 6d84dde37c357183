package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
)

func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestAbortEndsTheIncidentAndCutsTheAttemptShort: an operator's abort
// while a rung holds the attempt ends the incident aborted, the attempt
// with it, and a second abort finds nothing open.
func TestAbortEndsTheIncidentAndCutsTheAttemptShort(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute)}, nil)
	l.answer("crown", silent)
	id := l.escalate("web: down")
	l.pending(id, "crown")
	if _, rung := l.o().OpenIncident("web"); rung != "crown" {
		t.Errorf("OpenIncident's rung %q, want crown", rung)
	}
	got, err := l.o().Abort(bg(t), "web", "alice")
	if err != nil || got != id {
		t.Fatalf("abort: %s %v", got, err)
	}
	rec := l.wait(id)
	if rec.State != razar.IncidentAborted || rec.Reason != "aborted by alice" || attemptsOf(rec) != "crown:aborted" {
		t.Fatalf("incident %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
	if got := events(l.audit(id), bus.EventAttempt, bus.EventAborted); got != "attempt aborted" {
		t.Errorf("audit: %s", got)
	}
	if _, err := l.o().Abort(bg(t), "web", "alice"); !isNotFound(err) {
		t.Errorf("second abort: %v, want not found", err)
	}
}

// TestARungThatCannotRunIsSkipped: k2's process reports it cannot run
// (its heartbeat says why), rstar is outside its schedule: each is
// skipped with its reason, counted, recorded; the ladder goes on.
func TestARungThatCannotRunIsSkipped(t *testing.T) {
	night := takeoverRung("rstar", 20*time.Second)
	night.Schedule = &config.Schedule{From: "01:00", To: "02:00"} // the fake clock says 15:00 UTC
	l := newLoop(t, []config.AgentEntry{execRung("k2", 20*time.Second), execRung("airstar", 20*time.Second), night},
		func(c *Config) { c.Threshold = 1 })
	l.heartbeat("k2", false, "credential variable K2_API_KEY is unset")
	l.answer("airstar", says(razar.StatusNoFix, "not mine"))
	id := l.escalate("web: down")
	rec := l.wait(id)
	if rec.State != razar.IncidentFailed || attemptsOf(rec) != "airstar:no_fix" {
		t.Fatalf("incident %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
	if len(rec.Skips) != 2 || rec.Skips[0].Rung != "k2" || rec.Skips[0].Reason != "credential variable K2_API_KEY is unset" ||
		rec.Skips[1].Rung != "rstar" || !strings.HasPrefix(rec.Skips[1].Reason, "outside its schedule") {
		t.Errorf("skips %+v", rec.Skips)
	}
	if !strings.Contains(rec.Reason, "takeover rung rstar cannot run") {
		t.Errorf("reason %q", rec.Reason)
	}
	if n := value(l.metrics.Skipped.WithLabelValues("web", "k2")); n != 1 {
		t.Errorf("k2 skipped %v", n)
	}
	if got := events(l.audit(id), bus.EventSkipped, bus.EventAttempt); got != "skipped attempt skipped" {
		t.Errorf("audit: %s", got)
	}
	// Status shows each rung as its process reports it, or why not.
	incs, rungs, err := l.o().Status(bg(t), "web")
	if err != nil || len(incs) != 1 || incs[0].ID != id {
		t.Fatalf("status: %v %v", incs, err)
	}
	var st []string
	for _, r := range rungs {
		st = append(st, fmt.Sprintf("%s:%v", r.Name, r.Ready))
	}
	if got := strings.Join(st, " "); got != "k2:false airstar:true rstar:true" {
		t.Errorf("rungs %s", got)
	}
}

// TestLongTaskWaitsForARungToComeBack: with --long-task and no rung able
// to run, the incident waits (on the fake clock), says when it tries
// again, and heals once the rung is back, after the extended backoff.
func TestLongTaskWaitsForARungToComeBack(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second)}, func(c *Config) {
		c.LongTask, c.Threshold = true, 3
	})
	l.heartbeat("crown", false, "no endpoint")
	l.answer("crown", l.heals("back and fixed"))
	id := l.escalate("web: down")
	ctx := bg(t)
	waitFor := func(d time.Duration) {
		t.Helper()
		if !l.clk.WaitFor(ctx, func(w time.Duration) bool { return w == d }) {
			t.Fatalf("nothing waits %v", d)
		}
	}
	waitFor(time.Second) // the round in which nothing could run
	if next := l.o().NextAttempt("web"); !next.Equal(l.clk.Now().Add(time.Second)) {
		t.Errorf("NextAttempt %v, want %v", next, l.clk.Now().Add(time.Second))
	}
	l.heartbeat("crown", true, "")
	l.clk.Advance(time.Second)
	waitFor(2 * time.Second) // extended: the attempt's backoff
	l.clk.Advance(2 * time.Second)
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:healed" || len(rec.Skips) != 1 {
		t.Fatalf("incident %s %q: %s, skips %+v", rec.State, rec.Reason, attemptsOf(rec), rec.Skips)
	}
	if !l.o().NextAttempt("web").IsZero() {
		t.Error("NextAttempt after the end")
	}
}

// TestTokenBudgetEndsTheLadder: once the rungs' models have spent the
// incident's token budget, no rung is asked again.
func TestTokenBudgetEndsTheLadder(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second)}, func(c *Config) { c.TokenBudget = 1000 })
	l.answer("crown", func(*bus.Escalation) *bus.Result {
		return &bus.Result{Status: razar.StatusNoFix, Summary: "thought hard", Usage: &razar.Usage{Prompt: 800, Completion: 300}}
	})
	rec := l.wait(l.escalate("web: down"))
	if rec.State != razar.IncidentFailed || attemptsOf(rec) != "crown:no_fix" || !strings.HasPrefix(rec.Reason, "token budget reached: the rungs' models spent 1100 tokens") {
		t.Fatalf("incident %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
	if n := value(l.metrics.Tokens.WithLabelValues("crown", "web", "prompt")); n != 800 {
		t.Errorf("prompt tokens %v", n)
	}
}

// TestEscalationWarningCountsTheCycle: at RAZAR_ESCALATION_WARNING_THRESHOLD
// escalations of one boot cycle a warning alert names the hand-over.
func TestEscalationWarningCountsTheCycle(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second), execRung("k2", time.Minute)}, func(c *Config) {
		c.WarnThreshold = 3
	})
	l.answer("crown", says(razar.StatusNoFix, "no"))
	l.answer("k2", silent)
	var ids []string
	for i := 0; i < 2; i++ {
		id, _, err := l.o().Escalate(bg(t), "web", "web: down", "cycle-1")
		if err != nil {
			t.Fatal(err)
		}
		// Two hand-overs each (razar to crown, crown to k2), one incident after the other.
		l.pending(id, "k2")
		_, _ = l.o().Abort(bg(t), "web", "test")
		l.wait(id)
		l.released(id)
		ids = append(ids, id)
	}
	a := l.alerted("", "firing", ids[1])
	if a.Severity != bus.SeverityWarning || !strings.Contains(a.Message, "escalation 3 of this cycle (RAZAR_ESCALATION_WARNING_THRESHOLD=3)") {
		t.Errorf("alert %+v", a)
	}
	for _, x := range l.alerts("") {
		if x.Severity == bus.SeverityWarning && x.Incident == ids[0] {
			t.Errorf("a warning for the first incident's two escalations: %+v", x)
		}
	}
}

// TestARestartedOrchestratorResumesTheOpenIncident: killed while a rung
// holds the attempt, the next orchestrator on the same store resumes it:
// the answer the rung gives then counts, once.
func TestARestartedOrchestratorResumesTheOpenIncident(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute)}, nil)
	release := make(chan struct{})
	heal := l.heals("fixed after the restart")
	l.answer("crown", func(esc *bus.Escalation) *bus.Result {
		<-release
		return heal(esc)
	})
	var once bool
	free := func() {
		if !once {
			once = true
			close(release)
		}
	}
	t.Cleanup(free) // runs before the stand-in's stop: it is waiting here
	id := l.escalate("web: down")
	l.pending(id, "crown")
	bustest.Eventually(t, 10*time.Second, func() bool { return len(l.escalations("crown")) == 1 }, "crown never got the attempt")
	l.restart()
	if got, _ := l.o().OpenIncident("web"); got != id {
		t.Fatalf("the new orchestrator runs %q, want %s resumed", got, id)
	}
	free()
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:healed" {
		t.Fatalf("incident %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
	if n := len(l.escalations("crown")); n != 1 {
		t.Errorf("crown took the attempt %d times: the re-sent escalation was not deduplicated", n)
	}
}

// TestAnswersThatDoNotCountAreIgnoredAndSwept: answers on another rung's
// subject, to another attempt, naming another incident, malformed, or to
// an incident that does not exist are ignored; the ones that answer no
// question are deleted from the stream; the right answer heals.
func TestAnswersThatDoNotCountAreIgnoredAndSwept(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute), execRung("k2", time.Minute)}, nil)
	ready := make(chan *bus.Escalation, 1)
	l.answer("crown", func(esc *bus.Escalation) *bus.Result { ready <- esc; return nil })
	id := l.escalate("web: down")
	esc := <-ready
	ctx := bg(t)
	publish := func(subject string, r *bus.Result) {
		t.Helper()
		if err := l.env.Store.Publish(ctx, subject, "", r); err != nil {
			t.Fatal(err)
		}
	}
	fixed := func(incident string, attempt int, rung string) *bus.Result {
		return &bus.Result{Incident: incident, Attempt: attempt, Rung: rung, Status: razar.StatusFixed, Summary: "not this one"}
	}
	if err := os.WriteFile(filepath.Join(l.workdir, "healed"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	publish(bus.ResultSubject(id, "k2"), fixed(id, 1, "k2"))                // k2 does not hold the attempt
	publish(bus.ResultSubject(id, "crown"), fixed(id, 2, "crown"))          // attempt 2 is not pending
	publish(bus.ResultSubject(id, "crown"), fixed("inc-other", 1, "crown")) // names another incident
	if _, err := l.env.Store.PublishRaw(ctx, bus.ResultSubject(id, "crown"), []byte(`{"v":1,"kind":"result"`)); err != nil {
		t.Fatal(err)
	}
	publish(bus.ResultSubject("inc-19990101-000000-abcdef", "crown"), fixed("inc-19990101-000000-abcdef", 1, "crown"))
	bustest.Eventually(t, 10*time.Second, func() bool {
		data, _ := l.env.Store.LastResult(ctx, "inc-19990101-000000-abcdef", "crown")
		return data == nil
	}, "the answer to an incident that does not exist was not swept")
	if rec, _, _ := l.env.Store.Incident(ctx, id); rec.State != razar.IncidentOpen || rec.Pending == nil {
		t.Fatalf("an answer that does not count moved the incident: %+v", rec)
	}
	publish(bus.ResultSubject(id, "crown"), fixed(id, esc.Attempt, "crown"))
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:healed" {
		t.Fatalf("incident %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
}

// TestReopenWhenTheFixDoesNotHold: web fails again right after its heal:
// the incident is opened again and climbs on; past MaxReopens it fails,
// so no more rungs are paid for a fix that never holds.
func TestReopenWhenTheFixDoesNotHold(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second)}, func(c *Config) { c.MaxReopens = 1 })
	l.answer("crown", l.heals("restarted"))
	ctx := bg(t)
	if id, err := l.o().Reopen(ctx, "web", "web: down"); id != "" || err != nil {
		t.Fatalf("reopen with no healed incident: %q %v", id, err)
	}
	id := l.escalate("web: down")
	l.wait(id)
	got, err := l.o().Reopen(ctx, "web", "web: down again")
	if err != nil || got != id {
		t.Fatalf("reopen: %q %v, want %s", got, err, id)
	}
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed || rec.Reopened != 1 || attemptsOf(rec) != "crown:healed crown:healed" || rec.Error != "web: down again" {
		t.Fatalf("reopened incident %s, reopened %d: %s", rec.State, rec.Reopened, attemptsOf(rec))
	}
	got, err = l.o().Reopen(ctx, "web", "web: down a third time")
	if err != nil || got != id {
		t.Fatalf("reopen past the limit: %q %v", got, err)
	}
	rec = l.wait(id)
	if rec.State != razar.IncidentFailed || !strings.HasPrefix(rec.Reason, "its fixes never held: web failed again within 5m0s of each heal, 2 times") {
		t.Fatalf("incident %s %q", rec.State, rec.Reason)
	}
	if got := events(l.audit(id), bus.EventReopened); got != "reopened reopened" {
		t.Errorf("audit: %s", got)
	}
}

// TestReopenOff: a negative settle window turns reopening off.
func TestReopenOff(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second)}, func(c *Config) { c.SettleWindow = -1 })
	l.answer("crown", l.heals("restarted"))
	l.wait(l.escalate("web: down"))
	if id, err := l.o().Reopen(bg(t), "web", "web: down"); id != "" || err != nil {
		t.Fatalf("reopen with reopening off: %q %v", id, err)
	}
}

// TestEscalateAndWaitSayWhatIsWrong: the errors of the incident verbs.
func TestEscalateAndWaitSayWhatIsWrong(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute)}, nil)
	l.answer("crown", silent)
	ctx := bg(t)
	if _, _, err := l.o().Escalate(ctx, "Web Server", "x", ""); err == nil || !strings.HasPrefix(err.Error(), "component: ") {
		t.Errorf("escalate a bad name: %v", err)
	}
	if _, _, err := l.o().Escalate(ctx, "db", "x", ""); !isNotFound(err) {
		t.Errorf("escalate an unknown component: %v", err)
	}
	if _, err := l.o().Wait(ctx, "inc-19990101-000000-abcdef"); !isNotFound(err) {
		t.Errorf("wait for an unknown incident: %v", err)
	}
	id := l.escalate("web: down")
	again, opened, err := l.o().Escalate(ctx, "web", "web: still down", "")
	if err != nil || opened || again != id {
		t.Errorf("escalate while open: %s %v %v, want %s not new", again, opened, err, id)
	}
	if _, err := l.o().Abort(ctx, "web", "test"); err != nil {
		t.Fatal(err)
	}
	l.wait(id)
	l.released(id)
	// A second incident, and the list is newest first.
	id2 := l.escalate("web: down again")
	recs, err := l.o().Incidents(ctx)
	if err != nil || len(recs) != 2 || recs[0].ID != id2 || recs[1].ID != id {
		t.Fatalf("incidents: %v %v", recs, err)
	}
	all, _, err := l.o().Status(ctx, bus.AllComponents)
	if err != nil || len(all) != 2 {
		t.Fatalf("status of all: %d %v", len(all), err)
	}
	if _, err := l.o().Abort(ctx, "web", "test"); err != nil {
		t.Fatal(err)
	}
	l.wait(id2)
}

// TestEscalateBeforeRun: an incident opened before the orchestrator runs
// is stored, and says it resumes when it starts.
func TestEscalateBeforeRun(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute)}, nil)
	o, err := New(l.env.Store, l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	id, opened, err := o.Escalate(bg(t), "web", "web: down", "")
	if !opened || err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("escalate before Run: %s %v %v", id, opened, err)
	}
	rec, _, err := l.env.Store.Incident(bg(t), id)
	if err != nil || rec.State != razar.IncidentOpen {
		t.Fatalf("stored: %+v %v", rec, err)
	}
}

// TestNewRefusesABadConfig: New's checks, each wrapping ErrInvalidConfig.
func TestNewRefusesABadConfig(t *testing.T) {
	l := newLoop(t, nil, nil)
	ok := l.cfg
	for name, c := range map[string]Config{
		"no roster":          {Components: ok.Components},
		"negative T":         {Roster: ok.Roster, Components: ok.Components, Threshold: -1},
		"bad new-files rule": {Roster: ok.Roster, Components: ok.Components, FixMemoryNewFiles: "sometimes"},
	} {
		if _, err := New(l.env.Store, c); !errors.Is(err, razar.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := New(nil, ok); !errors.Is(err, razar.ErrInvalidConfig) {
		t.Errorf("no store: %v", err)
	}
	if err := l.o().SetThresholds(Thresholds{Threshold: 1, RemoteAttempts: 0}); !errors.Is(err, razar.ErrInvalidConfig) {
		t.Errorf("SetThresholds with no attempts: %v", err)
	}
}

// TestSetThresholdsAppliesToNewIncidents: a reload's ladder settings are
// the policy of the incidents opened after it.
func TestSetThresholdsAppliesToNewIncidents(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute), takeoverRung("rstar", time.Minute)}, nil)
	l.answer("crown", silent)
	if err := l.o().SetThresholds(Thresholds{Threshold: 2, WarnThreshold: 1, RemoteAttempts: 2, LongTask: true, TokenBudget: 50}); err != nil {
		t.Fatal(err)
	}
	id := l.escalate("web: down")
	rec, _, err := l.env.Store.Incident(bg(t), id)
	if err != nil {
		t.Fatal(err)
	}
	want := bus.Policy{Local: []string{"crown"}, Takeover: "rstar", Threshold: 2, WarnThreshold: 1, RemoteAttempts: 2, LongTask: true, TokenBudget: 50}
	if fmt.Sprint(rec.Policy) != fmt.Sprint(want) {
		t.Errorf("policy %+v, want %+v", rec.Policy, want)
	}
	if _, err := l.o().Abort(bg(t), "web", "test"); err != nil {
		t.Fatal(err)
	}
	l.wait(id)
}

// TestRetentionExpiresEndedIncidents: ended incidents older than the
// retention leave RAZAR_STATE; open and recent ones stay.
func TestRetentionExpiresEndedIncidents(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute)}, func(c *Config) { c.Retention = time.Hour })
	ctx := bg(t)
	old := time.Now().Add(-2 * time.Hour).UTC()
	for _, r := range []*bus.IncidentRecord{
		{ID: "inc-20261207-100000-aaaaaa", Component: "web", State: razar.IncidentHealed, Opened: old, Updated: old},
		{ID: "inc-20261207-100000-bbbbbb", Component: "web", State: razar.IncidentFailed, Opened: old, Updated: time.Now().UTC()},
	} {
		if _, err := l.env.Store.CreateIncident(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// expire ran at the start; its next round is Retention/10 away on the fake clock.
	if !l.clk.WaitFor(ctx, func(d time.Duration) bool { return d == 6*time.Minute }) {
		t.Fatal("expire does not wait its round")
	}
	l.clk.Advance(6 * time.Minute)
	bustest.Eventually(t, 10*time.Second, func() bool {
		_, _, err := l.env.Store.Incident(ctx, "inc-20261207-100000-aaaaaa")
		return isNotFound(err)
	}, "the old ended incident was not expired")
	if _, _, err := l.env.Store.Incident(ctx, "inc-20261207-100000-bbbbbb"); err != nil {
		t.Errorf("the recent one: %v", err)
	}
}

// TestRungConsumersAreDeclaredAndHandedBack: DeclareRungs declares every
// rung's consumer (again after a reload); HandBackAttempts finds none
// unsettled on a fresh store.
func TestRungConsumersAreDeclaredAndHandedBack(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute)}, nil)
	l.setRoster(execRung("crown", time.Minute), execRung("k2", time.Minute))
	if err := l.o().DeclareRungs(bg(t)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range l.env.Store.ConsumerNames(bg(t)) {
		names = append(names, n)
	}
	if got := strings.Join(names, " "); !strings.Contains(got, bus.ConsumerName("k2")) {
		t.Errorf("consumers %s", got)
	}
	if n, err := l.o().HandBackAttempts(bg(t)); n != 0 || err != nil {
		t.Errorf("hand back: %d %v", n, err)
	}
}

// TestHeartbeatsThatDoNotNameTheirSubjectAreIgnored: a rung reports on
// its own heartbeat subject; a beat naming another rung, or a rung not on
// the roster, changes no status.
func TestHeartbeatsThatDoNotNameTheirSubjectAreIgnored(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute), execRung("k2", time.Minute)}, nil)
	for subject, name := range map[string]string{bus.HeartbeatSubject("k2"): "crown", bus.HeartbeatSubject("ghost"): "ghost"} {
		data, err := bus.Encode(&bus.Heartbeat{Name: name, Kind_: "agent", Status: "unavailable", Time: time.Now().UTC()})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.env.NC.Publish(subject, data); err != nil {
			t.Fatal(err)
		}
	}
	l.heartbeat("k2", true, "") // recorded after the beats before it were judged
	for _, rung := range []string{"crown", "ghost"} {
		if st, err := l.env.Store.AgentStatus(bg(t), rung); err == nil {
			t.Errorf("%s's status was recorded from a beat on another subject: %+v", rung, st)
		}
	}
}
