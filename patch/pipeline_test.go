package patch

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/clock"
)

// steps records what a Pipeline told its observer.
type steps struct {
	mu     sync.Mutex
	events []Event
	held   chan Pending // each EventHeld's patch, when set
}

func (s *steps) Observe(_ context.Context, e Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	if e.Kind == EventHeld && s.held != nil {
		s.held <- e.Pending
	}
}

// kinds are the kinds of the events seen, in order.
func (s *steps) kinds() []EventKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]EventKind, 0, len(s.events))
	for _, e := range s.events {
		out = append(out, e.Kind)
	}
	return out
}

// last is the last event of kind k.
func (s *steps) last(k EventKind) Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.events) - 1; i >= 0; i-- {
		if s.events[i].Kind == k {
			return s.events[i]
		}
	}
	return Event{}
}

// pipelineFixture is a home, a component "web" on the base workdir, and a
// Pipeline over them whose health check fails while unhealthy is set.
type pipelineFixture struct {
	home, workdir, before string
	comp                  config.Component
	clock                 *clock.Fake
	p                     *Pipeline
	unhealthy             error
}

func newPipelineFixture(t *testing.T, validate []string, approval string) *pipelineFixture {
	t.Helper()
	f := &pipelineFixture{home: t.TempDir(), workdir: newWorkdir(t), clock: clock.NewFake(time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC))}
	f.before = digest(t, f.workdir)
	f.comp = config.Component{Name: "web", Workdir: f.workdir, Validate: validate, Approval: approval}
	p, err := New(Config{Home: f.home, Sandbox: Sandbox{Weak: true}, Clock: f.clock,
		Verify: func(context.Context, config.Component) error { return f.unhealthy }})
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	return f
}

// candidate is diff for the fixture's component under id.
func (f *pipelineFixture) candidate(id, diff string) Candidate {
	return Candidate{ID: id, Component: f.comp, Incident: "inc-1", Rung: "gamma", Diff: diff, Window: time.Minute}
}

const pid = "p-20261207-150000-abcdef"

func TestPipelineTakesACandidateThroughItsStates(t *testing.T) {
	fixed := "key03 = fixed"
	tests := []struct {
		name      string
		validate  []string
		diff      string
		unhealthy error
		deadline  time.Time
		want      []EventKind
		outcome   razar.Outcome
		reason    string // a prefix
		applied   bool   // the workdir holds the patch afterwards
	}{
		{name: "staged, validated, promoted and verified", validate: []string{"./check.sh"}, diff: diffModify,
			want: []EventKind{EventProposed, EventApplied}, outcome: razar.OutcomeHealed, applied: true},
		{name: "no validate command: promoted on its word", diff: diffModify,
			want: []EventKind{EventProposed, EventApplied}, outcome: razar.OutcomeHealed, applied: true},
		{name: "validation fails: rejected, the workdir untouched", validate: []string{"sh", "-c", "echo broken >&2; exit 3"}, diff: diffModify,
			want: []EventKind{EventRejected}, outcome: razar.OutcomeRejected, reason: "validation failed: "},
		{name: "the diff does not apply: rejected unstaged", validate: []string{"./check.sh"}, diff: "--- a/app.conf\n+++ b/app.conf\n@@ -1 +1 @@\n-nothing like this\n+x\n",
			want: []EventKind{EventRejected}, outcome: razar.OutcomeRejected, reason: "patch rejected: "},
		{name: "past the deadline: not staged", diff: diffModify, deadline: time.Now().Add(-time.Second),
			want: []EventKind{EventRejected}, outcome: razar.OutcomeRejected, reason: "not staged: the attempt's deadline"},
		{name: "the health check fails: promoted, then reverted", validate: []string{"./check.sh"}, diff: diffModify, unhealthy: errors.New("port closed"),
			want: []EventKind{EventProposed, EventApplied, EventReverted}, outcome: razar.OutcomeRejected, reason: "health check failed after patch: port closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPipelineFixture(t, tt.validate, "")
			f.unhealthy = tt.unhealthy
			c := f.candidate(pid, tt.diff)
			c.Deadline = tt.deadline
			var seen steps
			outcome, reason := f.p.Run(context.Background(), c, &seen)
			if outcome != tt.outcome || !strings.HasPrefix(reason, tt.reason) {
				t.Fatalf("Run = %v %q, want %v %q...", outcome, reason, tt.outcome, tt.reason)
			}
			if got := seen.kinds(); !slices.Equal(got, tt.want) {
				t.Fatalf("steps %v, want %v", got, tt.want)
			}
			if r := seen.last(EventRejected); r.Kind == EventRejected && (!r.Propose || r.Reason != reason) {
				t.Errorf("the rejection %+v: want it to carry the proposal and the reason", r)
			}
			if got := strings.Contains(readFile(t, filepath.Join(f.workdir, "app.conf")), fixed); got != tt.applied {
				t.Errorf("app.conf fixed = %v, want %v", got, tt.applied)
			}
			if !tt.applied && digest(t, f.workdir) != f.before {
				t.Error("the workdir changed though the patch did not hold")
			}
			if n, err := CleanStaging(f.home); err != nil || n != 0 {
				t.Errorf("CleanStaging after the run = %d, %v: want the stage removed by the run", n, err)
			}
		})
	}
}

