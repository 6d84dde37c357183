package orchestrator

import (
	"fmt"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
)

// TestEscalationsListEveryEarlierAttempt: the stored incident keeps only
// the newest bus.MaxStoredAttempts attempts, yet every escalation lists
// each earlier attempt: from what this orchestrator kept, and after a
// restart from the attempt records on the stream.
func TestEscalationsListEveryEarlierAttempt(t *testing.T) {
	const restartAt = bus.MaxStoredAttempts + 4 // attempts 1-4 are no longer stored by then
	l := newLoop(t, []config.AgentEntry{execRung("crown", time.Minute)}, func(c *Config) { c.Threshold = restartAt + 2 })
	release := make(chan struct{})
	freed := false
	free := func() {
		if !freed {
			freed = true
			close(release)
		}
	}
	l.answer("crown", func(esc *bus.Escalation) *bus.Result {
		if esc.Attempt == restartAt {
			<-release
		}
		return &bus.Result{Status: razar.StatusNoFix, Summary: fmt.Sprintf("try %d", esc.Attempt)}
	})
	t.Cleanup(free)
	id := l.escalate("web: down")
	bustest.Eventually(t, 20*time.Second, func() bool { return len(l.escalations("crown")) == restartAt }, "crown never got attempt %d", restartAt)
	l.restart()
	free()
	rec := l.wait(id)
	if rec.State != razar.IncidentFailed || rec.Earlier+len(rec.Attempts) != restartAt+2 || len(rec.Attempts) != bus.MaxStoredAttempts {
		t.Fatalf("incident %s %q: %d earlier, %d stored", rec.State, rec.Reason, rec.Earlier, len(rec.Attempts))
	}
	for _, esc := range l.escalations("crown") {
		if len(esc.Context) != esc.Attempt-1 {
			t.Fatalf("attempt %d's escalation lists %d earlier attempts", esc.Attempt, len(esc.Context))
		}
		for i, a := range esc.Context {
			if a.Number != i+1 || a.Rung != "crown" || a.Outcome != razar.OutcomeNoFix || a.Summary != fmt.Sprintf("try %d", i+1) {
				t.Fatalf("attempt %d's escalation, line %d: %+v", esc.Attempt, i, a)
			}
		}
	}
}
