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

// TestRotateKeysRefusesTypedApprovers: a name typed on the command line
// approves nothing: --approver is refused (exit 2, naming the command that
// approves), and the roster is as it was.
func TestRotateKeysRefusesTypedApprovers(t *testing.T) {
	t.Parallel()
	h := home(t, rotRoster, map[string]string{"agents/fix.sh": fixScript, "secrets/k2.yaml": k2Manifest})
	before := rosterState(t, h)
	out, code := runRazar(t, h, []string{"KIMI2_API_KEY_2026_12=sk-here-5050"}, "rotate-keys", "--secrets-dir", "secrets", "--apply", "--approver", "alice", "--approver", "\u0430lice")
	if code != 2 || !strings.Contains(out, "razar approve rotation") || rosterState(t, h) != before {
		t.Fatalf("typed approvers: exit %d, want 2 naming `razar approve rotation`, nothing changed\n%s", code, out)
	}
}

// rotationID waits until rotate-keys --apply (p) has opened its rotation
// and returns its id.
func rotationID(t *testing.T, p *proc) string {
	t.Helper()
	var id string
	bustest.Eventually(t, 30*time.Second, func() bool {
		_, rest, ok := strings.Cut(p.out.String(), "approve rotation ")
		if !ok {
			return false
		}
		id, _, ok = strings.Cut(rest, "\n")
		return ok
	}, "rotate-keys --apply opened no rotation:\n%s", p.out)
	return strings.TrimSpace(id)
}

// approveAs answers rotation id as identity ident of the home (minted as
// an operator when missing) and returns the output and exit code.
func approveAs(t *testing.T, h, ident, verb, id string) (string, int) {
	t.Helper()
	creds := filepath.Join(h, "state/identities", ident+".creds")
	if _, err := os.Stat(creds); err != nil {
		if out, code := runRazar(t, h, nil, "identity", "add", ident, "--role", "operator"); code != 0 {
			t.Fatalf("identity add %s: exit %d\n%s", ident, code, out)
		}
	}
	return runRazar(t, h, nil, "--creds", creds, verb, "rotation", id)
}

