package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A roster whose "redact" pattern does not compile stops `razar boot` before
// anything starts: exit 2, one line naming the file, the agent's field and
// the fix, no component started, the config untouched.
func TestBootRefusesAnUncompilableRedactPattern(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"},
		{"name": "k2", "backend": "exec", "command": ["sh", "fix.sh"], "redact": ["("]}]}`, map[string]string{
		"config/boot_config.json": `{"components": [{"name": "web", "priority": 1, "workdir": "web", "command": ["sh", "-c", "touch started; sleep 600"]}]}`,
	})
	before := treeBytes(t, filepath.Join(h, "config"))
	p := start(t, h, nil, "boot", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 30*time.Second); code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, p.out)
	}
	out := strings.TrimSpace(p.out.String())
	if strings.Count(out, "\n") != 0 || !strings.Contains(out, "razar_ai_agents.json") || !strings.Contains(out, "agents[1] (k2).redact[0]") || !strings.Contains(out, "fix:") {
		t.Fatalf("want one line naming the file, agents[1] (k2).redact[0] and the fix, got:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(h, "web/started")); !os.IsNotExist(err) {
		t.Fatalf("the component started despite the config error: %v", err)
	}
	if treeBytes(t, filepath.Join(h, "config")) != before {
		t.Fatal("the refused boot changed config/")
	}
}

// writeHomeFile writes body to h/rel.
func writeHomeFile(t *testing.T, h, rel, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(h, rel)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h, rel), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A roster that no longer parses (a bad pattern written while RAZAR runs)
// must not switch redaction off: the keys the rung packages and the file's
// auth tokens name are still redacted, and so are its good patterns.
func TestLogRedactionSurvivesABadRoster(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"},
		{"name": "k2", "backend": "openai", "endpoint": "http://k2/v1", "auth": {"type": "bearer", "token": "${K2_ROTATED}"}, "redact": ["token=\\S+", "("]},
		{"name": "airstar", "backend": "openai", "endpoint": "http://a/v1"}]}`, nil)
	env := map[string]string{"K2_ROTATED": "sk-rotated-5150", "AIRSTAR_API_KEY": "sk-airstar-6160", "RSTAR_API_KEY": "sk-rstar-7170"}
	c := newCLI(h, io.Discard, io.Discard, func(k string) (string, bool) { v, ok := env[k]; return v, ok })

	in := "k2 sent sk-rotated-5150, airstar sk-airstar-6160, rstar sk-rstar-7170, token=abc123"
	if got, want := c.redactor().Redact(in), "k2 sent [REDACTED], airstar [REDACTED], rstar [REDACTED], [REDACTED]"; got != want {
		t.Fatalf("Redact = %q, want %q", got, want)
	}
	red, err := c.secrets.Build()
	if err == nil || !strings.Contains(err.Error(), "redact") {
		t.Fatalf("build of a bad roster: err %v, want it reported", err)
	}
	if got := red.Redact(in); strings.Contains(got, "sk-") || strings.Contains(got, "abc123") {
		t.Fatalf("the rungs' redactor of a bad roster leaks: %q", got)
	}
}

// A key read from its V_FILE is redacted, and a rewritten file is redacted
// at the next log line, with no change to the roster.
func TestLogRedactionFollowsARewrittenKeyFile(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "k2", "backend": "openai", "endpoint": "http://k2/v1"}]}`, nil)
	writeHomeFile(t, h, "secrets/k2.key", "sk-file-key-one\n")
	env := map[string]string{"KIMI2_API_KEY_FILE": "secrets/k2.key"}
	c := newCLI(h, io.Discard, io.Discard, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if got := c.redactor().Redact("used sk-file-key-one"); got != "used [REDACTED]" {
		t.Fatalf("file key not redacted: %q", got)
	}
	writeHomeFile(t, h, "secrets/k2.key", "sk-file-key-two\n")
	if got := c.redactor().Redact("used sk-file-key-two"); got != "used [REDACTED]" {
		t.Fatalf("rewritten file key not redacted: %q", got)
	}
}
