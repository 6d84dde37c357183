package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/alert"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
)

// humanMesh is a mesh whose ladder is a person (oncall), then K2, which
// heals web; the alerts go to a webhook whose posts it returns.
func humanMesh(t *testing.T, timeout, ackTimeout time.Duration) (*mesh, func() []bus.AlertMsg) {
	t.Helper()
	var mu sync.Mutex
	var posts []bus.AlertMsg
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a bus.AlertMsg
		if json.NewDecoder(r.Body).Decode(&a) == nil {
			mu.Lock()
			posts = append(posts, a)
			mu.Unlock()
		}
	}))
	t.Cleanup(hook.Close)
	var m *mesh
	fix := razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		if err := m.heal(); err != nil {
			return razar.Fix{}, err
		}
		return razar.Fix{Status: razar.StatusFixed, Summary: "healed"}, nil
	})
	env := bustest.New(t)
	alerts := alert.New(env.Store, zerolog.Nop()).WithSinks(alert.Sinks{Webhook: hook.URL, Timeout: 2 * time.Second})
	t.Cleanup(alerts.Close)
	m = newMeshOn(t, env, []rung{
		{name: "oncall", human: true, timeout: timeout, ackTimeout: ackTimeout},
		{name: "k2", timeout: 5 * time.Second, backend: fix},
	}, orchestrator.Config{Threshold: 9, Alerts: alerts})
	return m, func() []bus.AlertMsg {
		mu.Lock()
		defer mu.Unlock()
		return append([]bus.AlertMsg(nil), posts...)
	}
}

// answerPage opens an incident and, once its human rung is paged, answers
// with verb as alice; it returns the incident id.
func (m *mesh) answerPage(verb bus.Verb, summary string) string {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, _, err := m.orch.Escalate(ctx, "web", "web: down", "")
	if err != nil {
		m.t.Fatal(err)
	}
	var last error
	bustest.Eventually(m.t, 10*time.Second, func() bool {
		_, _, last = m.orch.Answer(ctx, "web", verb, "alice", summary)
		return last == nil
	}, "the page never took alice's %s: %v", verb, bustest.Lazy(func() string { return last.Error() }))
	return id
}

func (m *mesh) wait(id string) *bus.IncidentRecord {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec, err := m.orch.Wait(ctx, id)
	if err != nil {
		m.t.Fatalf("incident %s did not end: %v", id, err)
	}
	return rec
}

// TestHumanAckThatRunsOutWarnsAndTheLadderMovesOn: an ack holds the ladder
// only for the rung's ack_timeout; then the attempt is a timeout that names
// the ack, RazarHumanAckExpired fires, and K2 takes the incident.
func TestHumanAckThatRunsOutWarnsAndTheLadderMovesOn(t *testing.T) {
	m, posts := humanMesh(t, 5*time.Second, 300*time.Millisecond)
	id := m.answerPage(bus.VerbAck, "")
	rec := m.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "oncall:timeout k2:healed" {
		t.Fatalf("incident %s: %s", rec.State, attemptsOf(rec))
	}
	a := rec.Attempts[0]
	if !strings.Contains(a.Error, "acknowledged by alice") || !strings.Contains(a.Error, "ack_timeout 300ms") || a.Finished.Sub(a.Started) >= 5*time.Second {
		t.Fatalf("the acked attempt: %+v", a)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		for _, p := range posts() {
			if p.Name == orchestrator.HumanAckExpired && p.Incident == id && p.Status == "firing" {
				return true
			}
		}
		return false
	}, "no %s alert: %v", orchestrator.HumanAckExpired, bustest.Lazy(func() string { b, _ := json.Marshal(posts()); return string(b) }))
}

// TestHumanResolveThatDoesNotHoldIsRejected: a resolve is verified like
// any fix: web is still broken, so the attempt is rejected (naming alice)
// and K2 takes the incident.
func TestHumanResolveThatDoesNotHoldIsRejected(t *testing.T) {
	m, _ := humanMesh(t, 10*time.Second, time.Minute)
	rec := m.wait(m.answerPage(bus.VerbResolve, "restarted it"))
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "oncall:rejected k2:healed" {
		t.Fatalf("incident %s: %s", rec.State, attemptsOf(rec))
	}
	a := rec.Attempts[0]
	if a.Actor != "alice" || !strings.HasPrefix(a.Reason, "health check failed after fix") || !strings.Contains(a.Summary, "fixed by hand by alice: restarted it") {
		t.Fatalf("the resolved attempt: %+v", a)
	}
}

// TestAbortWhilePagedResolvesThePage: an abort while the person is paged
// ends the attempt as aborted, and the page goes out resolved.
func TestAbortWhilePagedResolvesThePage(t *testing.T) {
	m, posts := humanMesh(t, 10*time.Second, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, _, err := m.orch.Escalate(ctx, "web", "web: down", "")
	if err != nil {
		t.Fatal(err)
	}
	paged := func(status string) bool {
		for _, p := range posts() {
			if p.Name == orchestrator.HumanPage && p.Incident == id && p.Status == status {
				return true
			}
		}
		return false
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return paged("firing") }, "never paged")
	if _, err := m.orch.Abort(ctx, "web", "alice"); err != nil {
		t.Fatal(err)
	}
	rec := m.wait(id)
	if rec.State != razar.IncidentAborted || attemptsOf(rec) != "oncall:aborted" {
		t.Fatalf("incident %s: %s", rec.State, attemptsOf(rec))
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return paged("resolved") }, "the page was never resolved")
}

// TestHumanAckSurvivesAnOrchestratorRestart: the ack is stored on the
// pending attempt, so an orchestrator started again on the same store
// pages again and keeps the ack's deadline, not the rung's timeout; a
// resolve then heals.
func TestHumanAckSurvivesAnOrchestratorRestart(t *testing.T) {
	m, posts := humanMesh(t, 2*time.Second, time.Minute)
	id := m.answerPage(bus.VerbAck, "on it")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, _, err := m.env.Store.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m.stopOrch()
	m.stopOrch = m.startOrchestrator()
	firing := func() int {
		n := 0
		for _, p := range posts() {
			if p.Name == orchestrator.HumanPage && p.Incident == id && p.Status == "firing" {
				n++
			}
		}
		return n
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return firing() >= 2 }, "the restarted orchestrator did not page again")
	after, _, err := m.env.Store.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	p := after.Pending
	if p == nil || p.Attempt != 1 || p.AckedBy != "alice" || !p.Deadline.Equal(before.Pending.Deadline) || !p.Deadline.After(p.Started.Add(30*time.Second)) {
		t.Fatalf("pending after the restart: %+v (before %+v)", p, before.Pending)
	}
	if err := m.heal(); err != nil {
		t.Fatal(err)
	}
	var last error
	bustest.Eventually(t, 10*time.Second, func() bool {
		_, _, last = m.orch.Answer(ctx, "web", bus.VerbResolve, "alice", "")
		return last == nil
	}, "the restarted page never took the resolve: %v", bustest.Lazy(func() string { return last.Error() }))
	rec := m.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "oncall:healed" || rec.Attempts[0].Actor != "alice" {
		t.Fatalf("incident %s: %s %+v", rec.State, attemptsOf(rec), rec.Attempts)
	}
}
