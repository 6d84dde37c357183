package patch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// AttemptID returns the patch id of one candidate (counted from 0) of an
// incident's attempt. It has NewID's shape, "p-<UTC yyyymmdd-hhmmss>-<6
// hex>", with the time the attempt started and the hex from a sha256 of
// incident, attempt and candidate, so a RAZAR restarted in the middle of
// the attempt derives the same id and finds the backup directory, and the
// manifest, of a promotion it may have cut short.
func AttemptID(incident string, attempt, candidate int, started time.Time) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", incident, attempt, candidate))
	return "p-" + started.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(h[:3])
}

// Progress is how far a patch's promotion got in a workdir, as Applied
// reads it from the manifest and the files.
type Progress int

// Progress values.
const (
	// NotApplied: every path holds its state from before the patch.
	NotApplied Progress = iota
	// PartlyApplied: some paths hold what the patch puts there, the others
	// their state from before it; a promotion or a revert was cut short.
	PartlyApplied
	// FullyApplied: every path holds what the patch puts there.
	FullyApplied
	// Conflicting: a path holds neither: someone else changed it.
	Conflicting
)

func (p Progress) String() string {
	switch p {
	case NotApplied:
		return "not applied"
	case PartlyApplied:
		return "partly applied"
	case FullyApplied:
		return "applied"
	case Conflicting:
		return "conflicting"
	}
	return fmt.Sprintf("Progress(%d)", int(p))
}

// ConflictError names the path that holds neither the state a patch found
// nor the one it leaves. It wraps ErrConflict.
type ConflictError struct {
	PatchID string
	Path    string
	SHA256  string // what the path holds now, "" when absent
	Before  string // what it held before the patch
	After   string // what the patch leaves there
	Detail  string // set when the path is not a regular file
}

