package orchestrator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/jetstream/bustest"
)

func TestAddsCodeNamesNewFilesAndExecutableBits(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("port=abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	comp := config.Component{Name: "web", Workdir: dir}
	tests := []struct{ name, diff, want string }{
		{"a modified file", "--- a/app.conf\n+++ b/app.conf\n@@ -1 +1 @@\n-port=abc\n+port=8080\n", ""},
		{"a new file", "--- /dev/null\n+++ b/backdoor.sh\n@@ -0,0 +1 @@\n+echo owned\n", "adds backdoor.sh"},
		{"a new executable file", "diff --git a/backdoor.sh b/backdoor.sh\nnew file mode 100755\n--- /dev/null\n+++ b/backdoor.sh\n@@ -0,0 +1 @@\n+echo owned\n",
			"adds backdoor.sh and makes backdoor.sh executable"},
		{"an executable bit alone", "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n", "makes run.sh executable"},
		{"an executable bit taken away", "diff --git a/run.sh b/run.sh\nold mode 100755\nnew mode 100644\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := addsCode(comp, fixmem.Fix{Diff: tt.diff}); got != tt.want {
				t.Fatalf("addsCode = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPatchRolledBackRefusesAPatchIDOutOfTheStore(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	// A note outside the patch store that a hostile id would reach.
	outside := filepath.Join(home, "state", RollbackNote)
	if err := os.MkdirAll(filepath.Dir(outside), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outside, []byte(`{"v":1,"patch_id":"x","actor":"mallory"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := New(env.Store, Config{Home: home, Roster: func() (*config.Roster, error) { return &config.Roster{}, nil },
		Components: func() (*config.BootConfig, error) { return &config.BootConfig{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"../..", "..", ".", "a/b", ""} {
		if err := o.PatchRolledBack(context.Background(), "web", id); !errors.Is(err, razar.ErrBadPayload) {
			t.Errorf("patch id %q: %v, want ErrBadPayload", id, err)
		}
	}
	if err := o.PatchRolledBack(context.Background(), "../state", "p-1"); !errors.Is(err, razar.ErrBadPayload) {
		t.Errorf("component ../state: %v, want ErrBadPayload", err)
	}
	if data, _ := os.ReadFile(outside); string(data) != `{"v":1,"patch_id":"x","actor":"mallory"}` {
		t.Fatalf("the note outside the store changed: %s", data)
	}
	// A rollback record without a note (no rollback-patch ran) changes nothing.
	if err := o.PatchRolledBack(context.Background(), "web", "p-none"); err != nil {
		t.Fatalf("a patch without a rollback note: %v, want nothing to do", err)
	}
}
