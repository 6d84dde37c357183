package orchestrator

import (
	"strings"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// TestEscalationStaysBounded: however long an incident runs and however big
// each rung's answers, the escalation carrying its history stays well under
// the server's 1 MiB max payload, and every cut is marked.
func TestEscalationStaysBounded(t *testing.T) {
	huge := strings.Repeat("diff line\n", 20000) // 200 KB per answer
	for _, n := range []int{1, 10, 100, 1000} {
		var hist []razar.Attempt
		for i := 0; i < n; i++ {
			hist = append(hist, razar.Attempt{Number: i + 1, Rung: "k2", Outcome: razar.OutcomeRejected,
				Diff: bus.Clip(huge, bus.MaxDiffBytes), Summary: bus.Clip(huge, bus.MaxSummaryBytes),
				Error: bus.Clip(huge, bus.MaxErrorBytes), Reason: bus.Clip(huge, bus.MaxErrorBytes)})
		}
		esc := &bus.Escalation{Incident: "inc-1", Component: "web", Error: bus.Clip(huge, bus.MaxErrorBytes), Attempt: n + 1, Rung: "rstar",
			Context: BoundContext(hist, bus.MaxContextBytes)}
		data, err := bus.Encode(esc)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 900<<10 {
			t.Errorf("%d attempts: escalation is %d bytes", n, len(data))
		}
		if len(esc.Context) == 0 || esc.Context[len(esc.Context)-1].Number != n {
			t.Errorf("%d attempts: the newest attempt was dropped", n)
		}
		if !strings.Contains(string(data), "[razar: cut") {
			t.Errorf("%d attempts: no visible cut marker", n)
		}
	}
	// Small histories pass untouched.
	small := []razar.Attempt{{Number: 1, Rung: "crown", Summary: "short"}}
	if got := BoundContext(small, bus.MaxContextBytes); got[0].Summary != "short" {
		t.Fatal("a small history was changed")
	}
}
