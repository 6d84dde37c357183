package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// rosterState is the roster and its .prev, byte for byte ("<none>" when absent).
func rosterState(t *testing.T, h string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"config/razar_ai_agents.json", "config/razar_ai_agents.json.prev"} {
		data, err := os.ReadFile(filepath.Join(h, f))
		switch {
		case os.IsNotExist(err):
			b.WriteString(f + ": <none>\n")
		case err != nil:
			t.Fatal(err)
		default:
			b.WriteString(f + ":\n" + string(data) + "\n")
		}
	}
	return b.String()
}

// rotationRecords returns the rotation audit records.
func rotationRecords(t *testing.T, h string) []map[string]any {
	t.Helper()
	out, _ := runRazar(t, h, nil, "audit", "--json", "--component", "_razar")
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] == "rotation" {
			recs = append(recs, m)
		}
	}
	return recs
}

// k2Ready reports whether RAZAR's status says rung k2 is ready.
func k2Ready(t *testing.T, h string) bool {
	out, _ := runRazar(t, h, nil, "status", "--json")
	var v struct {
		Agents []struct {
			Name  string `json:"name"`
			Ready bool   `json:"ready"`
		} `json:"agents"`
	}
	if json.Unmarshal([]byte(out), &v) != nil {
		return false
	}
	for _, a := range v.Agents {
		if a.Name == "k2" {
			return a.Ready
		}
	}
	return false
}

const k2Manifest = "agents:\n  - name: k2\n    env: KIMI2_API_KEY_2026_12\n"

// TestRotateKeysRefusesApproversThatAreOnePerson: names that differ only
// in white space, case, width or invisible characters are one person, and
// a blank name is no one; each refusal leaves the roster as it was.
func TestRotateKeysRefusesApproversThatAreOnePerson(t *testing.T) {
	t.Parallel()
	h := home(t, rotRoster, map[string]string{"agents/fix.sh": fixScript, "secrets/k2.yaml": k2Manifest})
	before := rosterState(t, h)
	env := []string{"KIMI2_API_KEY_2026_12=sk-here-5050"}
	for _, pair := range [][2]string{{" ", "alice"}, {"alice", "alice\u200b"}, {"Alice", "ALICE"}, {"alice", " alice "}, {"\u200b", "bob"}} {
		out, code := runRazar(t, h, env, "rotate-keys", "--secrets-dir", "secrets", "--apply", "--approver", pair[0], "--approver", pair[1])
		if code != 2 || rosterState(t, h) != before {
			t.Fatalf("approvers %q: exit %d, want 2 with nothing changed\n%s", pair, code, out)
		}
	}
	if out, code := runRazar(t, h, env, "rotate-keys", "--secrets-dir", "secrets", "--apply", "--approver", "alice"); code != 2 || rosterState(t, h) != before {
		t.Fatalf("one approver: exit %d\n%s", code, out)
	}
	if out, code := runRazar(t, h, env, "rotate-keys", "--secrets-dir", "secrets", "--apply", "--approver", "alice", "--approver", "bob"); code != 0 {
		t.Fatalf("alice and bob: exit %d\n%s", code, out)
	}
}

