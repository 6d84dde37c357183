package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// diffAll touches six paths: a modify, two creates in new directories, a
// delete and a rename (two entries), in this swap order.
const diffAll = diffModify + diffCreate + diffDelete + diffRename

var swapOrder = []string{"app.conf", "bin/run.sh", "conf.d/extra.conf", "old.txt", "lib/util2.txt", "lib/util.txt"}

// crash is the panic a test hook throws to stop Promote where a SIGKILL
// would: no deferred clean-up of Promote's own runs past it but its
// "no half-made backup" guard, which a real kill would not run either.
type crash struct{}

// promoteUntilCrash runs Promote and stops it, as a kill would, before the
// swap of path at (or, with at == "", right after the first manifest write).
func promoteUntilCrash(t *testing.T, p *Plan, stage, dir, backup, at string) {
	t.Helper()
	if at == "" {
		p.afterManifest = func() { panic(crash{}) }
	} else {
		p.beforeSwap = func(rel string) {
			if rel == at {
				panic(crash{})
			}
		}
	}
	defer func() {
		if r := recover(); r != (crash{}) {
			t.Fatalf("Promote ran past the crash point %q: recovered %v", at, r)
		}
	}()
	_ = Promote(p, stage, dir, backup)
}

// appliedDigest is the digest of a fresh workdir with diff promoted whole.
func appliedDigest(t *testing.T, diff string) string {
	t.Helper()
	p, dir, stage := stagedPlan(t, diff)
	if err := Promote(p, stage, dir, filepath.Join(t.TempDir(), "p")); err != nil {
		t.Fatal(err)
	}
	return digest(t, dir)
}

func TestPromoteWritesTheManifestBeforeTheFirstFileChanges(t *testing.T) {
	p, dir, stage := stagedPlan(t, diffAll)
	before := digest(t, dir)
	backup := filepath.Join(t.TempDir(), "p")
	checked := false
	p.beforeSwap = func(rel string) {
		if rel != swapOrder[0] {
			return
		}
		checked = true
		if got := digest(t, dir); got != before {
			t.Fatalf("workdir changed before the first swap:\n%s\nwant:\n%s", got, before)
		}
		m, err := ReadManifest(backup)
		if err != nil {
			t.Fatalf("no manifest before the first swap: %v", err)
		}
		if m.State != StatePromoting || m.DiffSHA256 != p.DiffSHA256 || len(m.Entries) != len(swapOrder) {
			t.Fatalf("manifest before the first swap: state %s, diff %s, %d entries", m.State, m.DiffSHA256, len(m.Entries))
		}
		for _, e := range m.Entries {
			if e.SHA256After == "" && e.Path != "old.txt" && e.Path != "lib/util.txt" {
				t.Errorf("manifest entry %s has no after-hash before the first swap", e.Path)
			}
			if e.Existed && e.SHA256Before == "" {
				t.Errorf("manifest entry %s has no before-hash before the first swap", e.Path)
			}
		}
		for _, f := range m.Files {
			if f.Op != OpDelete && f.SHA256After == "" {
				t.Errorf("manifest file %s has no SHA256After before the first swap", f.Path)
			}
		}
	}
	if err := Promote(p, stage, dir, backup); err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Fatal("the first swap never came")
	}
}

func TestAppliedOverAFullyAppliedPatchReportsItAndResumeChangesNothing(t *testing.T) {
	p, dir, stage := stagedPlan(t, diffAll)
	backup := filepath.Join(t.TempDir(), "p")
	if err := Promote(p, stage, dir, backup); err != nil {
		t.Fatal(err)
	}
	after := digest(t, dir)
	if got, err := Applied(dir, backup); got != FullyApplied || err != nil {
		t.Fatalf("Applied = %v, %v; want %v", got, err, FullyApplied)
	}
	if got, err := Resume(dir, backup); got != FullyApplied || err != nil {
		t.Fatalf("Resume = %v, %v; want %v", got, err, FullyApplied)
	}
	if got := digest(t, dir); got != after {
		t.Fatalf("Resume changed a fully applied workdir:\n%s\nwant:\n%s", got, after)
	}
	if m, err := ReadManifest(backup); err != nil || m.State != StateApplied {
		t.Fatalf("manifest after Resume: %+v, %v", m, err)
	}
}

