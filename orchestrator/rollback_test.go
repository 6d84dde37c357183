package orchestrator

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/patch"
)

// rollbackFixture is a component "web" with two files and an applied
// patch changing both: what each kill moment of a rollback starts from.
type rollbackFixture struct {
	home, workdir, id, backup string
	comp                      config.Component
	before                    map[string]string
}

func newRollbackFixture(t *testing.T) *rollbackFixture {
	t.Helper()
	f := &rollbackFixture{home: t.TempDir(), before: map[string]string{"a.conf": "port=abc\n", "b.conf": "host=\n"}}
	f.workdir = filepath.Join(f.home, "web")
	if err := os.MkdirAll(f.workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range f.before {
		if err := os.WriteFile(filepath.Join(f.workdir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.comp = config.Component{Name: "web", Workdir: f.workdir}
	diff := "--- a/a.conf\n+++ b/a.conf\n@@ -1 +1 @@\n-port=abc\n+port=8080\n--- a/b.conf\n+++ b/b.conf\n@@ -1 +1 @@\n-host=\n+host=localhost\n"
	plan, err := patch.Check(diff, f.workdir, patch.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	stage, cleanup, err := patch.Stage(plan, f.workdir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	f.id = patch.NewID()
	f.backup = filepath.Join(razar.Home(f.home).Patches(), "web", f.id)
	if err := patch.Promote(plan, stage, f.workdir, f.backup); err != nil {
		t.Fatal(err)
	}
	return f
}

// assertRestored wants every file back as it was before the patch, and no
// temporary file left in the workdir.
func (f *rollbackFixture) assertRestored(t *testing.T) {
	t.Helper()
	for name, want := range f.before {
		if got, _ := os.ReadFile(filepath.Join(f.workdir, name)); string(got) != want {
			t.Errorf("%s = %q, want %q (restored)", name, got, want)
		}
	}
	entries, _ := os.ReadDir(f.workdir)
	for _, e := range entries {
		if _, ok := f.before[e.Name()]; !ok {
			t.Errorf("workdir holds %s after the rollback: a torn or stray file", e.Name())
		}
	}
}

// historyReverted counts the reverted lines of logs/patch_history.jsonl.
func historyReverted(t *testing.T, home string) int {
	t.Helper()
	data, _ := os.ReadFile(razar.Home(home).PatchHistory())
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r bus.AuditRecord
		if line != "" && json.Unmarshal([]byte(line), &r) == nil && r.Event == bus.EventReverted {
			n++
		}
	}
	return n
}

// readNote reads the rollback journal in dir, as a killed run left it.
func readNote(dir string) (patch.RollbackNote, error) {
	var note patch.RollbackNote
	data, err := os.ReadFile(filepath.Join(dir, RollbackNote))
	if err != nil {
		return note, err
	}
	return note, json.Unmarshal(data, &note)
}

// saveNote writes the rollback journal in dir as a run killed at some
// moment leaves it.
func saveNote(dir string, note patch.RollbackNote) error {
	data, err := json.Marshal(note)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, RollbackNote), data, 0o600)
}

// killMoments are the states a SIGKILL can leave a rollback in, each made
// by hand from a rollback run up to that moment.
var killMoments = []struct {
	name string
	cut  func(t *testing.T, f *rollbackFixture)
}{
	{"after the note, before any file", func(t *testing.T, f *rollbackFixture) {
		if err := saveNote(f.backup, patch.RollbackNote{V: 1, Patch: f.id, Actor: "alice", Time: time.Now(), FilesPending: true}); err != nil {
			t.Fatal(err)
		}
	}},
	{"one file restored, a temporary file of the next left", func(t *testing.T, f *rollbackFixture) {
		if err := saveNote(f.backup, patch.RollbackNote{V: 1, Patch: f.id, Actor: "alice", Time: time.Now(), FilesPending: true}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.workdir, "b.conf"), []byte(f.before["b.conf"]), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.workdir, ".a.conf.razar-123"), []byte("port="), 0o600); err != nil {
			t.Fatal(err)
		}
	}},
	{"files and manifest done, the note not yet", func(t *testing.T, f *rollbackFixture) {
		if err := saveNote(f.backup, patch.RollbackNote{V: 1, Patch: f.id, Actor: "alice", Time: time.Now(), FilesPending: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := patch.Revert(f.workdir, f.backup); err != nil {
			t.Fatal(err)
		}
	}},
	{"files done, the record not yet written", func(t *testing.T, f *rollbackFixture) {
		if _, err := RollbackPatch(f.home, f.comp, "", "alice"); err != nil {
			t.Fatal(err)
		}
	}},
}

// TestRollbackKilledAtAnyMomentIsFinishedByTheNextRunAndRecordedOnce: with
// RAZAR stopped, a rollback-patch killed at each moment is finished by the
// next run: every file restored, no temporary file left, one reverted line
// in logs/patch_history.jsonl however often it runs again.
func TestRollbackKilledAtAnyMomentIsFinishedByTheNextRunAndRecordedOnce(t *testing.T) {
	for _, m := range killMoments {
		t.Run(m.name, func(t *testing.T) {
			f := newRollbackFixture(t)
			m.cut(t, f)
			rb, err := RollbackPatch(f.home, f.comp, "", "bob")
			if err != nil {
				t.Fatalf("the next run: %v", err)
			}
			if rb.Patch != f.id || !rb.Resumed {
				t.Fatalf("the next run rolled back %s (resumed %v), want %s resumed", rb.Patch, rb.Resumed, f.id)
			}
			f.assertRestored(t)
			if err := RecordRollbackOffline(f.home, rb.Record); err != nil {
				t.Fatal(err)
			}
			// A run killed after the line, before the note, runs again.
			note, _ := readNote(f.backup)
			note.RecordPending = true
			if err := saveNote(f.backup, note); err != nil {
				t.Fatal(err)
			}
			rb, err = RollbackPatch(f.home, f.comp, "", "bob")
			if err != nil {
				t.Fatal(err)
			}
			if err := RecordRollbackOffline(f.home, rb.Record); err != nil {
				t.Fatal(err)
			}
			if n := historyReverted(t, f.home); n != 1 {
				t.Fatalf("%d reverted lines in %s, want 1", n, razar.Home("").PatchHistory())
			}
			if PendingRollback(f.home, "web", f.id) {
				t.Fatal("the rollback is still pending after it was recorded")
			}
			if _, err := RollbackPatch(f.home, f.comp, "", "bob"); err == nil {
				t.Fatal("a third run found something to roll back; want nothing left")
			}
		})
	}
}

// TestRollbackKilledAtAnyMomentIsFinishedByRazarsStartOnceOnTheStream: the
// same moments, then RAZAR starts (twice, as after a second kill): the
// files are restored and the stream holds one reverted record.
func TestRollbackKilledAtAnyMomentIsFinishedByRazarsStartOnceOnTheStream(t *testing.T) {
	for _, m := range killMoments {
		t.Run(m.name, func(t *testing.T) {
			env := bustest.New(t)
			f := newRollbackFixture(t)
			m.cut(t, f)
			o, err := New(env.Store, Config{Home: f.home, Roster: func() (*config.Roster, error) { return &config.Roster{}, nil },
				Components: func() (*config.BootConfig, error) {
					return &config.BootConfig{Components: []config.Component{f.comp}}, nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			o.finishRollbacks(ctx)
			// Killed after the record, before the note: the next start
			// sends it again.
			note, _ := readNote(f.backup)
			note.RecordPending = true
			if err := saveNote(f.backup, note); err != nil {
				t.Fatal(err)
			}
			o.finishRollbacks(ctx)
			f.assertRestored(t)
			n := 0
			if err := env.Store.Scan(ctx, bus.AuditSubject("web", bus.EventReverted), time.Time{}, false, func(_ uint64, _ string, data []byte) error {
				n++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("%d reverted records on the stream, want 1", n)
			}
			if PendingRollback(f.home, "web", f.id) {
				t.Fatal("the rollback is still pending after RAZAR's start")
			}
		})
	}
}
