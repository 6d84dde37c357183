package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/alert"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
)

// fixDiff fixes app.conf of patchComponent's workdir.
const fixDiff = "--- a/app.conf\n+++ b/app.conf\n@@ -1 +1 @@\n-port=abc\n+port=8080\n"

// patchOrchestrator is an orchestrator on the in-process bus over one
// component "web" whose app.conf says port=abc, validated with validate,
// healthy while unhealthy is nil.
type patchOrchestrator struct {
	o         *Orchestrator
	env       *bustest.Env
	workdir   string
	unhealthy error
}

func newPatchOrchestrator(t *testing.T, validate []string) *patchOrchestrator {
	t.Helper()
	home := t.TempDir()
	po := &patchOrchestrator{env: bustest.New(t), workdir: filepath.Join(home, "web")}
	if err := os.MkdirAll(po.workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(po.workdir, "app.conf"), []byte("port=abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	comp := config.Component{Name: "web", Workdir: po.workdir, Validate: validate}
	o, err := New(po.env.Store, Config{Home: home,
		Roster: func() (*config.Roster, error) { return &config.Roster{}, nil },
		Components: func() (*config.BootConfig, error) {
			return &config.BootConfig{Components: []config.Component{comp}}, nil
		},
		Verify:  func(context.Context, config.Component) error { return po.unhealthy },
		Display: func(agent string) string { return agent },
		Alerts:  alert.New(po.env.Store, zerolog.Nop()),
	})
	if err != nil {
		t.Fatal(err)
	}
	po.o = o
	return po
}

// events are the audit records of web on the stream, in order.
func (po *patchOrchestrator) events(t *testing.T) []bus.AuditRecord {
	t.Helper()
	var out []bus.AuditRecord
	if err := po.env.Store.Scan(context.Background(), bus.AuditSubject("web", "*"), time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if err := json.Unmarshal(data, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestApplyFixRecordsEachStepOfThePatchPipeline: what the pipeline does
// with an answer reaches the stream as the records the operator reads.
func TestApplyFixRecordsEachStepOfThePatchPipeline(t *testing.T) {
	tests := []struct {
		name      string
		validate  []string
		res       bus.Result
		limit     int
		unhealthy error
		outcome   razar.Outcome
		reason    string // a substring
		events    []bus.Event
		fixed     bool
	}{
		{name: "a diff that holds", res: bus.Result{Summary: "port", Diff: fixDiff},
			outcome: razar.OutcomeHealed, events: []bus.Event{bus.EventPatch, bus.EventApplied}, fixed: true},
		{name: "a diff whose validation fails", validate: []string{"sh", "-c", "echo no >&2; exit 1"}, res: bus.Result{Diff: fixDiff},
			outcome: razar.OutcomeRejected, reason: "validation failed", events: []bus.Event{bus.EventPatch, bus.EventRejected}},
		{name: "a diff that does not hold", res: bus.Result{Diff: fixDiff}, unhealthy: errors.New("still down"),
			outcome: razar.OutcomeRejected, reason: "health check failed after patch: still down", events: []bus.Event{bus.EventPatch, bus.EventApplied, bus.EventReverted}},
		{name: "candidates over the limit", limit: 1,
			res:     bus.Result{Diff: "--- a/app.conf\n+++ b/app.conf\n@@ -1 +1 @@\n-nothing\n+x\n", Candidates: []razar.Candidate{{Diff: fixDiff}, {Diff: fixDiff}}},
			outcome: razar.OutcomeRejected, reason: "candidates 2 to 3 refused", events: []bus.Event{bus.EventPatch, bus.EventRejected}},
		{name: "no diff: verified only", res: bus.Result{Summary: "restarted it"},
			outcome: razar.OutcomeHealed, events: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			po := newPatchOrchestrator(t, tt.validate)
			po.unhealthy = tt.unhealthy
			rec := &bus.IncidentRecord{ID: "inc-1", Component: "web"}
			a := razar.Attempt{Number: 1, Rung: "gamma", Started: time.Now()}
			outcome, reason, held := po.o.applyFix(context.Background(), rec, a, &tt.res, answerBounds{limit: tt.limit})
			if outcome != tt.outcome || !strings.Contains(reason, tt.reason) {
				t.Fatalf("applyFix = %v %q, want %v with %q", outcome, reason, tt.outcome, tt.reason)
			}
			if (held != "") != (tt.fixed) {
				t.Errorf("applyFix returned diff %q, want one only when a patch held", held)
			}
			var got []bus.Event
			for _, r := range po.events(t) {
				got = append(got, r.Event)
				if r.Incident != "inc-1" || r.Agent != "gamma" || r.PatchID == "" {
					t.Errorf("record %+v does not name the incident, the rung and the patch", r)
				}
			}
			if !slices.Equal(got, tt.events) {
				t.Fatalf("records %v, want %v", got, tt.events)
			}
			content, _ := os.ReadFile(filepath.Join(po.workdir, "app.conf"))
			if got := string(content) == "port=8080\n"; got != tt.fixed {
				t.Fatalf("app.conf = %q: fixed %v, want %v", content, got, tt.fixed)
			}
		})
	}
}

// TestHeldPatchIsListedDecidedOnceAndRecorded: a patch held for approval
// is in Approvals until its wait ends, Decide answers it once, and the
// pending record and its alert come before the applied record.
func TestHeldPatchIsListedDecidedOnceAndRecorded(t *testing.T) {
	po := newPatchOrchestrator(t, nil)
	rec := &bus.IncidentRecord{ID: "inc-1", Component: "web"}
	a := razar.Attempt{Number: 1, Rung: "gamma", Started: time.Now()}
	done := make(chan razar.Outcome, 1)
	go func() {
		outcome, _, _ := po.o.applyFix(context.Background(), rec, a, &bus.Result{Diff: fixDiff}, answerBounds{window: time.Hour, hold: "a new file"})
		done <- outcome
	}()
	var held []bus.PendingApproval
	bustest.Eventually(t, 10*time.Second, func() bool { held = po.o.Approvals(); return len(held) == 1 }, "no patch held for approval")
	if p := held[0]; p.Component != "web" || p.Incident != "inc-1" || p.Rung != "gamma" || !p.Until.Equal(p.Since.Add(time.Hour)) {
		t.Fatalf("held %+v", p)
	}
	if err := po.o.Decide("web", held[0].Patch, true); err != nil {
		t.Fatal(err)
	}
	if err := po.o.Decide("web", held[0].Patch, true); !errors.Is(err, razar.ErrNotFound) {
		t.Fatalf("a second decision = %v, want ErrNotFound", err)
	}
	if outcome := <-done; outcome != razar.OutcomeHealed {
		t.Fatalf("approved patch: %v", outcome)
	}
	if got := po.o.Approvals(); len(got) != 0 {
		t.Fatalf("Approvals after the decision = %+v", got)
	}
	var got []bus.Event
	var alerts []string
	for _, r := range po.events(t) {
		got = append(got, r.Event)
		if r.Event == bus.EventAlert {
			alerts = append(alerts, r.Status)
		}
		if r.Event == bus.EventPending && !strings.HasSuffix(r.Message, ": a new file") {
			t.Errorf("pending record says %q, want the hold's reason", r.Message)
		}
		if r.Event == bus.EventAlert && r.Reason != "RazarPatchPending" {
			t.Errorf("alert %q while the patch waited, want RazarPatchPending", r.Reason)
		}
	}
	// The pending alert is raised with the pending record and resolved
	// once the decision came.
	if want := []bus.Event{bus.EventPatch, bus.EventPending, bus.EventAlert, bus.EventAlert, bus.EventApplied}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	if !slices.Equal(alerts, []string{"firing", "resolved"}) {
		t.Fatalf("pending alert %v, want firing then resolved", alerts)
	}
}
