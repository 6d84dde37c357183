package agents

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
)

// writeFile writes body to home/rel, making its directory.
func writeFile(t *testing.T, home, rel, body string) string {
	t.Helper()
	p := filepath.Join(home, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeRoster writes config/razar_ai_agents.json into home.
func writeRoster(t *testing.T, home, body string) string {
	t.Helper()
	return writeFile(t, home, "config/razar_ai_agents.json", body)
}

// credErr asserts err is a credential error for agent k2 naming envVar,
// making the rung unavailable, and holding none of the secrets.
func credErr(t *testing.T, err error, envVar string, secrets ...string) *razar.AgentCredentialError {
	t.Helper()
	var ce *razar.AgentCredentialError
	if !errors.As(err, &ce) || ce.Agent != "k2" || ce.EnvVar != envVar {
		t.Fatalf("err = %v, want a credential error of k2 naming %s", err, envVar)
	}
	if !errors.Is(err, razar.ErrRungUnavailable) {
		t.Fatalf("%v does not make the rung unavailable", err)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q holds a key", err)
		}
	}
	return ce
}

// A rung whose key lives in KIMI2_API_KEY_FILE (relative to the home) sends
// the file's key, trimmed; rewriting the file reaches the rung at its next
// load, as a reload does, with no restart.
func TestKeyFileIsReadAtEveryLoad(t *testing.T) {
	home := t.TempDir()
	writeFile(t, home, "secrets/k2.key", "  sk-file-key-one\n\n")
	cs := newChatServer(t, answer(`{"status":"no_fix","summary":"nothing to do"}`))
	rosterPath := writeRoster(t, home, `{"agents": [{"name": "k2", "backend": "openai", "endpoint": "`+cs.endpoint()+`"}]}`)
	load := RosterLoader(rosterPath, home, k2Rung, lookupOf(map[string]string{"KIMI2_API_KEY_FILE": "secrets/k2.key"}))

	for i, key := range []string{"sk-file-key-one", "sk-file-key-two"} {
		if i > 0 {
			writeFile(t, home, "secrets/k2.key", key+"\n")
		}
		agent, err := load(context.Background())
		if err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		if _, err := repairWithin(t, agent, openAITask(), 5*time.Second); err != nil {
			t.Fatalf("repair %d: %v", i, err)
		}
		reqs := cs.requests()
		if got := reqs[len(reqs)-1].Auth; got != "Bearer "+key {
			t.Fatalf("load %d sent Authorization %q, want the file's key %q", i, got, key)
		}
	}
}

func TestBlankKeyFileIsAnEmptyCredential(t *testing.T) {
	home := t.TempDir()
	path := writeFile(t, home, "secrets/k2.key", " \n\t\n")
	entry := config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2/v1"}
	_, err := Resolve(k2Rung, entry, home, lookupOf(map[string]string{"KIMI2_API_KEY_FILE": "secrets/k2.key"}))
	ce := credErr(t, err, "KIMI2_API_KEY_FILE")
	if !ce.Empty || ce.Path != path || !strings.Contains(err.Error(), "empty") || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v (empty=%v, path %q), want it empty and naming %s", err, ce.Empty, ce.Path, path)
	}
	// A whitespace-only key in the variable itself is empty too.
	_, err = Resolve(k2Rung, entry, home, lookupOf(map[string]string{"KIMI2_API_KEY": "  \t "}))
	if ce := credErr(t, err, "KIMI2_API_KEY"); !ce.Empty || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("whitespace key: %v, want empty", err)
	}
}

func TestUnreadableKeyFileNamesTheVariableAndPathNotTheContent(t *testing.T) {
	home := t.TempDir()
	entry := config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2/v1"}
	missing := filepath.Join(home, "secrets/none.key")
	_, err := Resolve(k2Rung, entry, home, lookupOf(map[string]string{"KIMI2_API_KEY_FILE": "secrets/none.key"}))
	credErr(t, err, "KIMI2_API_KEY_FILE")
	if !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}

	const secret = "sk-two-line-secret-77"
	writeFile(t, home, "secrets/bad.key", secret+"\nsecond line\n")
	_, err = Resolve(k2Rung, entry, home, lookupOf(map[string]string{"KIMI2_API_KEY_FILE": "secrets/bad.key"}))
	credErr(t, err, "KIMI2_API_KEY_FILE", secret, "second line")

	if os.Geteuid() != 0 { // root reads any file
		p := writeFile(t, home, "secrets/locked.key", secret)
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		_, err = Resolve(k2Rung, entry, home, lookupOf(map[string]string{"KIMI2_API_KEY_FILE": p}))
		credErr(t, err, "KIMI2_API_KEY_FILE", secret)
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("unreadable file: %v", err)
		}
	}
}

