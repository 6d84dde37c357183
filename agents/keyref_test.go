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

// A roster whose auth.token is ${file:PATH} sends the key that file holds,
// read afresh at every load: what a `file` rotation manifest writes, so a
// running rung needs no new variable to take the new key.
func TestFileReferenceTokenIsReadAtEveryLoad(t *testing.T) {
	home := t.TempDir()
	writeFile(t, home, "secrets/k2-2026-12.key", "sk-file-ref-one\n")
	cs := newChatServer(t, answer(`{"status":"no_fix","summary":"nothing to do"}`))
	rosterPath := writeRoster(t, home, `{"agents": [{"name": "k2", "backend": "openai", "endpoint": "`+cs.endpoint()+`",
		"auth": {"type": "bearer", "token": "${file:secrets/k2-2026-12.key}"}}]}`)
	// The rung's old variable is still exported: the roster's file wins.
	load := RosterLoader(rosterPath, home, k2Rung, lookupOf(map[string]string{"KIMI2_API_KEY": "sk-old-variable-key"}))
	for i, key := range []string{"sk-file-ref-one", "sk-file-ref-two"} {
		if i > 0 {
			writeFile(t, home, "secrets/k2-2026-12.key", key)
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

// A relative file reference must stay inside the home, and a missing or
// blank file is a credential error naming auth.token and the file, never
// its content. (An absolute one is keyfile_test.go's.)
func TestFileReferenceOutsideTheHomeOrMissingIsRefused(t *testing.T) {
	home := t.TempDir()
	outside := filepath.Join(t.TempDir(), "k2.key")
	if err := os.WriteFile(outside, []byte("sk-outside-9999"), 0o600); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(home, outside)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(token string) config.AgentEntry {
		return config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2/v1", Auth: &config.AgentAuth{Type: "bearer", Token: token}}
	}
	for _, path := range []string{rel, "secrets/../../k2.key"} {
		_, err := Resolve(k2Rung, entry(FileRefToken(path)), home, lookupOf(nil))
		credErr(t, err, "auth.token", "sk-outside-9999")
		if !strings.Contains(err.Error(), "inside the RAZAR home") {
			t.Errorf("%s: %v, want it refused as outside the home", path, err)
		}
	}
	_, err = Resolve(k2Rung, entry(FileRefToken("secrets/none.key")), home, lookupOf(nil))
	credErr(t, err, "auth.token")
	if want := filepath.Join(home, "secrets/none.key"); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v, want it naming %s", err, want)
	}
	writeFile(t, home, "secrets/blank.key", " \n")
	_, err = Resolve(k2Rung, entry(FileRefToken("secrets/blank.key")), home, lookupOf(nil))
	if ce := credErr(t, err, "auth.token"); !ce.Empty {
		t.Fatalf("blank file: %v, want it empty", err)
	}
}

// An exec rung whose roster reads its key from a file gets that key as its
// rung's own variable, and the redactor knows it.
func TestFileReferenceKeyReachesAnExecScriptAsTheRungVariable(t *testing.T) {
	home := t.TempDir()
	writeFile(t, home, "secrets/k2.key", "sk-exec-file-ref-5555\n")
	e := config.AgentEntry{Name: "k2", Backend: "exec", Command: []string{"sh", "k2.sh"},
		Auth: &config.AgentAuth{Type: "bearer", Token: FileRefToken("secrets/k2.key")}}
	res, err := Resolve(k2Rung, e, home, lookupOf(map[string]string{"KIMI2_API_KEY": "sk-old-variable-key"}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Env, " ") != "KIMI2_API_KEY=sk-exec-file-ref-5555" {
		t.Fatalf("exec env = %q, want only KIMI2_API_KEY with the file's key", res.Env)
	}
	roster := &config.Roster{Agents: []config.AgentEntry{e}}
	if got := strings.Join(SecretValues(roster, func(string) Rung { return k2Rung }, home, lookupOf(nil)), " "); !strings.Contains(got, "sk-exec-file-ref-5555") {
		t.Fatalf("SecretValues %q lacks the file reference's key", got)
	}
}

// A manifest entry with "file" rotates the roster to ${file:PATH}; "env"
// and "file" together, or a file outside the home, are config errors.
func TestRotationManifestWithFile(t *testing.T) {
	home := t.TempDir()
	writeFile(t, home, "secrets/k2-2026-12.key", "sk-manifest-file-1\n")
	m, err := ParseManifest("k2.json", []byte(`{"agents": [{"name": "k2", "file": "secrets/k2-2026-12.key"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	roster, err := config.ParseRoster("r.json", []byte(`{"agents": [
		{"name": "k2", "backend": "openai", "endpoint": "http://k2/v1", "auth": {"type": "bearer", "token": "${KIMI2_API_KEY}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	next, items, err := PlanRotation(roster, []Manifest{*m}, func(string) Rung { return k2Rung }, home, lookupOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := next.Agent("k2")
	if k2.Auth.Token != "${file:secrets/k2-2026-12.key}" {
		t.Fatalf("rotated token %q", k2.Auth.Token)
	}
	if len(items) != 1 || !items[0].Set || items[0].Err != nil || items[0].To() != "file secrets/k2-2026-12.key" || items[0].From != "KIMI2_API_KEY" {
		t.Fatalf("items: %+v", items)
	}
	if res, err := Resolve(k2Rung, k2, home, lookupOf(nil)); err != nil || res.Token != "sk-manifest-file-1" {
		t.Fatalf("the rotated roster reads %q, %v", res.Token, err)
	}
	for _, bad := range []string{
		`{"agents": [{"name": "k2", "env": "KIMI2_API_KEY_2026_12", "file": "secrets/k2.key"}]}`,
		`{"agents": [{"name": "k2", "file": "/etc/./k2.key"}]}`, // absolute is fine (keyfile_test.go), unclean is not
		`{"agents": [{"name": "k2", "file": "../k2.key"}]}`,
		`{"agents": [{"name": "k2", "file": "secrets/${X}.key"}]}`,
		`{"agents": [{"name": "k2", "env": "file:secrets/k2.key"}]}`,
	} {
		if _, err := ParseManifest("m.json", []byte(bad)); !errors.Is(err, razar.ErrInvalidConfig) {
			t.Errorf("manifest %s: %v, want a config error", bad, err)
		}
	}
}