// TestRotateKeysRefusedWhenOnlyTheCLIHasTheNewKey is the outage measured
// from outside: the new variable is exported in the operator's shell, not
// in the running rung's. The apply asks the rung, which cannot load the
// key; nothing is written (roster and .prev byte for byte, no audit
// record) and the refusal names the rung and the variable.
func TestRotateKeysRefusedWhenOnlyTheCLIHasTheNewKey(t *testing.T) {
	t.Parallel()
	h := home(t, rotRoster, map[string]string{
		"agents/fix.sh":                    fixScript,
		"secrets/k2.yaml":                  k2Manifest,
		"config/razar_ai_agents.json.prev": "the roster before the last rotation\n",
	})
	boot(t, h, []string{"KIMI2_API_KEY=sk-old-key-1010"}, "--nats-listen", "127.0.0.1:0")
	bustest.Eventually(t, 20*time.Second, func() bool { return k2Ready(t, h) }, "k2 never became ready on its old key")
	before := rosterState(t, h)
	shell := []string{"KIMI2_API_KEY_2026_12=sk-only-in-the-shell-2020"}

	for _, mode := range [][]string{{"--dry-run"}, {"--apply", "--approver", "alice", "--approver", "bob"}} {
		out, code := runRazar(t, h, shell, append([]string{"rotate-keys", "--secrets-dir", "secrets"}, mode...)...)
		if code != 1 {
			t.Fatalf("rotate-keys %v: exit %d, want 1\n%s", mode, code, out)
		}
		if !strings.Contains(out, "razar: k2: process ") || !strings.Contains(out, "credential variable KIMI2_API_KEY_2026_12 is unset") {
			t.Errorf("rotate-keys %v does not name the rung and the variable:\n%s", mode, out)
		}
		if strings.Contains(out, "sk-only-in-the-shell") || strings.Contains(out, "now use the new credentials") {
			t.Errorf("rotate-keys %v:\n%s", mode, out)
		}
		if got := rosterState(t, h); got != before {
			t.Fatalf("a refused rotate-keys %v changed the roster or its .prev:\n%s\nwas:\n%s", mode, got, before)
		}
	}
	if recs := rotationRecords(t, h); len(recs) != 0 {
		t.Fatalf("a refused rotation was audited as applied: %v", recs)
	}
	// The running rung still works on the roster it had.
	if !k2Ready(t, h) {
		t.Fatal("k2 is no longer ready after a refused rotation")
	}
}

// TestRotateKeysCommitsWhenTheRungHasTheKey: the new key is exported in
// the rung process's own environment only (`razar agent k2`), not in the
// operator's shell. The apply asks the rung, commits (roster rewritten,
// old one kept as .prev, audit record naming who ran it and both
// approvers), reloads, and k2 reports ready on the new key.
func TestRotateKeysCommitsWhenTheRungHasTheKey(t *testing.T) {
	t.Parallel()
	h := home(t, rotRoster, map[string]string{
		"agents/fix.sh":      fixScript,
		"secrets/k2.yaml":    k2Manifest,
		"data/identity.json": `{"who": "razar test"}`,
	})
	boot(t, h, []string{"KIMI2_API_KEY="}, "--nats-listen", "127.0.0.1:0", "--agents", "external")
	// The rung runs as its own process, with the new key in its environment
	// and the old one missing: not ready on the current roster.
	start(t, h, []string{"KIMI2_API_KEY=", "KIMI2_API_KEY_2026_12=sk-rotated-7777"}, "agent", "k2")
	before := rosterState(t, h)
	var out string
	var code int
	bustest.Eventually(t, 20*time.Second, func() bool {
		out, code = runRazar(t, h, nil, "rotate-keys", "--secrets-dir", "secrets", "--dry-run")
		return !strings.Contains(out, "no running process")
	}, "razar agent k2 did not answer the probe")
	if code != 0 || !strings.Contains(out, "KIMI2_API_KEY -> KIMI2_API_KEY_2026_12") || !strings.Contains(out, ": ready") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if rosterState(t, h) != before {
		t.Fatal("dry run changed the roster")
	}
	out, code = runRazar(t, h, []string{"USER=opsuser"}, "rotate-keys", "--secrets-dir", "secrets", "--apply", "--approver", "alice", "--approver", "bob")
	if code != 0 || !strings.Contains(out, "reloaded on") || !strings.Contains(out, ": ready") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	prev, _ := os.ReadFile(filepath.Join(h, "config/razar_ai_agents.json.prev"))
	if string(prev) != rotRoster {
		t.Fatalf("previous roster not kept:\n%s", prev)
	}
	now, _ := os.ReadFile(filepath.Join(h, "config/razar_ai_agents.json"))
	if !strings.Contains(string(now), "${KIMI2_API_KEY_2026_12}") {
		t.Fatalf("roster not rotated:\n%s", now)
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return k2Ready(t, h) }, "k2 did not become ready after the rotation")
	recs := rotationRecords(t, h)
	if len(recs) != 1 {
		t.Fatalf("%d rotation records, want 1", len(recs))
	}
	rec, _ := json.Marshal(recs[0])
	// The identity that sent it (operator), for the OS user who ran it.
	for _, want := range []string{`"actor":"operator for opsuser@`, `"approvers":["alice","bob"]`, `"run_by":`, "k2:KIMI2_API_KEY_2026_12"} {
		if !strings.Contains(string(rec), want) {
			t.Errorf("rotation record lacks %s: %s", want, rec)
		}
	}
	if strings.Contains(string(rec), "sk-rotated") {
		t.Fatalf("rotation record holds the key: %s", rec)
	}
}

