package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
)

// historyTap is a rung backend that answers no_fix with a diff and a
// summary of some size, and keeps the task each attempt number was handed.
type historyTap struct {
	mu    sync.Mutex
	tasks map[int]razar.Task
	// hold, when set, is an attempt number whose answer waits for release.
	hold    int
	release chan struct{}
}

func (h *historyTap) agent() razar.Agent {
	fat := strings.Repeat("+a line of a proposed patch that did not help\n", 600) // ~27 KB
	return razar.AgentFunc(func(ctx context.Context, t razar.Task) (razar.Fix, error) {
		h.mu.Lock()
		h.tasks[t.Attempt] = t
		h.mu.Unlock()
		if t.Attempt == h.hold {
			select {
			case <-h.release:
			case <-ctx.Done():
				return razar.Fix{}, ctx.Err()
			}
		}
		return razar.Fix{Status: razar.StatusNoFix, Summary: fmt.Sprintf("attempt %d: %s", t.Attempt, strings.Repeat("why not ", 250)),
			Diff: fmt.Sprintf("--- a/app.conf\n+++ b/app.conf\n@@ -1 +1,4000 @@\n-try %d\n%s", t.Attempt, fat)}, nil
	})
}

func (h *historyTap) task(t *testing.T, n int) razar.Task {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	task, ok := h.tasks[n]
	if !ok {
		t.Fatalf("no rung was handed attempt %d (%d were)", n, len(h.tasks))
	}
	return task
}

func TestEveryEarlierAttemptIsInEachEscalationWithinTheBudget(t *testing.T) {
	tap := &historyTap{tasks: map[int]razar.Task{}}
	rungs := map[string]rung{}
	for _, n := range []string{"crown", "kimicho", "k2", "airstar", "rstar"} {
		rungs[n] = rung{backend: tap.agent()}
	}
	// T=29: 29 attempts round the local stack, then rStar's, attempt 30:
	// past the budget, which ~19 attempts of 27 KB fill.
	m := newMesh(t, fiveRungs(rungs), orchestrator.Config{Threshold: 29})
	rec := m.escalate("web: port is not a number")
	if rec.State != razar.IncidentFailed || rec.Earlier+len(rec.Attempts) != 30 {
		t.Fatalf("incident %s after %d attempts, want failed after 30", rec.State, rec.Earlier+len(rec.Attempts))
	}
	sizes := map[int]int{}
	for _, n := range []int{5, 17, 30} {
		task := tap.task(t, n)
		esc := bus.EscalationOf(task, time.Now().Add(time.Minute))
		data, err := bus.Encode(esc)
		if err != nil {
			t.Fatal(err)
		}
		ctxJSON, _ := json.Marshal(esc.Context)
		if len(ctxJSON) > bus.MaxContextBytes || len(data) > bus.MaxContextBytes+4<<10 {
			t.Errorf("attempt %d: history %d bytes, escalation %d bytes; want them under the budget of %d", n, len(ctxJSON), len(data), bus.MaxContextBytes)
		}
		sizes[n] = len(data)
		if len(task.History) != n-1 {
			t.Fatalf("attempt %d lists %d earlier attempts, want every one of %d", n, len(task.History), n-1)
		}
		shortened := 0
		for i, a := range task.History {
			if a.Number != i+1 || a.Rung == "" || a.Outcome != razar.OutcomeNoFix {
				t.Fatalf("attempt %d: history[%d] = #%d %s %s, want #%d no_fix", n, i, a.Number, a.Rung, a.Outcome, i+1)
			}
			if a.Shortened {
				shortened++
				if a.Diff != "" || a.DiffBytes == 0 || len(a.DiffSHA256) != 64 {
					t.Errorf("attempt %d: shortened #%d has diff text %d bytes, diff_bytes %d, sha %q; want no text, size and hash", n, a.Number, len(a.Diff), a.DiffBytes, a.DiffSHA256)
				}
			}
		}
		if shortened != task.Shortened || (n > 5 && shortened == 0) {
			t.Errorf("attempt %d: shortened says %d, %d attempts are marked; want equal (and not 0 past the newest %d)", n, task.Shortened, shortened, 4)
		}
		newest := task.History[n-2]
		if newest.Shortened || !strings.Contains(newest.Diff, fmt.Sprintf("-try %d\n", n-1)) {
			t.Errorf("attempt %d: the newest earlier attempt is not in full (shortened %v, %d diff bytes)", n, newest.Shortened, len(newest.Diff))
		}
	}
	// Flat beyond the budget: 25 more attempts cost no more than a line each.
	if grow := sizes[30] - sizes[5]; grow > 25*1024 {
		t.Errorf("escalation grew %d bytes from attempt 5 to 30, want at most a line (1 KiB) per attempt", grow)
	}
}

func TestEarlierAttemptsAreReadBackAfterARestart(t *testing.T) {
	// Attempt 20 is pending when the orchestrator restarts: the stored
	// incident holds attempts 5 to 19 only, so the new orchestrator reads
	// 1 to 4 back from their records on the stream for attempt 21.
	tap := &historyTap{tasks: map[int]razar.Task{}, hold: 20, release: make(chan struct{})}
	rungs := map[string]rung{}
	for _, n := range []string{"crown", "kimicho", "k2", "airstar", "rstar"} {
		rungs[n] = rung{backend: tap.agent(), timeout: time.Minute}
	}
	m := newMesh(t, fiveRungs(rungs), orchestrator.Config{Threshold: 20})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, _, err := m.orch.Escalate(ctx, "web", "web: port is not a number", "")
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, time.Minute, func() bool {
		tap.mu.Lock()
		defer tap.mu.Unlock()
		_, ok := tap.tasks[20]
		return ok
	}, "attempt 20 never reached a rung")
	m.stopOrch()
	m.stopOrch = m.startOrchestrator()
	close(tap.release)
	if _, err := m.orch.Wait(ctx, id); err != nil {
		t.Fatalf("incident %s did not end: %v", id, err)
	}
	task := tap.task(t, 21)
	if len(task.History) != 20 {
		t.Fatalf("attempt 21 after a restart lists %d earlier attempts, want 20", len(task.History))
	}
	for i, a := range task.History {
		if a.Number != i+1 || a.Outcome != razar.OutcomeNoFix || a.Rung == "" {
			t.Fatalf("history[%d] = #%d %s %s, want #%d no_fix", i, a.Number, a.Rung, a.Outcome, i+1)
		}
		if i < 16 && (!a.Shortened || a.DiffBytes == 0 || len(a.DiffSHA256) != 64 || a.Summary == "") {
			t.Fatalf("#%d read back: shortened %v, diff %d bytes sha %q, summary %q; want a line with the diff's size and hash", a.Number, a.Shortened, a.DiffBytes, a.DiffSHA256, a.Summary)
		}
	}
}