func TestPipelineHoldsAValidatedPatchForApproval(t *testing.T) {
	tests := []struct {
		name    string
		decide  func(f *pipelineFixture, p Pending) // nil: let the window pass
		want    []EventKind
		outcome razar.Outcome
		reason  string
	}{
		{"approved: promoted", func(f *pipelineFixture, p Pending) { _ = f.p.Decide(p.Component, p.Patch, true) },
			[]EventKind{EventProposed, EventHeld, EventReleased, EventApplied}, razar.OutcomeHealed, ""},
		{"rejected by an operator", func(f *pipelineFixture, p Pending) { _ = f.p.Decide(p.Component, p.Patch, false) },
			[]EventKind{EventProposed, EventHeld, EventReleased, EventRejected}, razar.OutcomeRejected, "rejected by an operator"},
		{"the window passes", func(f *pipelineFixture, p Pending) {
			f.clock.WaitFor(context.Background(), func(d time.Duration) bool { return d == time.Minute })
			f.clock.Advance(time.Minute)
		}, []EventKind{EventProposed, EventHeld, EventReleased, EventRejected}, razar.OutcomeRejected, "no approval within the attempt's timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPipelineFixture(t, []string{"./check.sh"}, "manual")
			seen := &steps{held: make(chan Pending, 1)}
			type result struct {
				outcome razar.Outcome
				reason  string
			}
			done := make(chan result, 1)
			go func() {
				o, r := f.p.Run(context.Background(), f.candidate(pid, diffModify), seen)
				done <- result{o, r}
			}()
			held := <-seen.held
			want := Pending{Component: "web", Incident: "inc-1", Patch: pid, Rung: "gamma", Since: f.clock.Now().UTC(), Until: f.clock.Now().UTC().Add(time.Minute)}
			if got := f.p.Pending(); len(got) != 1 || got[0] != want {
				t.Fatalf("Pending = %+v, want [%+v]", got, want)
			}
			tt.decide(f, held)
			got := <-done
			if got.outcome != tt.outcome || got.reason != tt.reason {
				t.Fatalf("Run = %v %q, want %v %q", got.outcome, got.reason, tt.outcome, tt.reason)
			}
			if kinds := seen.kinds(); !slices.Equal(kinds, tt.want) {
				t.Fatalf("steps %v, want %v", kinds, tt.want)
			}
			if p := f.p.Pending(); len(p) != 0 {
				t.Fatalf("Pending after the run = %+v, want none", p)
			}
			if err := f.p.Decide("web", pid, true); !errors.Is(err, razar.ErrNotFound) {
				t.Fatalf("Decide after the run = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestPipelineHoldEndsWhenRazarStops(t *testing.T) {
	f := newPipelineFixture(t, nil, "manual")
	seen := &steps{held: make(chan Pending, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan string, 1)
	go func() {
		_, reason := f.p.Run(ctx, f.candidate(pid, diffModify), seen)
		done <- reason
	}()
	<-seen.held
	cancel()
	if got := <-done; got != "interrupted while waiting for approval" {
		t.Fatalf("Run = %q, want interrupted", got)
	}
	if kinds := seen.kinds(); !slices.Equal(kinds, []EventKind{EventProposed, EventHeld}) {
		t.Fatalf("steps %v: want no release and no rejection once RAZAR stops", kinds)
	}
	if digest(t, f.workdir) != f.before {
		t.Fatal("the workdir changed though the patch was never approved")
	}
}

// TestPipelineResumesWhatACrashLeft: a RAZAR killed mid-promotion, after
// it, or after a revert finds the candidate's backup under its id at the
// next run and settles it without asking for approval again.
func TestPipelineResumesWhatACrashLeft(t *testing.T) {
	tests := []struct {
		name    string
		crash   func(t *testing.T, f *pipelineFixture, p *Plan, stage, backup string)
		want    []EventKind
		outcome razar.Outcome
		reason  string
		applied bool
	}{
		{"cut short mid-promotion: restored, then promoted again", func(t *testing.T, f *pipelineFixture, p *Plan, stage, backup string) {
			promoteUntilCrash(t, p, stage, f.workdir, backup, "app.conf")
		}, []EventKind{EventResumed, EventProposed, EventApplied}, razar.OutcomeHealed, "", true},
		{"promoted before the restart: verified only", func(t *testing.T, f *pipelineFixture, p *Plan, stage, backup string) {
			if err := Promote(p, stage, f.workdir, backup); err != nil {
				t.Fatal(err)
			}
		}, []EventKind{EventApplied, EventResumed}, razar.OutcomeHealed, "", true},
		{"reverted before the restart: not applied again", func(t *testing.T, f *pipelineFixture, p *Plan, stage, backup string) {
			if err := Promote(p, stage, f.workdir, backup); err != nil {
				t.Fatal(err)
			}
			if _, err := Revert(f.workdir, backup); err != nil {
				t.Fatal(err)
			}
		}, []EventKind{EventReverted}, razar.OutcomeRejected, "patch " + pid + " was reverted before RAZAR restarted: not applied again", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPipelineFixture(t, []string{"./check.sh"}, "manual")
			p, err := Check(diffModify, f.workdir, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			p.ID = pid
			stage, cleanup, err := Stage(p, f.workdir, stagingIn(t))
			if err != nil {
				t.Fatal(err)
			}
			tt.crash(t, f, p, stage, f.p.BackupDir("web", pid))
			cleanup()
			var seen steps
			outcome, reason := f.p.Run(context.Background(), f.candidate(pid, diffModify), &seen)
			if outcome != tt.outcome || reason != tt.reason {
				t.Fatalf("Run = %v %q, want %v %q", outcome, reason, tt.outcome, tt.reason)
			}
			if kinds := seen.kinds(); !slices.Equal(kinds, tt.want) {
				t.Fatalf("steps %v, want %v (no approval asked again)", kinds, tt.want)
			}
			if got := strings.Contains(readFile(t, filepath.Join(f.workdir, "app.conf")), "key03 = fixed"); got != tt.applied {
				t.Fatalf("app.conf fixed = %v, want %v", got, tt.applied)
			}
			if !tt.applied && digest(t, f.workdir) != f.before {
				t.Fatal("the workdir is not as it was before the patch")
			}
		})
	}
}

func TestPipelineResumeAtTakesUpTheLastCandidateBegun(t *testing.T) {
	f := newPipelineFixture(t, nil, "")
	ids := []string{"p-a", "p-b", "p-c"}
	if got := f.p.ResumeAt("web", ids); got != 0 {
		t.Fatalf("ResumeAt with no backup = %d, want 0", got)
	}
	p, err := Check(diffModify, f.workdir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	stage, cleanup, err := Stage(p, f.workdir, stagingIn(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	promoteUntilCrash(t, p, stage, f.workdir, f.p.BackupDir("web", "p-b"), "")
	if got := f.p.ResumeAt("web", ids); got != 1 {
		t.Fatalf("ResumeAt = %d, want 1 (the candidate whose promotion began)", got)
	}
}

// TestPipelineRollbackJournal: a rollback restores the files, keeps the
// caller's record until it is written, and leaves nothing to roll back.
func TestPipelineRollbackJournal(t *testing.T) {
	f := newPipelineFixture(t, nil, "")
	if outcome, reason := f.p.Run(context.Background(), f.candidate(pid, diffModify), &steps{}); outcome != razar.OutcomeHealed {
		t.Fatalf("Run = %v %q", outcome, reason)
	}
	var made []Restored
	record := func(r Restored) (json.RawMessage, error) {
		made = append(made, r)
		return json.Marshal(map[string]string{"patch": r.Patch, "actor": r.Actor})
	}
	rb, err := f.p.Rollback(f.comp, "", "alice", record)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Patch != pid || !rb.Restored || rb.Resumed || len(rb.Files) != 1 || rb.Files[0].Path != "app.conf" {
		t.Fatalf("Rollback = %+v, want %s's app.conf restored by this run", rb, pid)
	}
	if digest(t, f.workdir) != f.before {
		t.Fatal("the workdir is not as it was before the patch")
	}
	if len(made) != 1 || made[0].Component != "web" || made[0].Actor != "alice" || string(rb.Note.Record) != `{"actor":"alice","patch":"`+pid+`"}` {
		t.Fatalf("record made %+v, kept %s", made, rb.Note.Record)
	}
	if !f.p.RollbackPending("web", pid) || !slices.Equal(f.p.Rollbacks(), []PatchRef{{"web", pid}}) {
		t.Fatal("the rollback is not pending until its record is written")
	}
	// A second run before the record is noted finishes the same rollback.
	again, err := f.p.Rollback(f.comp, "", "bob", record)
	if err != nil || !again.Resumed || again.Restored || again.Note.Actor != "alice" {
		t.Fatalf("the next run = %+v, %v: want alice's rollback finished, no file touched", again, err)
	}
	if err := f.p.RollbackRecorded("web", pid); err != nil {
		t.Fatal(err)
	}
	if f.p.RollbackPending("web", pid) {
		t.Fatal("the rollback is pending after its record was written")
	}
	if _, err := f.p.Rollback(f.comp, "", "bob", record); !errors.Is(err, ErrNothingToRevert) {
		t.Fatalf("a third run = %v, want ErrNothingToRevert", err)
	}
	if _, err := f.p.Rollback(f.comp, "p-nope", "bob", record); !errors.Is(err, razar.ErrNotFound) {
		t.Fatalf("an unknown patch = %v, want ErrNotFound", err)
	}
	for _, bad := range [][2]string{{"web", "../p"}, {"../state", pid}, {"web", ""}} {
		if err := f.p.RollbackRecorded(bad[0], bad[1]); !errors.Is(err, razar.ErrBadPayload) {
			t.Errorf("RollbackRecorded(%q, %q) = %v, want ErrBadPayload", bad[0], bad[1], err)
		}
	}
}

func TestNewRefusesAnInvalidConfig(t *testing.T) {
	for _, cfg := range []Config{{ValidateTimeout: -time.Second}, {ApprovalWindow: -time.Minute}} {
		if _, err := New(cfg); !errors.Is(err, razar.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Ready(config.Component{Name: "web", Workdir: "/srv/web"}) {
		t.Error("a pipeline without a home is ready to patch")
	}
	if err := p.Decide("web", "p-none", true); !errors.Is(err, razar.ErrNotFound) {
		t.Errorf("Decide with nothing held = %v, want ErrNotFound", err)
	}
}
