package orchestrator

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/patch"
)

// Rollback is one `razar rollback-patch`: the patch rolled back, the files
// it restored, and the reverted record to put on the audit stream (or, with
// RAZAR stopped, in logs/patch_history.jsonl).
type Rollback struct {
	Patch    string
	Files    []patch.FileChange
	Record   *bus.AuditRecord
	Snapshot bool // the boot snapshot was refreshed from the roster in force
}

// RollbackPatch restores the files of comp's patch id under home's patch
// store, or of its newest applied patch when id is "", leaves its
// RollbackNote for the fix memory, and refreshes the roster's boot
// snapshot as the runbook's helper does. It works whether
// RAZAR runs or not. Errors: patch.ErrNothingToRevert, razar.ErrNotFound
// for a patch id that does not exist under state/.
func RollbackPatch(home string, comp razar.Component, id, actor string) (*Rollback, error) {
	dir := filepath.Join(home, PatchDir, comp.Name)
	target, err := pickPatch(dir, id)
	if err != nil {
		return nil, err
	}
	var diffSHA string
	if m, err := patch.ReadManifest(filepath.Join(dir, target)); err == nil {
		diffSHA = m.DiffSHA256
	}
	files, err := patch.Revert(comp.Workdir, filepath.Join(dir, target))
	if err != nil {
		return nil, fmt.Errorf("roll back %s patch %s: %w", comp.Name, target, err)
	}
	rb := &Rollback{Patch: target, Files: files}
	// The fix memory forgets what an operator undid: the note tells the
	// running orchestrator (on the reverted record) or the next one.
	if err := writeRollbackNote(filepath.Join(dir, target), target, actor, diffSHA); err != nil {
		return nil, fmt.Errorf("%s patch %s rolled back, but its note for the fix memory was not written: %w (a remembered fix it carried may be replayed: `razar fixes forget` it)", comp.Name, target, err)
	}
	// The runbook's next check is that the roster matches the boot
	// snapshot: refresh the snapshot from the roster now in force.
	if roster, err := os.ReadFile(filepath.Join(home, razar.RosterFile)); err == nil {
		rb.Snapshot = jetstream.WriteFileAtomic(filepath.Join(home, razar.RosterSnapshot), roster, 0o640) == nil
	}
	rb.Record = &bus.AuditRecord{Event: bus.EventReverted, Component: comp.Name, PatchID: target, Status: "reverted",
		Reason: "rolled back by " + actor + " with razar rollback-patch", Actor: actor, Files: patchFiles(files)}
	rb.Record.Stamp(time.Now())
	return rb, nil
}

// pickPatch returns the named patch, or the newest applied one under dir.
// A name must be one of dir's own entries: never a path out of it.
func pickPatch(dir, id string) (string, error) {
	if id != "" {
		if filepath.Base(id) != id || id == "." || id == ".." {
			return "", fmt.Errorf("patch %q is not a patch id: %w", id, razar.ErrNotFound)
		}
		m, err := patch.ReadManifest(filepath.Join(dir, id))
		if err != nil {
			return "", fmt.Errorf("patch %s: %w", id, razar.ErrNotFound)
		}
		if m.State != patch.StateApplied {
			return "", fmt.Errorf("patch %s is %s, not applied: %w", id, m.State, patch.ErrNothingToRevert)
		}
		return id, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("no applied patch under %s: %w", dir, patch.ErrNothingToRevert)
	}
	type cand struct {
		id      string
		created time.Time
	}
	var cands []cand
	for _, e := range entries {
		m, err := patch.ReadManifest(filepath.Join(dir, e.Name()))
		if err == nil && m.State == patch.StateApplied {
			cands = append(cands, cand{e.Name(), m.Created})
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no applied patch under %s: %w", dir, patch.ErrNothingToRevert)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].created.After(cands[j].created) })
	return cands[0].id, nil
}
