package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
)

// consumers is how many consumers stream RAZAR has on the server.
func (m *mesh) consumers() int {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := 0
	for range m.env.Store.ConsumerNames(ctx) {
		n++
	}
	return n
}

// TestThousandsOfAttemptsLeaveNoConsumersBehind: 1,200 attempts through
// the five-rung ladder all end with the rung's own answer (none as a
// timeout), and the stream's consumer count stays what it was: waiting for
// an answer costs no consumer.
func TestThousandsOfAttemptsLeaveNoConsumersBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("1,200 attempts")
	}
	m := newMesh(t, fiveRungs(nil), orchestrator.Config{Threshold: 1})
	before := m.consumers()
	attempts, peak := 0, before
	for attempts < 1200 {
		rec := m.escalate("web: down")
		if rec.State != razar.IncidentFailed {
			t.Fatalf("incident %s %s: %s", rec.ID, rec.State, attemptsOf(rec))
		}
		for _, a := range rec.Attempts {
			if a.Outcome != razar.OutcomeNoFix {
				t.Fatalf("attempt %d of %s ended %s (%s), want the rung's no_fix", a.Number, rec.ID, a.Outcome, a.Error)
			}
		}
		attempts += len(rec.Attempts)
		peak = max(peak, m.consumers())
	}
	if after := m.consumers(); after != before || peak != before {
		t.Fatalf("consumers on %s: %d before, peak %d, %d after %d attempts; want it flat", bus.StreamName, before, peak, after, attempts)
	}
}

// TestHugeDiffsEndTheIncidentCleanly: five attempts each answered with a
// ~216 KiB diff (quotes, so JSON doubles them) end the incident as failed,
// every attempt with the rung's own answer; the stored incident stays
// small (the diffs are on the stream), and each rung was handed its
// context within the bound.
func TestHugeDiffsEndTheIncidentCleanly(t *testing.T) {
	diff := "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-" + strings.Repeat(`"`, 108<<10) + "\n+" + strings.Repeat(`"`, 108<<10) + "\n"
	var mu sync.Mutex
	var contexts []int
	big := razar.AgentFunc(func(_ context.Context, task razar.Task) (razar.Fix, error) {
		b, _ := json.Marshal(task.History)
		mu.Lock()
		contexts = append(contexts, len(b))
		mu.Unlock()
		return razar.Fix{Status: razar.StatusNoFix, Summary: "a huge no", Diff: diff}, nil
	})
	over := map[string]rung{}
	for _, n := range []string{"crown", "kimicho", "k2", "airstar", "rstar"} {
		over[n] = rung{backend: big}
	}
	m := newMesh(t, fiveRungs(over), orchestrator.Config{Threshold: 9})
	rec := m.escalate("web: down")
	if rec.State != razar.IncidentFailed || len(rec.Attempts) < 5 {
		t.Fatalf("incident %s with %d attempts: %s", rec.State, len(rec.Attempts), attemptsOf(rec))
	}
	for _, a := range rec.Attempts {
		if a.Outcome != razar.OutcomeNoFix || a.DiffBytes != len(diff) || a.Seq == 0 {
			t.Fatalf("attempt %d: outcome %s, diff_bytes %d, seq %d; want no_fix, %d, a sequence", a.Number, a.Outcome, a.DiffBytes, a.Seq, len(diff))
		}
	}
	stored, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) > 64<<10 {
		t.Fatalf("the stored incident is %d bytes; its attempts should be summaries", len(stored))
	}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range contexts {
		if n > bus.MaxContextBytes {
			t.Errorf("attempt %d was handed %d bytes of context, over the %d bound", i+1, n, bus.MaxContextBytes)
		}
	}
}

// TestEndedIncidentsLeaveTheBucketAfterTheRetention: an ended incident is
// purged from RAZAR_STATE once older than Retention, while its audit
// records stay on the stream.
func TestEndedIncidentsLeaveTheBucketAfterTheRetention(t *testing.T) {
	m := newMesh(t, fiveRungs(nil), orchestrator.Config{Threshold: 1, Retention: 200 * time.Millisecond})
	rec := m.escalate("web: down")
	if rec.State != razar.IncidentFailed {
		t.Fatalf("incident %s %s", rec.ID, rec.State)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		_, _, err := m.env.Store.Incident(context.Background(), rec.ID)
		return errors.Is(err, razar.ErrNotFound)
	}, "incident %s still in %s after its retention", rec.ID, bus.KVBucket)
	if recs := m.audit(rec.ID); len(recs) == 0 {
		t.Fatalf("the incident's audit records went with it")
	}
}