// V and V_FILE set together must agree: a key with two sources that differ
// is an error naming both, never a silent pick.
func TestKeyAndKeyFileMustAgree(t *testing.T) {
	home := t.TempDir()
	writeFile(t, home, "secrets/k2.key", "sk-from-the-file\n")
	entry := config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2/v1"}
	same := lookupOf(map[string]string{"KIMI2_API_KEY": "sk-from-the-file", "KIMI2_API_KEY_FILE": "secrets/k2.key"})
	if res, err := Resolve(k2Rung, entry, home, same); err != nil || res.Token != "sk-from-the-file" {
		t.Fatalf("same key twice: %q %v", res.Token, err)
	}
	differ := lookupOf(map[string]string{"KIMI2_API_KEY": "sk-from-the-env", "KIMI2_API_KEY_FILE": "secrets/k2.key"})
	_, err := Resolve(k2Rung, entry, home, differ)
	credErr(t, err, "KIMI2_API_KEY", "sk-from-the-env", "sk-from-the-file")
	if !strings.Contains(err.Error(), "KIMI2_API_KEY_FILE") {
		t.Fatalf("conflict error does not name both variables: %v", err)
	}
	// An empty V_FILE is as good as unset: V is used.
	if res, err := Resolve(k2Rung, entry, home, lookupOf(map[string]string{"KIMI2_API_KEY": "sk-from-the-env", "KIMI2_API_KEY_FILE": " "})); err != nil || res.Token != "sk-from-the-env" {
		t.Fatalf("blank V_FILE: %q %v", res.Token, err)
	}
}

// A ${VAR} of an auth token (a rotated key) may come from its own _FILE.
func TestAuthTokenVariableFromItsFile(t *testing.T) {
	home := t.TempDir()
	abs := writeFile(t, home, "elsewhere/rotated.key", "sk-rotated-from-file\n")
	entry := config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2/v1",
		Auth: &config.AgentAuth{Type: "bearer", Token: "${KIMI2_API_KEY_2026_12}"}}
	res, err := Resolve(k2Rung, entry, t.TempDir(), lookupOf(map[string]string{"KIMI2_API_KEY_2026_12_FILE": abs}))
	if err != nil || res.Token != "sk-rotated-from-file" {
		t.Fatalf("token %q, %v", res.Token, err)
	}
}

