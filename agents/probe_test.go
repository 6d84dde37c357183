package agents

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/razar/razar"
)

// The prober answers about a candidate roster in the process's own
// environment, and its answer never carries the value of a variable the
// candidate names, even one smuggled in as an endpoint.
func TestProberChecksTheCandidateAndNeverQuotesASecret(t *testing.T) {
	home := t.TempDir()
	rosterPath := writeRoster(t, home, `{"agents": [{"name": "k2", "backend": "exec", "command": ["sh", "k2.sh"]}]}`)
	lookup := lookupOf(map[string]string{"KIMI2_API_KEY_2026_12": "sk-new-key-in-rung-env", "AWS_SECRET_ACCESS_KEY": "aws-secret-value-123456"})
	probe := RosterProber(rosterPath, home, k2Rung, lookup)
	ctx := context.Background()
	if err := probe(ctx, nil); err != nil {
		t.Fatalf("current roster: %v", err)
	}
	ok := `{"agents": [{"name": "k2", "backend": "exec", "command": ["sh", "k2.sh"], "auth": {"type": "bearer", "token": "${KIMI2_API_KEY_2026_12}"}}]}`
	if err := probe(ctx, []byte(ok)); err != nil {
		t.Fatalf("candidate with the rung's variable set: %v", err)
	}
	unset := strings.ReplaceAll(ok, "KIMI2_API_KEY_2026_12", "KIMI2_API_KEY_2027_01")
	if err := probe(ctx, []byte(unset)); err == nil || !strings.Contains(err.Error(), "KIMI2_API_KEY_2027_01 is unset") {
		t.Fatalf("candidate with an unset variable: %v", err)
	}
	smuggled := `{"agents": [{"name": "k2", "backend": "openai", "endpoint": "${AWS_SECRET_ACCESS_KEY}", "auth": {"type": "bearer", "token": "${KIMI2_API_KEY_2026_12}"}}]}`
	err := probe(ctx, []byte(smuggled))
	if err == nil || strings.Contains(err.Error(), "aws-secret-value") || strings.Contains(err.Error(), "sk-new-key") {
		t.Fatalf("smuggled endpoint: %v, want a refusal without the value", err)
	}
	if err := probe(ctx, []byte(`{"agents": [{"name": "crown", "backend": "builtin"}]}`)); err == nil || !strings.Contains(err.Error(), "k2") {
		t.Fatalf("candidate without the rung: %v", err)
	}
	if err := probe(ctx, []byte(`{"agents": 1}`)); !errors.Is(err, razar.ErrInvalidConfig) {
		t.Fatalf("broken candidate: %v", err)
	}
}