// A crash after the last swap, before the manifest says applied.
func TestResumeMarksAPromotionCutShortAfterTheLastSwapApplied(t *testing.T) {
	p, dir, stage := stagedPlan(t, diffAll)
	backup := filepath.Join(t.TempDir(), "p")
	if err := Promote(p, stage, dir, backup); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(backup)
	if err != nil {
		t.Fatal(err)
	}
	m.State = StatePromoting
	if err := writeManifest(backup, m); err != nil {
		t.Fatal(err)
	}
	after := digest(t, dir)
	if got, err := Resume(dir, backup); got != FullyApplied || err != nil {
		t.Fatalf("Resume = %v, %v; want %v", got, err, FullyApplied)
	}
	if got := digest(t, dir); got != after {
		t.Fatalf("Resume changed the workdir:\n%s\nwant:\n%s", got, after)
	}
	m, err = ReadManifest(backup)
	if err != nil || m.State != StateApplied {
		t.Fatalf("manifest after Resume: %+v, %v", m, err)
	}
	// rollback-patch's Revert works on what Resume left.
	if _, err := Revert(dir, backup); err != nil {
		t.Fatalf("Revert after Resume: %v", err)
	}
}

// A kill before any swap, or between two, leaves a workdir Resume puts back
// to its state before the patch, one state for every path, and a fresh
// promotion of the same patch into the same backup directory then works.
func TestResumeRestoresAHalfAppliedWorkdirToBeforeAndThePatchPromotesAgain(t *testing.T) {
	want := appliedDigest(t, diffAll)
	for i, at := range append([]string{""}, swapOrder...) {
		name := "after the manifest"
		if at != "" {
			name = "before swapping " + at
		}
		t.Run(name, func(t *testing.T) {
			p, dir, stage := stagedPlan(t, diffAll)
			before := digest(t, dir)
			backup := filepath.Join(t.TempDir(), "p")
			promoteUntilCrash(t, p, stage, dir, backup, at)

			wantProg := PartlyApplied
			if i <= 1 { // nothing swapped yet
				wantProg = NotApplied
			}
			if got, err := Applied(dir, backup); got != wantProg || err != nil {
				t.Fatalf("Applied = %v, %v; want %v", got, err, wantProg)
			}
			if got, err := Resume(dir, backup); got != wantProg || err != nil {
				t.Fatalf("Resume = %v, %v; want %v", got, err, wantProg)
			}
			if got := digest(t, dir); got != before {
				t.Fatalf("workdir after Resume is not its state before the patch:\n%s\nwant:\n%s", got, before)
			}
			if _, err := os.Stat(backup); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("backup dir of an undone promotion left behind: %v", err)
			}

			p2, err := Check(diffAll, dir, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			stage2, cleanup, err := Stage(p2, dir, stagingIn(t))
			defer cleanup()
			if err != nil {
				t.Fatal(err)
			}
			if err := Promote(p2, stage2, dir, backup); err != nil {
				t.Fatalf("Promote again after Resume: %v", err)
			}
			if got := digest(t, dir); got != want {
				t.Fatalf("workdir after the second promotion:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestAppliedAndResumeNameTheFileSomeoneElseChanged(t *testing.T) {
	p, dir, stage := stagedPlan(t, diffAll)
	backup := filepath.Join(t.TempDir(), "p")
	promoteUntilCrash(t, p, stage, dir, backup, "old.txt")
	writeFile(t, filepath.Join(dir, "bin", "run.sh"), "#!/bin/sh\necho mine\n")
	edited := digest(t, dir)

	for name, f := range map[string]func(string, string) (Progress, error){"Applied": Applied, "Resume": Resume} {
		got, err := f(dir, backup)
		var ce *ConflictError
		if got != Conflicting || !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || ce.Path != "bin/run.sh" ||
			!strings.Contains(err.Error(), "bin/run.sh was changed by someone else") {
			t.Fatalf("%s = %v, %v; want %v naming bin/run.sh", name, got, err, Conflicting)
		}
	}
	if got := digest(t, dir); got != edited {
		t.Fatalf("Resume changed a conflicting workdir:\n%s\nwant:\n%s", got, edited)
	}
	if _, err := ReadManifest(backup); err != nil {
		t.Fatalf("Resume dropped the manifest of a conflicting patch: %v", err)
	}
}

// A kill in the middle of Revert leaves the manifest applied and some files
// back: Resume finishes the revert.
func TestResumeFinishesARevertCutShort(t *testing.T) {
	p, dir, stage := stagedPlan(t, diffModify+diffDelete)
	before := digest(t, dir)
	backup := filepath.Join(t.TempDir(), "p")
	if err := Promote(p, stage, dir, backup); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "old.txt"), "obsolete\n") // Revert got this far
	if err := os.Chmod(filepath.Join(dir, "old.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Resume(dir, backup); got != PartlyApplied || err != nil {
		t.Fatalf("Resume = %v, %v; want %v", got, err, PartlyApplied)
	}
	if got := digest(t, dir); got != before {
		t.Fatalf("workdir after Resume:\n%s\nwant:\n%s", got, before)
	}
	if m, err := ReadManifest(backup); err != nil || m.State != StateReverted {
		t.Fatalf("manifest after Resume: %+v, %v", m, err)
	}
	if _, err := Resume(dir, backup); !errors.Is(err, ErrNothingToRevert) {
		t.Fatalf("Resume of a reverted patch: %v, want ErrNothingToRevert", err)
	}
}

// A patch that changes only a mode has the same content hash on both
// sides: the mode tells them apart.
func TestAppliedTellsAModeOnlyPatchBeforeFromAfter(t *testing.T) {
	p, dir, stage := stagedPlan(t, diffMode)
	before := digest(t, dir)
	backup := filepath.Join(t.TempDir(), "p")
	promoteUntilCrash(t, p, stage, dir, backup, "")
	if got, err := Applied(dir, backup); got != NotApplied || err != nil {
		t.Fatalf("Applied before the swap = %v, %v; want %v", got, err, NotApplied)
	}
	if got, err := Resume(dir, backup); got != NotApplied || err != nil || digest(t, dir) != before {
		t.Fatalf("Resume before the swap = %v, %v", got, err)
	}

	p, dir, stage = stagedPlan(t, diffMode)
	if err := Promote(p, stage, dir, backup); err != nil {
		t.Fatal(err)
	}
	if got, err := Applied(dir, backup); got != FullyApplied || err != nil {
		t.Fatalf("Applied after Promote = %v, %v; want %v", got, err, FullyApplied)
	}
}

// Manifests written before Resume existed have no mode_after and no
// diff_sha256: they still read, Applied judges them by hash, and Revert
// restores from them.
func TestManifestWithoutTheResumeFieldsStillReadsAndReverts(t *testing.T) {
	p, dir, stage := stagedPlan(t, diffModify+diffCreate)
	before := digest(t, dir)
	backup := filepath.Join(t.TempDir(), "p")
	if err := Promote(p, stage, dir, backup); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(backup, ManifestName)
	var raw map[string]any
	if err := json.Unmarshal([]byte(readFile(t, name)), &raw); err != nil {
		t.Fatal(err)
	}
	delete(raw, "diff_sha256")
	for _, e := range raw["entries"].([]any) {
		delete(e.(map[string]any), "mode_after")
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, name, string(b))
	if strings.Contains(string(b), "mode_after") || strings.Contains(string(b), "diff_sha256") {
		t.Fatal("old-style manifest still has the new fields")
	}

	if got, err := Applied(dir, backup); got != FullyApplied || err != nil {
		t.Fatalf("Applied on an old manifest = %v, %v", got, err)
	}
	if _, err := Revert(dir, backup); err != nil {
		t.Fatalf("Revert on an old manifest: %v", err)
	}
	if got := digest(t, dir); got != before {
		t.Fatalf("workdir after Revert:\n%s\nwant:\n%s", got, before)
	}
}

func TestAttemptIDIsStableForOneAttemptAndDiffersAcrossThem(t *testing.T) {
	started := time.Date(2026, 11, 26, 12, 44, 26, 123456789, time.FixedZone("x", 3600))
	id := AttemptID("inc-1", 2, 0, started)
	if !regexp.MustCompile(`^p-20261126-114426-[0-9a-f]{6}$`).MatchString(id) {
		t.Fatalf("AttemptID = %q, want p-<UTC start>-<6 hex>", id)
	}
	if again := AttemptID("inc-1", 2, 0, started.UTC()); again != id {
		t.Fatalf("AttemptID not stable: %q then %q", id, again)
	}
	seen := map[string]string{id: "inc-1/2/0"}
	for _, k := range []struct {
		inc     string
		att, ca int
	}{{"inc-2", 2, 0}, {"inc-1", 3, 0}, {"inc-1", 2, 1}, {"inc-1", 20, 0}, {"inc-12", 0, 0}} {
		id := AttemptID(k.inc, k.att, k.ca, started)
		key := fmt.Sprintf("%s/%d/%d", k.inc, k.att, k.ca)
		if other, dup := seen[id]; dup {
			t.Fatalf("AttemptID(%s) = AttemptID(%s) = %s", key, other, id)
		}
		seen[id] = key
	}
}
