package orchestrator

import (
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
)

// TestIncidentHealedOnTheFirstRung: crown fixes web; its answer is
// verified by the health check, the incident heals, and every step is on
// the audit stream and in the metrics.
func TestIncidentHealedOnTheFirstRung(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second), takeoverRung("rstar", 20*time.Second)}, nil)
	l.answer("crown", l.heals("restarted the worker"))
	id := l.escalate("web: connection refused on :8080")
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:healed" || rec.Reason != "crown fixed it on attempt 1" {
		t.Fatalf("incident %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
	if got := events(l.audit(id)); got != "opened escalation shown attempt healed" {
		t.Errorf("audit: %s", got)
	}
	esc := l.escalations("crown")[0]
	if esc.Incident != id || esc.Attempt != 1 || esc.Rung != "crown" || esc.Error != "web: connection refused on :8080" || esc.Workdir != l.workdir || len(esc.Context) != 0 {
		t.Errorf("escalation %+v", esc)
	}
	if esc.Workspace == nil || !strings.Contains(strings.Join(listing(esc.Workspace), " "), "app.conf") {
		t.Errorf("the escalation shows no workspace with app.conf: %+v", esc.Workspace)
	}
	bustest.Eventually(t, 5*time.Second, func() bool { return l.ended(id) }, "Ended was not called")
	if got, _ := l.o().OpenIncident("web"); got != "" {
		t.Errorf("OpenIncident after the end: %s", got)
	}
	for name, want := range map[string]float64{
		"success":   value(l.metrics.Success.WithLabelValues("web", "crown")),
		"healed":    value(l.metrics.Incidents.WithLabelValues("web", "healed")),
		"handovers": value(l.metrics.HandOvers.WithLabelValues("razar", "crown")),
	} {
		if want != 1 {
			t.Errorf("metric %s = %v, want 1", name, want)
		}
	}
	if n := value(l.metrics.Open); n != 0 {
		t.Errorf("open incidents gauge %v after the end", n)
	}
}

func listing(w *razar.Workspace) []string {
	var out []string
	for _, e := range w.Listing {
		out = append(out, e.Path)
	}
	return out
}

// TestIncidentClimbsTheLadder: each rung that does not heal hands the
// incident up: a no_fix, an error, a silence past the rung's timeout, a
// fix whose health check fails; at T failed attempts the takeover rung
// gets it, with the whole history, and heals it.
func TestIncidentClimbsTheLadder(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{
		execRung("crown", 20*time.Second), execRung("kimicho", 20*time.Second), execRung("k2", 300*time.Millisecond),
		execRung("airstar", 20*time.Second), takeoverRung("rstar", 20*time.Second),
	}, func(c *Config) { c.Threshold = 4 })
	l.answer("crown", says(razar.StatusNoFix, "the port is taken by another process"))
	l.answer("kimicho", func(*bus.Escalation) *bus.Result {
		return &bus.Result{Status: razar.StatusError, Error: "model quota exceeded"}
	})
	l.answer("k2", silent)
	l.answer("airstar", says(razar.StatusFixed, "restarted it")) // but web is still down
	l.answer("rstar", l.heals("moved web to port 8081"))
	rec := l.wait(l.escalate("web: bind: address already in use"))
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:no_fix kimicho:error k2:timeout airstar:rejected rstar:healed" {
		t.Fatalf("incident %s: %s", rec.State, attemptsOf(rec))
	}
	if rec.Escalations != 5 || rec.Cursor.Failed != 4 || rec.Reason != "rstar fixed it on attempt 5" {
		t.Errorf("escalations %d, failed %d, reason %q", rec.Escalations, rec.Cursor.Failed, rec.Reason)
	}
	if a := rec.Attempts[2]; !strings.Contains(a.Error, "no answer before the attempt's deadline") {
		t.Errorf("the silent rung's attempt: %+v", a)
	}
	if a := rec.Attempts[3]; !strings.HasPrefix(a.Reason, "health check failed after fix") {
		t.Errorf("the fix that did not hold: %+v", a)
	}
	// rstar sees every earlier attempt, the newest in full.
	esc := l.escalations("rstar")[0]
	if len(esc.Context) != 4 || esc.Context[0].Summary != "the port is taken by another process" || esc.Context[1].Error != "model quota exceeded" {
		t.Errorf("rstar's history: %+v", esc.Context)
	}
	if n := value(l.metrics.Failure.WithLabelValues("web", "k2")); n != 1 {
		t.Errorf("k2 failures %v", n)
	}
	if n := value(l.metrics.Retries.WithLabelValues("web", "rstar")); n != 1 {
		t.Errorf("rstar retries %v", n)
	}
}

// TestIncidentFailsAfterTheLastRung: no rung heals web; after the takeover
// rung's turn the incident fails, a critical alert fires, and the failure
// stays (the supervisor quarantines the component on it).
func TestIncidentFailsAfterTheLastRung(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second), takeoverRung("rstar", 20*time.Second)},
		func(c *Config) { c.Threshold = 2 })
	l.answer("crown", says(razar.StatusNoFix, "no idea"))
	l.answer("rstar", says(razar.StatusNoFix, "nor I"))
	id := l.escalate("web: exit 1")
	rec := l.wait(id)
	if rec.State != razar.IncidentFailed || attemptsOf(rec) != "crown:no_fix crown:no_fix rstar:no_fix" ||
		rec.Reason != "takeover rung rstar failed its turn; 3 attempts failed in all" {
		t.Fatalf("incident %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
	a := l.alerted("", "firing", id)
	if a.Severity != bus.SeverityCritical || !strings.Contains(a.Message, "incident "+id+" failed") {
		t.Errorf("alert %+v", a)
	}
	if n := value(l.metrics.Incidents.WithLabelValues("web", "failed")); n != 1 {
		t.Errorf("failed incidents %v", n)
	}
	if got := events(l.audit(id), bus.EventEscalation, bus.EventFailed); got != "escalation escalation failed" {
		t.Errorf("audit: %s", got)
	}
}
