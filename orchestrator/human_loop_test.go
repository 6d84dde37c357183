package orchestrator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
)

// operatorDesk serves the lifecycle bus with the orchestrator's verbs, as
// `razar boot` does; requests come from the identity set with as.
type operatorDesk struct {
	mu  sync.Mutex
	who auth.Identity
}

func (d *operatorDesk) as(id auth.Identity) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.who = id
}

var (
	alice = auth.Identity{Name: "alice", Role: auth.Operator}
	robot = auth.Identity{Name: "razar", Role: auth.Orchestrator} // may send verbs, may not decide for a person
)

func (l *loop) lifecycle() *operatorDesk {
	l.t.Helper()
	d := &operatorDesk{who: alice}
	lc, err := bus.NewLifecycle(l.env.NC, bus.LifecycleConfig{
		Audit: func(ctx context.Context, r *bus.AuditRecord) error { return l.env.Store.Audit(ctx, r, "") },
		Log:   zerolog.Nop(),
		Identify: func(bus.RequestInfo) (auth.Identity, error) {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.who, nil
		},
	})
	if err != nil {
		l.t.Fatal(err)
	}
	l.o().Register(lc)
	l.o().RegisterFixes(lc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = lc.Run(ctx) }()
	l.t.Cleanup(func() { cancel(); <-done })
	// Serving once a request is answered.
	bustest.Eventually(l.t, 10*time.Second, func() bool {
		rep, _ := bus.Command(ctx, l.env.NC, bus.VerbFixes, "web", nil)
		return rep != nil // answered, whatever it says
	}, "the lifecycle bus does not answer")
	return d
}

// command sends verb about web on the lifecycle bus.
func (l *loop) command(verb bus.Verb, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return bus.Command(ctx, l.env.NC, verb, "web", req)
}

// humanLadder: crown proposes a patch that does not help, then oncall (a
// person) is paged, then k2 heals.
func humanLadder(t *testing.T) (*loop, *operatorDesk) {
	l := newLoop(t, []config.AgentEntry{
		execRung("crown", 20*time.Second), humanRung("oncall", time.Hour, 10*time.Minute), execRung("k2", 20*time.Second),
	}, nil)
	l.answer("crown", func(*bus.Escalation) *bus.Result {
		return &bus.Result{Status: razar.StatusNoFix, Summary: "the config looks wrong", Diff: "--- a/app.conf\n+++ b/app.conf\n@@ -1 +1 @@\n-port=abc\n+port=8080\n"}
	})
	l.answer("k2", l.heals("k2 fixed it"))
	return l, l.lifecycle()
}

// paged waits for oncall's page of incident id.
func (l *loop) paged(id string) bus.AlertMsg {
	l.t.Helper()
	l.pending(id, "oncall")
	return l.alerted(HumanPage, "firing", id)
}

// TestHumanRungAckThatRunsOut: the page carries the history and the
// commands that answer it; an ack holds the ladder for the rung's
// ack_timeout, then the attempt times out naming the ack, a warning
// fires, and k2 takes the incident.
func TestHumanRungAckThatRunsOut(t *testing.T) {
	l, _ := humanLadder(t)
	id := l.escalate("web: down")
	page := l.paged(id)
	for _, want := range []string{"needs a person: oncall holds attempt 2", "1. crown: no_fix; the config looks wrong", "proposed patch:", "razar ack web"} {
		if !strings.Contains(page.Message, want) {
			t.Errorf("the page does not say %q:\n%s", want, page.Message)
		}
	}
	rep, err := l.command(bus.VerbAck, nil)
	if err != nil || rep.Incident != id || !strings.HasPrefix(rep.Message, "acknowledged by alice") {
		t.Fatalf("ack: %+v %v", rep, err)
	}
	rec, _, _ := l.env.Store.Incident(bg(t), id)
	if rec.Pending == nil || rec.Pending.AckedBy != "alice" {
		t.Fatalf("the ack is not stored: %+v", rec.Pending)
	}
	if !l.clk.WaitFor(bg(t), func(d time.Duration) bool { return d > 9*time.Minute && d <= 10*time.Minute }) {
		t.Fatal("the page does not wait for the ack's end")
	}
	l.clk.Advance(10 * time.Minute)
	rec = l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:no_fix oncall:timeout k2:healed" {
		t.Fatalf("incident %s: %s", rec.State, attemptsOf(rec))
	}
	if a := rec.Attempts[1]; !strings.Contains(a.Error, "acknowledged by alice") || !strings.Contains(a.Error, "ack_timeout 10m0s") {
		t.Errorf("the acked attempt: %+v", a)
	}
	l.alerted(HumanAckExpired, "firing", id)
	l.alerted(HumanPage, "resolved", id)
}

