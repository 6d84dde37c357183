package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/orchestrator"
)

// spending is a rung whose model spent usage and found nothing.
func spending(u razar.Usage) razar.Agent {
	return razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		return razar.Fix{Status: razar.StatusNoFix, Summary: "nothing", Usage: u}, nil
	})
}

// TestTokensAreRecordedPerAttemptSummedAndExported: each attempt's audit
// record carries its rung's usage, the incident sums them, and
// razar_ai_tokens_total counts them by rung, component and kind.
func TestTokensAreRecordedPerAttemptSummedAndExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics := orchestrator.NewMetrics(reg)
	m := newMesh(t, fiveRungs(map[string]rung{
		"kimicho": {backend: spending(razar.Usage{Prompt: 1000, Completion: 50})},
		"k2":      {backend: spending(razar.Usage{Prompt: 3000, Completion: 200})},
	}), orchestrator.Config{Threshold: 0, Metrics: metrics})
	rec := m.escalate("web: down")
	if want := (razar.Usage{Prompt: 4000, Completion: 250}); rec.Tokens != want {
		t.Errorf("incident tokens = %+v, want %+v", rec.Tokens, want)
	}
	got := map[string]*razar.Usage{}
	for _, r := range m.audit(rec.ID) {
		if r.Event == bus.EventAttempt {
			got[r.Agent] = r.Usage
		}
	}
	if u := got["k2"]; u == nil || *u != (razar.Usage{Prompt: 3000, Completion: 200}) {
		t.Errorf("k2's attempt record usage = %+v, want 3000 + 200", u)
	}
	if u := got["crown"]; u != nil {
		t.Errorf("crown's attempt record usage = %+v, want none: its backend reported none", u)
	}
	for _, c := range []struct {
		agent, kind string
		want        float64
	}{{"k2", "prompt", 3000}, {"k2", "completion", 200}, {"kimicho", "prompt", 1000}, {"crown", "prompt", 0}} {
		if v := counterValue(t, metrics.Tokens.WithLabelValues(c.agent, "web", c.kind)); v != c.want {
			t.Errorf("razar_ai_tokens_total{agent=%q,component=\"web\",kind=%q} = %v, want %v", c.agent, c.kind, v, c.want)
		}
	}
}

// TestTokenBudgetEndsTheLadder: once an incident's models have spent
// RAZAR_TOKEN_BUDGET, no rung is asked again and the incident fails
// saying why.
func TestTokenBudgetEndsTheLadder(t *testing.T) {
	m := newMesh(t, fiveRungs(map[string]rung{
		"crown":   {backend: spending(razar.Usage{Prompt: 600, Completion: 100})},
		"kimicho": {backend: spending(razar.Usage{Prompt: 400, Completion: 100})},
	}), orchestrator.Config{Threshold: 9, TokenBudget: 1000})
	rec := m.escalate("web: down")
	if got := attemptsOf(rec); got != "crown:no_fix kimicho:no_fix" || rec.State != razar.IncidentFailed {
		t.Fatalf("attempts %q (%s), want crown and kimicho, then the budget ends the ladder", got, rec.State)
	}
	for _, w := range []string{"token budget reached", "1200 tokens (1000 prompt, 200 completion)", "RAZAR_TOKEN_BUDGET=1000"} {
		if !strings.Contains(rec.Reason, w) {
			t.Errorf("reason %q lacks %q", rec.Reason, w)
		}
	}
}

// counterValue reads a counter's value as a scrape would.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
