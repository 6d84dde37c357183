package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
