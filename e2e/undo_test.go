package e2e

import (
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/orchestrator"
)

// TestRevertedDiffMarksTheRememberedFixFailed: a rung proposes again the
// diff the memory holds for another signature; it does not hold and is
// reverted. The remembered fix is marked failed, and the next occurrence
// of its own signature does not replay it.
func TestRevertedDiffMarksTheRememberedFixFailed(t *testing.T) {
	mm := newMemoryMesh(t, orchestrator.Config{Threshold: 2})
	if rec := mm.escalate(ledgerFailure(1)); rec.State != razar.IncidentHealed {
		t.Fatalf("first occurrence: %s %s", rec.State, attemptsOf(rec))
	}
	sig := fixmem.Signature("web", ledgerFailure(1))
	// Another failure of web: kimicho writes the same port diff, but now web
	// also needs a file the diff does not give it.
	mm.boot.Components[0].HealthCheck = &razar.HealthCheck{Command: []string{"sh", "-c", "grep -q '^port=8080$' app.conf && test -f extra"}}
	mm.breakConf("abc")
	other := mm.escalate("web exited with status 2: app.conf rejected by the loader")
	if other.State != razar.IncidentFailed || len(other.Attempts) == 0 || other.Attempts[0].Rung == orchestrator.MemoryRung {
		t.Fatalf("other failure: %s %q, want the ladder to fail it without the memory", other.State, attemptsOf(other))
	}
	if all := mm.orch.Fixes().Show(sig); len(all) != 1 || !all[0].Failed || all[0].Undone {
		t.Fatalf("remembered fix after its diff was reverted elsewhere: %+v, want it failed (not undone)", all)
	}
	mm.boot.Components[0].HealthCheck = &razar.HealthCheck{Command: []string{"sh", "-c", "grep -q '^port=8080$' app.conf"}}
	mm.breakConf("abc")
	again := mm.escalate(ledgerFailure(2))
	if len(again.Attempts) == 0 || again.Attempts[0].Rung == orchestrator.MemoryRung {
		t.Fatalf("recurrence: %q, want the failed fix not replayed", attemptsOf(again))
	}
}