func (e *ConflictError) Error() string {
	have := "sha256 " + short(e.SHA256)
	if e.Detail != "" {
		have = e.Detail
	}
	return fmt.Sprintf("patch %s: %s was changed by someone else: it holds %s, neither its state before the patch (%s) nor after it (%s); "+
		"put it back by hand, or remove the patch's backup directory, before patching it again",
		e.PatchID, e.Path, have, short(e.Before), short(e.After))
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// pathState is what one manifest entry's path holds now.
type pathState struct {
	before, after bool // holds the state from before the patch, or after it
}

// entryState reads e's path under root and says which side of the patch it
// is on. A path on neither side is a *ConflictError.
func entryState(root, patchID string, e Entry) (pathState, error) {
	conflict := func(cur, detail string) error {
		return &ConflictError{PatchID: patchID, Path: e.Path, SHA256: cur, Before: e.SHA256Before, After: e.SHA256After, Detail: detail}
	}
	fi, err := inspect(root, e.Path)
	if err != nil {
		var re *RejectError
		if errors.As(err, &re) {
			return pathState{}, conflict("", re.Reason)
		}
		return pathState{}, fmt.Errorf("patch %s: %w", patchID, err)
	}
	cur := ""
	var perm uint32
	if fi != nil {
		if !fi.Mode().IsRegular() {
			return pathState{}, conflict("", kind(fi.Mode()))
		}
		if cur, err = hashFile(join(root, e.Path)); err != nil {
			return pathState{}, fmt.Errorf("patch %s: %w", patchID, err)
		}
		perm = uint32(fi.Mode().Perm())
	}
	st := pathState{before: cur == e.SHA256Before, after: cur == e.SHA256After}
	// Only a patch that changes nothing but the mode needs the mode to tell
	// the sides apart.
	if st.before && st.after && cur != "" && e.Existed && e.ModeAfter != 0 && e.Mode != e.ModeAfter {
		st.before, st.after = perm == e.Mode, perm == e.ModeAfter
	}
	if !st.before && !st.after {
		return pathState{}, conflict(cur, "")
	}
	return st, nil
}

// Applied reports how far the patch whose backup is in backupDir got in
// workdir, from the sha256 its manifest records for every path before and
// after the patch. It only reads. A path that holds neither is Conflicting
// with a *ConflictError naming it; a missing manifest is an error wrapping
// ErrNothingToRevert.
func Applied(workdir, backupDir string) (Progress, error) {
	m, err := ReadManifest(backupDir)
	if err != nil {
		return NotApplied, err
	}
	root, err := resolveWorkdir(workdir)
	if err != nil {
		return NotApplied, err
	}
	p, _, err := m.progress(root)
	return p, err
}

// progress classifies every entry of m under root; states is parallel to
// m.Entries.
func (m *Manifest) progress(root string) (Progress, []pathState, error) {
	if m.Workdir != root {
		return NotApplied, nil, fmt.Errorf("patch %s was applied to %s, not %s", m.PatchID, m.Workdir, root)
	}
	states := make([]pathState, len(m.Entries))
	allBefore, allAfter := true, true
	for i, e := range m.Entries {
		st, err := entryState(root, m.PatchID, e)
		if err != nil {
			return Conflicting, nil, err
		}
		states[i] = st
		allBefore = allBefore && st.before
		allAfter = allAfter && st.after
	}
	switch {
	case allAfter:
		return FullyApplied, states, nil
	case allBefore:
		return NotApplied, states, nil
	}
	return PartlyApplied, states, nil
}

// Resume settles a patch whose promotion, or revert, a crash may have cut
// short, so that the workdir holds one side of the patch and never a mix.
// It returns what Applied found, having acted on it:
//
//   - FullyApplied: nothing in the workdir changes; a manifest still in
//     StatePromoting (the crash came after the last swap) is marked
//     StateApplied. The caller goes on to verify the patch.
//   - NotApplied or PartlyApplied, manifest in StatePromoting: the
//     promotion never finished. The paths already swapped get their
//     backups back, the directories it made go, and so does backupDir:
//     the workdir is as before the patch and Promote may run again, from
//     a fresh Check and Stage, with the same backupDir.
//   - NotApplied or PartlyApplied, manifest in StateApplied: a Revert was
//     cut short. Resume finishes it; the manifest ends in StateReverted.
//   - Conflicting: nothing changes and the *ConflictError names the path.
//
// A manifest already in StateReverted is an error wrapping
// ErrNothingToRevert, and so is a missing one.
func Resume(workdir, backupDir string) (Progress, error) {
	m, err := ReadManifest(backupDir)
	if err != nil {
		return NotApplied, err
	}
	if m.State == StateReverted {
		return NotApplied, fmt.Errorf("patch %s was reverted at %s: %w", m.PatchID, m.Reverted.Format(time.RFC3339), ErrNothingToRevert)
	}
	root, err := resolveWorkdir(workdir)
	if err != nil {
		return NotApplied, err
	}
	prog, states, err := m.progress(root)
	if err != nil {
		return prog, err
	}
	switch {
	case prog == FullyApplied:
		if m.State != StateApplied {
			m.State = StateApplied
			m.fillAfter()
			if err := writeManifest(backupDir, m); err != nil {
				return prog, fmt.Errorf("patch %s: files applied, but the manifest was not marked applied: %w", m.PatchID, err)
			}
		}
		return prog, nil
	case m.State == StateApplied:
		if _, err := Revert(workdir, backupDir); err != nil {
			return prog, fmt.Errorf("patch %s: finishing a revert cut short: %w", m.PatchID, err)
		}
		return prog, nil
	}
	return prog, m.undoPromotion(root, backupDir, states)
}

// undoPromotion puts back the files a promotion cut short had swapped
// (StatePromoting, some or none swapped), newest first, as Promote's own
// failure path does, and removes the backup. It checks every backup it
// needs first, and changes nothing if one is missing or damaged.
func (m *Manifest) undoPromotion(root, backupDir string, states []pathState) error {
	for i, e := range m.Entries {
		if states[i].before || !e.Existed {
			continue
		}
		if h, err := hashFile(join(backupDir, e.Backup)); err != nil || h != e.SHA256Before {
			return fmt.Errorf("patch %s: the backup of %s in %s is missing or damaged, so the promotion cut short cannot be undone; nothing was changed: restore %s by hand",
				m.PatchID, e.Path, backupDir, e.Path)
		}
	}
	var errs []error
	for i := len(m.Entries) - 1; i >= 0; i-- {
		if states[i].before {
			continue
		}
		e := m.Entries[i]
		if err := restoreEntry(root, backupDir, e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Path, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("patch %s: undoing a promotion cut short: %w (backup kept in %s; run Resume again once the cause is fixed)", m.PatchID, err, backupDir)
	}
	removeEmptyDirs(root, m.CreatedDirs)
	if err := os.RemoveAll(backupDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("patch %s: workdir restored, but its backup directory was not removed: %w", m.PatchID, err)
	}
	return nil
}

// fillAfter sets each FileChange's SHA256After from the entry of its path,
// for manifests written in StatePromoting before Promote recorded it there.
func (m *Manifest) fillAfter() {
	after := make(map[string]string, len(m.Entries))
	for _, e := range m.Entries {
		after[e.Path] = e.SHA256After
	}
	for i := range m.Files {
		if m.Files[i].SHA256After == "" {
			m.Files[i].SHA256After = after[m.Files[i].Path]
		}
	}
}