// applyApproved runs rotate-keys --apply and has alice and bob, two
// operator identities, approve it; it returns the command's output and
// exit code.
func applyApproved(t *testing.T, h string, env []string) (string, int) {
	t.Helper()
	p := start(t, h, env, "rotate-keys", "--secrets-dir", "secrets", "--apply")
	id := rotationID(t, p)
	for _, who := range []string{"alice", "bob"} {
		if out, code := approveAs(t, h, who, "approve", id); code != 0 {
			t.Fatalf("%s's approval: exit %d\n%s", who, code, out)
		}
	}
	code := p.wait(t, 60*time.Second)
	return p.out.String(), code
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

	for _, mode := range [][]string{{"--dry-run"}, {"--apply"}} {
		out, code := runRazar(t, h, shell, append([]string{"rotate-keys", "--secrets-dir", "secrets"}, mode...)...)
		if code != 1 {
			t.Fatalf("rotate-keys %v: exit %d, want 1\n%s", mode, code, out)
		}
		if !strings.Contains(out, "razar: k2: process ") || !strings.Contains(out, "credential variable KIMI2_API_KEY_2026_12 is unset") {
			t.Errorf("rotate-keys %v does not name the rung and the variable:\n%s", mode, out)
		}
		if !strings.Contains(out, `"file": "secrets/k2.key"`) || strings.Contains(out, "export KIMI2_API_KEY_2026_12") {
			t.Errorf("rotate-keys %v does not advise the key file a running rung reads at reload (or still advises export):\n%s", mode, out)
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
// approving identities by name and public key), reloads, and k2 reports
// ready on the new key.
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
	out, code = applyApproved(t, h, []string{"USER=opsuser"})
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
	if len(recs) != 2 || recs[0]["status"] != "approved" || recs[1]["status"] != "applied" {
		t.Fatalf("rotation records %v, want approved then applied", recs)
	}
	rec, _ := json.Marshal(recs[1])
	aliceKey, bobKey := credsKey(t, h, "alice"), credsKey(t, h, "bob")
	// The identity that sent it (operator), for the OS user who ran it;
	// the approvers by name and key, as the orchestrator received them.
	data, _ := recs[1]["data"].(map[string]any)
	approvers, _ := json.Marshal(data["approvers"])
	if want := `[{"key":"` + aliceKey + `","name":"alice","role":"operator"},{"key":"` + bobKey + `","name":"bob","role":"operator"}]`; string(approvers) != want {
		t.Errorf("approvers %s, want %s", approvers, want)
	}
	for _, want := range []string{`"actor":"operator for opsuser@`, `"run_by":`, `"message":"credentials rotated: k2: KIMI2_API_KEY -`, `"env":"KIMI2_API_KEY_2026_12"`, aliceKey, bobKey} {
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
	out, code = applyApproved(t, h, nil)
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
// ask, the dry run is checked in the shell's environment and says so; the
// apply is refused, since no identity can approve it, and changes nothing.
func TestRotateKeysWithRazarStoppedSaysTheRungsWereNotAsked(t *testing.T) {
	t.Parallel()
	h := home(t, rotRoster, map[string]string{"agents/fix.sh": fixScript, "secrets/k2.yaml": k2Manifest})
	before := rosterState(t, h)
	env := []string{"KIMI2_API_KEY_2026_12=sk-here-4040"}
	out, code := runRazar(t, h, env, "rotate-keys", "--secrets-dir", "secrets", "--dry-run")
	if code != 0 || !strings.Contains(out, "running rungs could not be asked") || !strings.Contains(out, "this shell's environment only") {
		t.Fatalf("dry run with RAZAR stopped: exit %d\n%s", code, out)
	}
	out, code = runRazar(t, h, env, "rotate-keys", "--secrets-dir", "secrets", "--apply")
	if code != 1 || !strings.Contains(out, "two operator identities") || !strings.Contains(out, "nothing changed") || rosterState(t, h) != before {
		t.Fatalf("apply with RAZAR stopped: exit %d, want 1 and nothing changed\n%s", code, out)
	}
}

// TestRotateKeysRefusesAManifestHandingARungAnotherRungsKey: k2 given
// RSTAR_API_KEY, rstar's variable, is refused (exit 2, naming the
// manifest's entry, the variable, rstar and the fix), the roster as it
// was; with "shared_key": true the same plan is accepted.
func TestRotateKeysRefusesAManifestHandingARungAnotherRungsKey(t *testing.T) {
	t.Parallel()
	roster := `{"agents": [
  {"name": "k2", "backend": "openai", "endpoint": "http://127.0.0.1:9/v1", "auth": {"type": "bearer", "token": "${KIMI2_API_KEY}"}},
  {"name": "rstar", "backend": "openai", "endpoint": "http://127.0.0.1:9/v1", "takeover": true, "auth": {"type": "bearer", "token": "${RSTAR_API_KEY}"}}
]}`
	for _, c := range []struct {
		name, manifest string
	}{
		{"rstar's variable", `{"agents": [{"name": "k2", "env": "RSTAR_API_KEY"}]}`},
		{"rstar's variable's file", `{"agents": [{"name": "k2", "env": "RSTAR_API_KEY_FILE"}]}`},
		{"rotated to one variable", `{"agents": [{"name": "k2", "env": "NEW_KEY"}, {"name": "rstar", "env": "NEW_KEY"}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := home(t, roster, map[string]string{"secrets/m.json": c.manifest})
			before := rosterState(t, h)
			out, code := runRazar(t, h, []string{"RSTAR_API_KEY=sk-rstar-3030", "NEW_KEY=sk-new-3131"}, "rotate-keys", "--secrets-dir", "secrets", "--dry-run")
			if code != 2 || !strings.Contains(out, "agents[0] (k2).env") || !strings.Contains(out, "rung rstar's key") || !strings.Contains(out, `"shared_key": true`) {
				t.Fatalf("exit %d, want 2 naming k2's entry, rstar and shared_key:\n%s", code, out)
			}
			if strings.Contains(out, "sk-rstar") || rosterState(t, h) != before {
				t.Fatalf("the refusal leaked the key or changed the roster:\n%s", out)
			}
		})
	}
	h := home(t, roster, map[string]string{"secrets/m.json": `{"agents": [{"name": "k2", "env": "RSTAR_API_KEY", "shared_key": true}]}`})
	if out, code := runRazar(t, h, []string{"RSTAR_API_KEY=sk-rstar-3030"}, "rotate-keys", "--secrets-dir", "secrets", "--dry-run"); code != 0 {
		t.Fatalf("shared_key: true: exit %d\n%s", code, out)
	}
}

// TestRotationApprovalsByOneIdentityDoNotComplete: against a running
// RAZAR, one operator identity approving twice, a second identity whose
// name differs only in case, and an observer count as one approval at
// most; a rejection then ends the rotation: the roster as it was and no
// rotation record.
func TestRotationApprovalsByOneIdentityDoNotComplete(t *testing.T) {
	t.Parallel()
	h := home(t, rotRoster, map[string]string{"agents/fix.sh": fixScript, "secrets/k2.yaml": k2Manifest})
	env := []string{"KIMI2_API_KEY=sk-old-1010", "KIMI2_API_KEY_2026_12=sk-new-2020"}
	boot(t, h, env, "--nats-listen", "127.0.0.1:0")
	bustest.Eventually(t, 20*time.Second, func() bool { return k2Ready(t, h) }, "k2 never became ready")
	before := rosterState(t, h)
	p := start(t, h, env, "rotate-keys", "--secrets-dir", "secrets", "--apply")
	id := rotationID(t, p)

	if out, code := approveAs(t, h, "alice", "approve", id); code != 0 || !strings.Contains(out, "1 of 2") {
		t.Fatalf("alice's approval: exit %d\n%s", code, out)
	}
	if out, code := approveAs(t, h, "alice", "approve", id); code == 0 || !strings.Contains(out, "already approved") {
		t.Fatalf("alice's second approval: exit %d, want refused\n%s", code, out)
	}
	if out, code := approveAs(t, h, "Alice", "approve", id); code == 0 || !strings.Contains(out, "already approved") {
		t.Fatalf("Alice (another key, the same name) approving: exit %d, want refused\n%s", code, out)
	}
	obs := filepath.Join(h, "state/identities/observer.creds")
	if out, code := runRazar(t, h, nil, "--creds", obs, "approve", "rotation", id); code == 0 {
		t.Fatalf("the observer's approval: exit 0\n%s", out)
	}
	select {
	case <-p.done:
		t.Fatalf("the rotation completed on one identity's approvals:\n%s", p.out)
	default:
	}
	if out, code := approveAs(t, h, "bob", "reject", id); code != 0 {
		t.Fatalf("bob's rejection: exit %d\n%s", code, out)
	}
	if code := p.wait(t, 60*time.Second); code != 1 || !strings.Contains(p.out.String(), "rejected by bob") {
		t.Fatalf("rotate-keys after the rejection: exit %d, want 1\n%s", code, p.out)
	}
	if got := rosterState(t, h); got != before {
		t.Fatalf("a rotation without two approvals changed the roster:\n%s", got)
	}
	if recs := rotationRecords(t, h); len(recs) != 0 {
		t.Fatalf("rotation records %v, want none", recs)
	}
	if out, code := approveAs(t, h, "bob", "approve", id); code == 0 {
		t.Fatalf("approving a rejected rotation: exit 0\n%s", out)
	}
}

// credsKey is the public key of identity ident of the home.
func credsKey(t *testing.T, h, ident string) string {
	t.Helper()
	out, code := runRazar(t, h, nil, "identity", "list")
	if code != 0 {
		t.Fatalf("identity list: exit %d\n%s", code, out)
	}
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == ident {
			return f[2]
		}
	}
	t.Fatalf("identity %s not listed:\n%s", ident, out)
	return ""
}
