package agents

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
)

func lookupOf(env map[string]string) config.Lookup {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

var k2Rung = Rung{Name: "k2", Display: "K2 Coder", CredentialEnv: "KIMI2_API_KEY", EndpointEnv: "KIMI2_ENDPOINT"}

func TestResolveCredentials(t *testing.T) {
	const secret = "sk-planted-secret-4242"
	tests := []struct {
		name    string
		entry   config.AgentEntry
		env     map[string]string
		wantVar string // credential error naming this variable
		empty   bool
		wantErr string // other error text
		token   string
	}{
		{"default variable set", config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2:8000/v1"},
			map[string]string{"KIMI2_API_KEY": secret}, "", false, "", secret},
		{"default variable unset", config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2:8000/v1"},
			nil, "KIMI2_API_KEY", false, "", ""},
		{"default variable empty", config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2:8000/v1"},
			map[string]string{"KIMI2_API_KEY": ""}, "KIMI2_API_KEY", true, "", ""},
		{"auth names a rotated variable", config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2/v1",
			Auth: &config.AgentAuth{Type: "bearer", Token: "${KIMI2_API_KEY_2026_12}"}},
			map[string]string{"KIMI2_API_KEY_2026_12": secret}, "", false, "", secret},
		{"rotated variable missing", config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2/v1",
			Auth: &config.AgentAuth{Type: "bearer", Token: "${KIMI2_API_KEY_2026_12}"}},
			map[string]string{"KIMI2_API_KEY": secret}, "KIMI2_API_KEY_2026_12", false, "", ""},
		{"endpoint from its variable", config.AgentEntry{Name: "k2", Backend: "http", Endpoint: "${KIMI2_ENDPOINT}"},
			map[string]string{"KIMI2_API_KEY": secret}, "", false, "no endpoint: KIMI2_ENDPOINT is unset", ""},
		{"endpoint not a URL", config.AgentEntry{Name: "k2", Backend: "http", Endpoint: "k2:8000"},
			map[string]string{"KIMI2_API_KEY": secret}, "", false, "not an http(s) URL", ""},
		{"local exec needs no key", config.AgentEntry{Name: "k2", Backend: "exec", Command: []string{"./fix.sh"}},
			nil, "", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Resolve(k2Rung, tt.entry, t.TempDir(), lookupOf(tt.env))
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the secret: %v", err)
			}
			switch {
			case tt.wantVar != "":
				var ce *razar.AgentCredentialError
				if !errors.As(err, &ce) || ce.EnvVar != tt.wantVar || ce.Empty != tt.empty || ce.Agent != "k2" {
					t.Fatalf("err = %v, want credential error for %s (empty=%v)", err, tt.wantVar, tt.empty)
				}
				if !errors.Is(err, razar.ErrRungUnavailable) {
					t.Fatal("credential error does not make the rung unavailable")
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, razar.ErrRungUnavailable) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if res.Token != tt.token {
					t.Fatalf("token %q, want %q", res.Token, tt.token)
				}
			}
		})
	}
}

func TestRotationPlanAndManifests(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("k2.json", `{"agents": [{"name": "K2", "env": "KIMI2_API_KEY_2026_12", "endpoint": "https://k2.example/v1"}]}`)
	write("airstar.yaml", "agents:\n  - name: airstar\n    env: AIRSTAR_API_KEY_2026_12\n")
	write("notes.txt", "ignored")
	mans, err := LoadManifests(dir)
	if err != nil {
		t.Fatal(err)
	}
	roster, err := config.ParseRoster("r.json", []byte(`{"agents": [
		{"name": "crown", "backend": "builtin"},
		{"name": "k2", "backend": "openai", "endpoint": "http://old/v1", "auth": {"type": "bearer", "token": "${KIMI2_API_KEY}"}},
		{"name": "airstar", "backend": "http", "endpoint": "http://air/v1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	rungs := func(n string) Rung {
		switch n {
		case "k2":
			return k2Rung
		case "airstar":
			return Rung{Name: "airstar", CredentialEnv: "AIRSTAR_API_KEY"}
		}
		return Generic(n)
	}
	next, items, err := PlanRotation(roster, mans, rungs, dir, lookupOf(map[string]string{"KIMI2_API_KEY_2026_12": "new-k2-key-1"}))
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := next.Agent("k2")
	if k2.Auth.Token != "${KIMI2_API_KEY_2026_12}" || k2.Endpoint != "https://k2.example/v1" {
		t.Fatalf("k2 after rotation: %+v %+v", k2, k2.Auth)
	}
	if len(items) != 2 || items[0].Agent != "airstar" || items[0].Set || items[0].Err == nil || items[1].Agent != "k2" || !items[1].Set || items[1].Err != nil {
		t.Fatalf("items: %+v", items)
	}
	if items[1].From != "KIMI2_API_KEY" {
		t.Fatalf("k2 rotated from %q", items[1].From)
	}
	// The original roster is untouched by planning.
	if old, _ := roster.Agent("k2"); old.Auth.Token != "${KIMI2_API_KEY}" {
		t.Fatal("planning changed the roster in place")
	}
	write("bad.json", `{"agents": [{"name": "ghost", "env": "X"}]}`)
	mans, err = LoadManifests(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := PlanRotation(roster, mans, rungs, dir, lookupOf(nil)); err == nil || !strings.Contains(err.Error(), "not in the roster") {
		t.Fatalf("unknown agent: %v", err)
	}
	for _, bad := range []string{`{"agents": [{"name": "k2", "env": "${X}"}]}`, `{"agents": [{"name": "k2"}]}`, `{"agentz": []}`, `nope`} {
		if _, err := ParseManifest("m.json", []byte(bad)); !errors.Is(err, razar.ErrInvalidConfig) {
			t.Errorf("manifest %s: %v", bad, err)
		}
	}
}

// FuzzParseManifest: no manifest, however broken, panics the parser, and
// one it accepts names each agent and a plain variable.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"agents": [{"name": "k2", "env": "KIMI2_API_KEY_2026_12", "endpoint": "https://k2.example/v1"}]}`))
	f.Add([]byte(`{"agents": [{"name": "AirStar", "env": "AIRSTAR_API_KEY_2", "timeout": "30s", "model": "m"}]}`))
	f.Add([]byte(`{"agents": [{"name": "k2", "env": "${X}"}]}`))
	f.Add([]byte(`{"agents": [{"name": "k2", "file": "secrets/k2.key"}]}`))
	f.Add([]byte(`{"agents": [{"name": "k2", "file": "../k2.key"}]}`))
	f.Add([]byte(`nope`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest("m.json", data)
		if err != nil {
			if !errors.Is(err, razar.ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			return
		}
		for _, a := range m.Agents {
			if a.Name == "" || a.Name != strings.ToLower(a.Name) || (a.Env == "") == (a.File == "") {
				t.Fatalf("accepted %+v", a)
			}
			if a.Env != "" && strings.ContainsAny(a.Env, "${} =:") {
				t.Fatalf("accepted variable %q", a.Env)
			}
			if a.File != "" && ValidKeyPath(a.File) != nil {
				t.Fatalf("accepted file %q", a.File)
			}
		}
	})
}
