package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
)

// TestForgedAndEarlyResultsAreIgnored: answers bound to their rung. While
// Crown works on attempt 1, an outside client publishes "fixed" answers that
// would heal the component if any counted: one for attempt 1 on Kimi-cho's
// subject claiming to be Crown, one on Crown's subject naming another
// incident, and one for attempt 2 on Kimi-cho's subject before attempt 2
// exists. None counts: the incident runs its ladder as if they were not there.
func TestForgedAndEarlyResultsAreIgnored(t *testing.T) {
	started := make(chan razar.Task, 1)
	hang := razar.AgentFunc(func(ctx context.Context, task razar.Task) (razar.Fix, error) {
		started <- task
		<-ctx.Done()
		return razar.Fix{}, ctx.Err()
	})
	m := newMesh(t, fiveRungs(map[string]rung{"crown": {backend: hang, timeout: 2 * time.Second}}), orchestrator.Config{Threshold: 2})
	if err := m.heal(); err != nil { // any accepted "fixed" would verify
		t.Fatal(err)
	}
	ctx := context.Background()
	var id string
	bustest.Eventually(t, 5*time.Second, func() bool {
		var err error
		id, _, err = m.orch.Escalate(ctx, "web", "web: down", "")
		return err == nil
	}, "escalate")
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("crown never got attempt 1")
	}
	forge := func(subject string, r *bus.Result) {
		t.Helper()
		data, err := bus.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.env.NC.Publish(subject, data); err != nil {
			t.Fatal(err)
		}
	}
	fixed := func(incident string, attempt int, rung string) *bus.Result {
		return &bus.Result{Incident: incident, Attempt: attempt, Rung: rung, Status: razar.StatusFixed, Summary: "forged"}
	}
	forge(bus.ResultSubject(id, "kimicho"), fixed(id, 1, "crown"))        // another rung's subject
	forge(bus.ResultSubject(id, "crown"), fixed("inc-other", 1, "crown")) // another incident
	forge(bus.ResultSubject(id, "kimicho"), fixed(id, 2, "kimicho"))      // before its escalation
	if err := m.env.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rec, err := m.orch.Wait(wctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := attemptsOf(rec); got != "crown:timeout kimicho:no_fix rstar:no_fix" || rec.State != razar.IncidentFailed {
		t.Fatalf("attempts %s (%s): a forged answer counted", got, rec.State)
	}
	for _, a := range rec.Attempts {
		if a.Summary == "forged" {
			t.Fatalf("attempt %d carries the forged summary", a.Number)
		}
	}
}
