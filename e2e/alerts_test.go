package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

// TestAnIncidentThatHealsResolvesItsWarning: the escalation warning an
// incident raises (W=1) is resolved, with the same fingerprint, when the
// incident heals; one firing post for the whole burst of hand-overs.
func TestAnIncidentThatHealsResolvesItsWarning(t *testing.T) {
	var mu sync.Mutex
	var posts []bus.AlertMsg
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m bus.AlertMsg
		if json.NewDecoder(r.Body).Decode(&m) == nil {
			mu.Lock()
			posts = append(posts, m)
			mu.Unlock()
		}
	}))
	defer hook.Close()
	var m *mesh
	fix := razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		if err := m.heal(); err != nil {
			return razar.Fix{}, err
		}
		return razar.Fix{Status: razar.StatusFixed, Summary: "healed"}, nil
	})
	env := bustest.New(t)
	alerts := alert.New(env.Store, zerolog.Nop()).WithSinks(alert.Sinks{Webhook: hook.URL, Timeout: 2 * time.Second})
	defer alerts.Close()
	m = newMeshOn(t, env, fiveRungs(map[string]rung{"k2": {backend: fix}}), orchestrator.Config{Threshold: 9, WarnThreshold: 1, Alerts: alerts})
	rec := m.escalate("web: down")
	if rec.State != razar.IncidentHealed {
		t.Fatalf("incident %s: %s", rec.State, attemptsOf(rec))
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(posts) >= 2 && posts[len(posts)-1].Status == "resolved"
	}, "the warning was never resolved: %v", bustest.Lazy(func() string {
		mu.Lock()
		defer mu.Unlock()
		b, _ := json.Marshal(posts)
		return string(b)
	}))
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 2 || posts[0].Status != "firing" || posts[0].Name != "RazarEscalationWarning" || posts[0].Fingerprint != posts[1].Fingerprint {
		t.Fatalf("webhook posts %+v: want one firing warning (three hand-overs) and its resolve", posts)
	}
}
