package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/razar/razar"
)

// A roster "redact" pattern that would not redact as written is refused when
// the roster is parsed, naming the agent, the field and the fix, rather
// than a rung running with redaction silently off.
func TestRosterRefusesBadRedactPatterns(t *testing.T) {
	for _, tt := range []struct{ pattern, field, msg string }{
		{`(`, "agents[1] (k2).redact[1]", "does not compile"},
		{`\\S*`, "agents[1] (k2).redact[1]", "matches empty text"},
		{`(token)?`, "agents[1] (k2).redact[1]", "matches empty text"},
		{``, "agents[1] (k2).redact[1]", "matches empty text"},
	} {
		data := `{"agents": [{"name": "crown", "backend": "builtin"},
			{"name": "K2", "backend": "exec", "command": ["./fix.sh"], "redact": ["sk-[a-z0-9]+", "` + tt.pattern + `"]}]}`
		_, err := ParseRoster("config/razar_ai_agents.json", []byte(data))
		var ce *razar.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, razar.ErrInvalidConfig) {
			t.Fatalf("pattern %q: err = %v, want a *ConfigError", tt.pattern, err)
		}
		if ce.File != "config/razar_ai_agents.json" || ce.Field != tt.field || !strings.Contains(ce.Msg, tt.msg) || ce.Fix == "" {
			t.Errorf("pattern %q: %+v, want field %s and %q", tt.pattern, ce, tt.field, tt.msg)
		}
		if !strings.Contains(err.Error(), "k2") || !strings.Contains(err.Error(), "redact") {
			t.Errorf("pattern %q: %q does not name the agent and redact", tt.pattern, err)
		}
	}
	if _, err := ParseRoster("r.json", []byte(`{"agents": [{"name": "k2", "backend": "builtin", "redact": ["token=\\S+", "(?i)bearer [a-z0-9._-]+"]}]}`)); err != nil {
		t.Fatalf("good patterns refused: %v", err)
	}
}
