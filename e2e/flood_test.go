package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
)

// TestAnswersToQuestionsNeverAskedAreDeleted: while Crown works on web's
// attempt, answers are published to made-up incidents and, for web's real
// incident, from a rung on no ladder. The orchestrator deletes them from
// stream RAZAR_RESULTS as they come, so a rung flooding made-up incidents
// cannot fill it; an answer from a rung of the incident's ladder (Kimi-cho,
// not pending) stays, and the incident still runs its ladder.
func TestAnswersToQuestionsNeverAskedAreDeleted(t *testing.T) {
	started := make(chan razar.Task, 1)
	hang := razar.AgentFunc(func(ctx context.Context, task razar.Task) (razar.Fix, error) {
		started <- task
		<-ctx.Done()
		return razar.Fix{}, ctx.Err()
	})
	m := newMesh(t, fiveRungs(map[string]rung{"crown": {backend: hang, timeout: 5 * time.Second}}), orchestrator.Config{Threshold: 2})
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
	answer := func(subject, incident, rung string) {
		t.Helper()
		data, err := bus.Encode(&bus.Result{Incident: incident, Attempt: 1, Rung: rung, Status: razar.StatusNoFix, Summary: "unasked"})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.env.NC.Publish(subject, data); err != nil {
			t.Fatal(err)
		}
	}
	var unasked []string
	for i := range 20 {
		inc := fmt.Sprintf("inc-made-up-%d", i)
		unasked = append(unasked, bus.ResultSubject(inc, "k2"))
		answer(bus.ResultSubject(inc, "k2"), inc, "k2")
	}
	unasked = append(unasked, bus.ResultSubject(id, "mallory"))
	answer(bus.ResultSubject(id, "mallory"), id, "mallory")
	kept := bus.ResultSubject(id, "kimicho")
	answer(kept, id, "kimicho")
	if err := m.env.NC.Flush(); err != nil {
		t.Fatal(err)
	}
	var left string
	bustest.Eventually(t, 20*time.Second, func() bool {
		left = ""
		for _, s := range unasked {
			if seq, _, err := m.env.Store.LastMsg(ctx, s); err != nil || seq != 0 {
				left = s
				return false
			}
		}
		return true
	}, "an answer to a question never asked is still stored: %v", bustest.Lazy(func() string { return left }))
	if seq, _, err := m.env.Store.LastMsg(ctx, kept); err != nil || seq == 0 {
		t.Errorf("Kimi-cho's answer to its ladder's incident was deleted: %d, %v", seq, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rec, err := m.orch.Wait(wctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Attempts) == 0 || rec.Attempts[0].Rung != "crown" || rec.Attempts[0].Outcome != razar.OutcomeTimeout {
		t.Fatalf("attempts %s: the ladder did not run as if the answers were not there", attemptsOf(rec))
	}
}
