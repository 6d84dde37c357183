package orchestrator

import (
	"encoding/json"
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

// TestBoundContextListsEveryAttempt: at attempt 5 and 200, with every
// earlier attempt in full and each as big as a rung may send, the bounded
// history is under the budget, lists every attempt number, keeps the
// newest in full, and marks exactly the attempts it sent as one line.
func TestBoundContextListsEveryAttempt(t *testing.T) {
	huge := strings.Repeat("diff line\n", 30000)
	for _, n := range []int{5, 200} {
		var hist []razar.Attempt
		for i := 0; i < n; i++ {
			hist = append(hist, razar.Attempt{Number: i + 1, Rung: "k2", Outcome: razar.OutcomeRejected,
				Diff: bus.Clip(huge, bus.MaxDiffBytes), Summary: bus.Clip(huge, bus.MaxSummaryBytes),
				Error: bus.Clip(huge, bus.MaxErrorBytes), Reason: "validation failed: " + bus.Clip(huge, bus.MaxErrorBytes)})
		}
		got := BoundContext(hist, bus.MaxContextBytes)
		data, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > bus.MaxContextBytes {
			t.Errorf("%d attempts: %d bytes, over the budget of %d", n, len(data), bus.MaxContextBytes)
		}
		if len(got) != n {
			t.Fatalf("%d attempts: %d listed, want every one", n, len(got))
		}
		short := 0
		for i, a := range got {
			if a.Number != i+1 || a.Rung != "k2" || a.Outcome != razar.OutcomeRejected || !strings.HasPrefix(a.Reason, "validation failed") {
				t.Fatalf("%d attempts: [%d] = #%d %s %s %.20q, want #%d with rung, outcome and reason", n, i, a.Number, a.Rung, a.Outcome, a.Reason, i+1)
			}
			if a.Shortened {
				short++
				if i < n-1 && (a.Diff != "" || a.DiffBytes != len(hist[i].Diff) || len(a.DiffSHA256) != 64) {
					t.Fatalf("%d attempts: line #%d keeps %d diff bytes, diff_bytes %d, sha %q; want the size and hash only", n, a.Number, len(a.Diff), a.DiffBytes, a.DiffSHA256)
				}
			}
		}
		if short != Shortened(got) || short < n-1 {
			t.Errorf("%d attempts: %d marked shortened, Shortened says %d; want the %d older ones at least", n, short, Shortened(got), n-1)
		}
		if newest := got[n-1]; len(newest.Diff) < 64<<10 {
			t.Errorf("%d attempts: the newest keeps %d diff bytes, want most of it", n, len(newest.Diff))
		}
	}
}

// TestBoundContextKeepsTheNewestWhenLinesOverflow: past what one line each
// can hold, the oldest are left out, never the newest.
func TestBoundContextKeepsTheNewestWhenLinesOverflow(t *testing.T) {
	var hist []razar.Attempt
	for i := 0; i < 20000; i++ {
		hist = append(hist, razar.Attempt{Number: i + 1, Rung: "rstar", Outcome: razar.OutcomeNoFix, Shortened: true, DiffBytes: 10, DiffSHA256: strings.Repeat("a", 64)})
	}
	got := BoundContext(hist, bus.MaxContextBytes)
	data, _ := json.Marshal(got)
	if len(data) > bus.MaxContextBytes || got[len(got)-1].Number != 20000 || len(got) < 1000 {
		t.Fatalf("%d listed (%d bytes), newest #%d; want the newest ones under the budget", len(got), len(data), got[len(got)-1].Number)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Number != got[i-1].Number+1 {
			t.Fatalf("a gap after #%d: the kept lines must be the newest, contiguous", got[i-1].Number)
		}
	}
}