// TestRotateKeysFromAFileManifestEndToEnd: the manifest names a file in
// the home holding the new key; the running rung (in razar boot, which
// never had the variable) reads it, the apply commits, and the rung's next
// attempt sends that key to its endpoint.
func TestRotateKeysFromAFileManifestEndToEnd(t *testing.T) {
	t.Parallel()
	const key = "sk-from-a-file-8888"
	var mu sync.Mutex
	var auth []string
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		b, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": `{"status": "no_fix", "summary": "looked"}`}}}})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	defer llm.Close()
	h := home(t, `{"agents": [
  {"name": "crown", "backend": "builtin"},
  {"name": "k2", "backend": "openai", "endpoint": "`+llm.URL+`/v1", "timeout": "10s",
   "auth": {"type": "bearer", "token": "${KIMI2_API_KEY}"}}
]}
`, map[string]string{
		"secrets/k2.json": `{"agents": [{"name": "k2", "file": "secrets/k2-2026-12.key"}]}`,
	})
	boot(t, h, []string{"KIMI2_API_KEY=", "RAZAR_RSTAR_THRESHOLD=0"}, "--nats-listen", "127.0.0.1:0")
	// No key yet: the rung says which file it cannot read.
	out, code := runRazar(t, h, nil, "rotate-keys", "--secrets-dir", "secrets", "--dry-run")
	if code != 1 || !strings.Contains(out, filepath.Join(h, "secrets/k2-2026-12.key")) || !strings.Contains(out, "no such file") {
		t.Fatalf("dry run before the key file exists: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(filepath.Join(h, "secrets/k2-2026-12.key"), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = runRazar(t, h, nil, "rotate-keys", "--secrets-dir", "secrets", "--apply", "--approver", "alice", "--approver", "bob")
	if code != 0 || !strings.Contains(out, "KIMI2_API_KEY -> file secrets/k2-2026-12.key") || strings.Contains(out, key) {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if now, _ := os.ReadFile(filepath.Join(h, "config/razar_ai_agents.json")); !strings.Contains(string(now), `"token": "${file:secrets/k2-2026-12.key}"`) {
		t.Fatalf("rotated roster:\n%s", now)
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return k2Ready(t, h) }, "k2 did not become ready on the file's key")
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	esc.wait(t, 60*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(auth) == 0 || auth[0] != "Bearer "+key {
		t.Fatalf("k2's endpoint saw Authorization %q, want the file's key\n%s", auth, esc.out)
	}
}

// TestRotateKeysWithRazarStoppedSaysTheRungsWereNotAsked: with no RAZAR to
// ask, the apply is checked in the shell's environment and says so.
func TestRotateKeysWithRazarStoppedSaysTheRungsWereNotAsked(t *testing.T) {
	t.Parallel()
	h := home(t, rotRoster, map[string]string{"agents/fix.sh": fixScript, "secrets/k2.yaml": k2Manifest})
	before := rosterState(t, h)
	out, code := runRazar(t, h, []string{"KIMI2_API_KEY_2026_12="}, "rotate-keys", "--secrets-dir", "secrets", "--apply", "--approver", "alice", "--approver", "bob")
	if code != 1 || !strings.Contains(out, "nothing changed") || rosterState(t, h) != before {
		t.Fatalf("apply with the new variable missing here: exit %d\n%s", code, out)
	}
	out, code = runRazar(t, h, []string{"KIMI2_API_KEY_2026_12=sk-here-4040"}, "rotate-keys", "--secrets-dir", "secrets", "--apply", "--approver", "alice", "--approver", "bob")
	if code != 0 || !strings.Contains(out, "running rungs could not be asked") || !strings.Contains(out, "this shell's environment only") {
		t.Fatalf("apply with RAZAR stopped: exit %d\n%s", code, out)
	}
	if prev, _ := os.ReadFile(filepath.Join(h, "config/razar_ai_agents.json.prev")); string(prev) != rotRoster {
		t.Fatalf("previous roster not kept:\n%s", prev)
	}
}