// TestHumanRungUnanswered: a page nobody answers times out at the
// attempt's deadline, and the ladder moves on.
func TestHumanRungUnanswered(t *testing.T) {
	l, _ := humanLadder(t)
	id := l.escalate("web: down")
	l.paged(id)
	if !l.clk.WaitFor(bg(t), func(d time.Duration) bool { return d > 59*time.Minute && d <= time.Hour }) {
		t.Fatal("the page does not wait for its deadline")
	}
	l.clk.Advance(time.Hour)
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:no_fix oncall:timeout k2:healed" ||
		!strings.HasPrefix(rec.Attempts[1].Error, "no operator answered the page") {
		t.Fatalf("incident %s: %s %+v", rec.State, attemptsOf(rec), rec.Attempts)
	}
}

// TestHumanRungPass: a pass hands the incident to the next rung at once.
func TestHumanRungPass(t *testing.T) {
	l, _ := humanLadder(t)
	id := l.escalate("web: down")
	l.paged(id)
	rep, err := l.command(bus.VerbPass, &bus.LifecycleRequest{Summary: "not a people problem"})
	if err != nil || !strings.HasPrefix(rep.Message, "passed by alice") {
		t.Fatalf("pass: %+v %v", rep, err)
	}
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:no_fix oncall:passed k2:healed" {
		t.Fatalf("incident %s: %s", rec.State, attemptsOf(rec))
	}
	if a := rec.Attempts[1]; a.Actor != "alice" || a.Summary != "passed by alice: not a people problem" {
		t.Errorf("the passed attempt: %+v", a)
	}
}

// TestHumanRungResolve: a resolve is a fix by hand, verified like any;
// it heals the incident in the person's name.
func TestHumanRungResolve(t *testing.T) {
	l, _ := humanLadder(t)
	id := l.escalate("web: down")
	l.paged(id)
	if err := os.WriteFile(filepath.Join(l.workdir, "healed"), []byte("by hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := l.command(bus.VerbResolve, &bus.LifecycleRequest{Summary: "freed the port"})
	if err != nil || !strings.HasPrefix(rep.Message, "resolved by alice") {
		t.Fatalf("resolve: %+v %v", rep, err)
	}
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:no_fix oncall:healed" || rec.Reason != "alice (oncall) fixed it by hand on attempt 2" {
		t.Fatalf("incident %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
}

// TestAnswersAndVerbsSayWhatIsWrong: who may answer a page, and what a
// verb says when there is nothing to answer or decide.
func TestAnswersAndVerbsSayWhatIsWrong(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute)}, nil)
	l.answer("crown", silent)
	desk := l.lifecycle()
	if _, err := l.command(bus.VerbAck, nil); err == nil || !strings.Contains(err.Error(), "no open incident for web") {
		t.Errorf("ack with no incident: %v", err)
	}
	if _, _, err := l.o().Answer(bg(t), "web", bus.VerbAck, "alice", ""); !isNotFound(err) {
		t.Errorf("Answer with no incident: %v", err)
	}
	id := l.escalate("web: down")
	l.pending(id, "crown")
	if _, err := l.command(bus.VerbPass, nil); err == nil || !strings.Contains(err.Error(), "waits for no person: its attempt is held by crown") {
		t.Errorf("pass to a rung that is not a person: %v", err)
	}
	for _, v := range []bus.Verb{bus.VerbApprove, bus.VerbReject} {
		if _, err := l.command(v, nil); err == nil || !strings.Contains(err.Error(), "name the patch") {
			t.Errorf("%s without a patch: %v", v, err)
		}
		if _, err := l.command(v, &bus.LifecycleRequest{Patch: "p-nope"}); !isNotFound(err) && (err == nil || !strings.Contains(err.Error(), "p-nope")) {
			t.Errorf("%s of a patch that does not wait: %v", v, err)
		}
	}
	desk.as(robot)
	for _, v := range []bus.Verb{bus.VerbAck, bus.VerbApprove} {
		if _, err := l.command(v, &bus.LifecycleRequest{Patch: "p-1"}); err == nil || !strings.Contains(err.Error(), "operator identity") {
			t.Errorf("%s by a non-operator: %v", v, err)
		}
	}
	desk.as(alice)
	for _, v := range []bus.Verb{bus.VerbAbort, bus.VerbAck} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := bus.Command(ctx, l.env.NC, v, bus.AllComponents, nil)
		cancel()
		if err == nil || !strings.Contains(err.Error(), bus.ErrAllComponents.Error()) {
			t.Errorf("%s of every component: %v", v, err)
		}
	}
	rep, err := l.command(bus.VerbAbort, nil)
	if err != nil || rep.Incident != id || !strings.Contains(rep.Message, "incident aborted") {
		t.Fatalf("abort: %+v %v", rep, err)
	}
	if rec := l.wait(id); rec.State != razar.IncidentAborted || rec.Reason != "aborted by alice" {
		t.Errorf("incident %s %q", rec.State, rec.Reason)
	}
	if _, err := l.command(bus.VerbAbort, nil); err == nil {
		t.Error("abort with nothing open")
	}
	if err := l.o().Decide("web", "p-nope", true); !errors.Is(err, razar.ErrNotFound) {
		t.Errorf("Decide of nothing held: %v", err)
	}
}
