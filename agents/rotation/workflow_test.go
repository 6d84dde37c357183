package rotation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar/agents"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
)

// Committing a rotation keeps the previous roster as .prev, and a roster
// that changed while the rotation was checked is left alone.
func TestCommitRosterKeepsThePreviousAndRefusesAChangedRoster(t *testing.T) {
	dir := t.TempDir()
	roster := filepath.Join(dir, "roster.json")
	old, rotated := []byte(`{"agents":[{"name":"k2","env":"OLD"}]}`), []byte(`{"agents":[{"name":"k2","env":"NEW"}]}`)
	if err := os.WriteFile(roster, old, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := CommitRoster(roster, []byte("something else"), rotated); err == nil || !strings.Contains(err.Error(), "changed while the rotation was checked") {
		t.Fatalf("a changed roster: %v", err)
	}
	if _, err := os.Stat(roster + ".prev"); !os.IsNotExist(err) {
		t.Errorf("a refused commit left %s.prev: %v", roster, err)
	}
	r := &Rotation{Roster: rotated}
	if err := r.Commit(roster, old); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{roster: rotated, roster + ".prev": old} {
		if got, err := os.ReadFile(path); err != nil || string(got) != string(want) {
			t.Errorf("%s: %q (%v), want %q", path, got, err, want)
		}
	}
}

// The applied rotation's record names what changed, the approved rotation
// and who ran it; its approvers are the approvals', for the daemon to
// check.
func TestNewRecordNamesTheChangesAndTheRotation(t *testing.T) {
	items := []agents.RotationItem{{Agent: "k2", From: "OLD", Env: "NEW"}, {Agent: "rstar", File: "secrets/rstar.key"}}
	approval := &Approval{Request: auth.Request{ID: "rot-1", Digest: "d", Approvers: []auth.Identity{alice, bob}}, State: "approved"}
	rec := NewRecord(items, approval, "every running process", "ops@host")
	if rec.Event != bus.EventRotation || rec.Status != "applied" || rec.Actor != "ops@host" {
		t.Errorf("record %+v", rec)
	}
	want := "credentials rotated: k2:NEW rstar:" + agents.FileRef + "secrets/rstar.key; rotation rot-1 approved by alice (UALICE) and bob (UBOB); run by ops@host"
	if rec.Message != want {
		t.Errorf("message %q, want %q", rec.Message, want)
	}
	var data Data
	if err := json.Unmarshal(rec.Data, &data); err != nil || data.Rotation != "rot-1" || data.Digest != "d" || len(data.Approvers) != 2 {
		t.Errorf("data %s (%v)", rec.Data, err)
	}
}
