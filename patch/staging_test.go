package patch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
)

// TestStageIsPrivateAndCleanedUp: stages live under the staging root, which
// is narrowed to 0700, each stage 0700 itself; cleanup removes a stage even
// when a validator made parts of it unwritable.
func TestStageIsPrivateAndCleanedUp(t *testing.T) {
	dir := newWorkdir(t)
	staging := filepath.Join(t.TempDir(), "state", "staging")
	if err := os.MkdirAll(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := Check(diffModify, dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	stage, cleanup, err := Stage(p, dir, staging)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(stage) != staging || !strings.HasPrefix(filepath.Base(stage), p.ID+"-") {
		t.Errorf("stage %s is not a directory named after %s in %s", stage, p.ID, staging)
	}
	for _, d := range []string{staging, stage} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", d, fi.Mode().Perm(), err)
		}
	}
	out, err := Validate(context.Background(), []string{"sh", "-c", "mkdir -p locked/in && touch locked/in/f && chmod 0 locked/in locked"}, stage, nil, 10*time.Second)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	cleanup()
	if _, err := os.Lstat(stage); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cleanup left %s: %v", stage, err)
	}

	// A symlink where the staging root should be is refused.
	link := filepath.Join(t.TempDir(), "staging")
	symlink(t, t.TempDir(), link)
	if _, _, err := Stage(p, dir, link); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Stage into a symlinked staging root: %v", err)
	}
}

// TestCleanStagingRemovesWhatAKilledRazarLeft: stages left under
// state/staging (a RAZAR killed mid-validation) are removed at the next
// start, read-only parts included; nothing else in the home is touched.
func TestCleanStagingRemovesWhatAKilledRazarLeft(t *testing.T) {
	home := t.TempDir()
	if n, err := CleanStaging(home); n != 0 || err != nil {
		t.Fatalf("CleanStaging of a home without staging: %d, %v", n, err)
	}
	staging := razar.Home(home).Staging()
	for _, d := range []string{"p-20260101-000000-aaaaaa-1", "p-20260101-000001-bbbbbb-2/sub/locked"} {
		if err := os.MkdirAll(filepath.Join(staging, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(staging, "p-20260101-000001-bbbbbb-2/sub/locked/app.conf"), "port=1\n")
	if err := os.Chmod(filepath.Join(staging, "p-20260101-000001-bbbbbb-2/sub/locked"), 0); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, "state/patches/app/p-1/manifest.json"), "{}\n")
	before := digest(t, filepath.Join(home, "state/patches"))

	n, err := CleanStaging(home)
	if err != nil || n != 2 {
		t.Fatalf("CleanStaging: %d, %v; want 2 removed", n, err)
	}
	if left, _ := os.ReadDir(staging); len(left) != 0 {
		t.Errorf("left in staging: %v", left)
	}
	if digest(t, filepath.Join(home, "state/patches")) != before {
		t.Error("CleanStaging touched state/patches")
	}

	// A staging root that is a symlink is refused, and where it points is left alone.
	home2, outside := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(outside, "keep/me"), "x\n")
	if err := os.MkdirAll(filepath.Join(home2, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	symlink(t, outside, razar.Home(home2).Staging())
	outBefore := digest(t, outside)
	if _, err := CleanStaging(home2); err == nil {
		t.Error("CleanStaging followed a symlinked staging root")
	}
	if digest(t, outside) != outBefore {
		t.Error("CleanStaging changed what a symlinked staging root points to")
	}
}