// The redactor's secrets include keys read from files, and both keys when V
// and V_FILE disagree, even though such a rung cannot run.
func TestSecretValuesIncludeFileKeys(t *testing.T) {
	home := t.TempDir()
	writeFile(t, home, "secrets/k2.key", "sk-k2-from-file\n")
	writeFile(t, home, "secrets/rot.key", "sk-rotated-from-file")
	roster, err := config.ParseRoster("r.json", []byte(`{"agents": [
		{"name": "k2", "backend": "openai", "endpoint": "http://k2/v1"},
		{"name": "airstar", "backend": "openai", "endpoint": "http://a/v1", "auth": {"type": "bearer", "token": "${AIR_ROTATED}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	rungs := func(n string) Rung {
		if n == "k2" {
			return k2Rung
		}
		return Generic(n)
	}
	lookup := lookupOf(map[string]string{"KIMI2_API_KEY": "sk-k2-from-env", "KIMI2_API_KEY_FILE": "secrets/k2.key", "AIR_ROTATED_FILE": "secrets/rot.key"})
	got := strings.Join(SecretValues(roster, rungs, home, lookup), " ")
	for _, want := range []string{"sk-k2-from-env", "sk-k2-from-file", "sk-rotated-from-file"} {
		if !strings.Contains(got, want) {
			t.Errorf("SecretValues %q lacks %s", got, want)
		}
	}
	red, err := razar.NewRedactor(SecretValues(roster, rungs, home, lookup), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out := red.Redact("k2 said sk-k2-from-file"); out != "k2 said [REDACTED]" {
		t.Fatalf("file key not redacted: %q", out)
	}
}

// An exec rung's script gets the base environment, the task variables and
// its own key, whether from the variable or its file: never another
// rung's key nor anything else RAZAR was started with.
func TestExecRungSeesOnlyItsOwnKey(t *testing.T) {
	planted := map[string]string{
		"KIMI2_API_KEY":   "sk-kimi2-planted-1111",
		"AIRSTAR_API_KEY": "sk-airstar-planted-2222",
		"RSTAR_API_KEY":   "sk-rstar-planted-3333",
		"OPENAI_API_KEY":  "sk-openai-planted-4444",
		"RAZAR_NATS_URL":  "nats://127.0.0.1:4222",
	}
	for k, v := range planted {
		t.Setenv(k, v)
	}
	home := t.TempDir()
	writeFile(t, home, "agents/env.sh", "#!/bin/sh\ncat >/dev/null\nenv > \"$RAZAR_RUNG.env\"\necho '{\"status\":\"no_fix\",\"summary\":\"looked\"}'\n")
	writeFile(t, home, "secrets/air.key", "sk-airstar-from-file\n")
	rosterPath := writeRoster(t, home, `{"agents": [
		{"name": "k2", "backend": "exec", "command": ["sh", "agents/env.sh"]},
		{"name": "airstar", "backend": "exec", "command": ["sh", "agents/env.sh"]}]}`)
	run := func(r Rung, lookup config.Lookup) map[string]string {
		t.Helper()
		agent, err := RosterLoader(rosterPath, home, r, lookup)(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		task := execTask()
		task.Rung = r.Name
		if fix, err := repairWithin(t, agent, task, 10*time.Second); err != nil || fix.Summary != "looked" {
			t.Fatalf("%s: %+v %v", r.Name, fix, err)
		}
		out, err := os.ReadFile(filepath.Join(home, r.Name+".env"))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				seen[k] = v
			}
		}
		return seen
	}
	check := func(name string, seen map[string]string, ownVar, ownKey string) {
		t.Helper()
		if seen[ownVar] != ownKey {
			t.Errorf("%s: %s = %q, want its own key", name, ownVar, seen[ownVar])
		}
		if seen["RAZAR_INCIDENT"] != execTask().Incident || seen["RAZAR_RUNG"] != name || seen["RAZAR_WORKDIR"] == "" || seen["PATH"] == "" {
			t.Errorf("%s: task or base variables missing: %v", name, seen)
		}
		for k, v := range planted {
			if k == ownVar {
				continue
			}
			for sk, sv := range seen {
				if sk == k || strings.Contains(sv, v) {
					t.Errorf("%s sees RAZAR's %s (as %s)", name, k, sk)
				}
			}
		}
		for k := range seen {
			switch k {
			case "PATH", "HOME", "LANG", "TZ", "TMPDIR", ownVar, "PWD", "OLDPWD", "SHLVL", "_":
			case "RAZAR_INCIDENT", "RAZAR_COMPONENT", "RAZAR_ATTEMPT", "RAZAR_RUNG", "RAZAR_WORKDIR":
			default:
				t.Errorf("%s inherited %s", name, k)
			}
		}
	}
	airstar := Rung{Name: "airstar", CredentialEnv: "AIRSTAR_API_KEY"}
	check("k2", run(k2Rung, os.LookupEnv), "KIMI2_API_KEY", planted["KIMI2_API_KEY"])

	// airstar's key from its file: the script gets it as AIRSTAR_API_KEY.
	t.Setenv("AIRSTAR_API_KEY", "")
	os.Unsetenv("AIRSTAR_API_KEY")
	t.Setenv("AIRSTAR_API_KEY_FILE", "secrets/air.key")
	seen := run(airstar, os.LookupEnv)
	check("airstar", seen, "AIRSTAR_API_KEY", "sk-airstar-from-file")
	if _, ok := seen["AIRSTAR_API_KEY_FILE"]; ok {
		t.Error("airstar's script sees AIRSTAR_API_KEY_FILE")
	}
}
