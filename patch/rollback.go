package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/homedir"
)

// A rollback (`razar rollback-patch`) is a journal in its patch's backup
// directory, so whoever is killed, the next run of rollback-patch or the
// next start of RAZAR finishes it: the RollbackNote is written
// (FilesPending) before any file is touched; Revert restores each file
// atomically and is idempotent on a revert cut short; the note then
// carries the reverted record (RecordPending) until the caller says the
// record is written (RollbackRecorded). The note also tells the fix
// memory what an operator undid (Forgotten).

// RollbackFile is the note a rollback leaves in its patch's backup
// directory.
const RollbackFile = "rollback.json"

// RollbackNote is RollbackFile's content.
type RollbackNote struct {
	V          int       `json:"v"`
	Patch      string    `json:"patch_id"`
	Actor      string    `json:"actor"`
	Time       time.Time `json:"time"`
	DiffSHA256 string    `json:"diff_sha256,omitempty"`
	// Forgotten is set once the fix memory has marked what the patch
	// carried (or found nothing to mark).
	Forgotten bool `json:"recorded,omitempty"`
	// FilesPending is set from before the first file is touched until
	// every file is restored; RecordPending from then until the reverted
	// record (Record, the caller's bytes) is written. A note with either
	// set is a rollback the next run or start finishes.
	FilesPending  bool            `json:"files_pending,omitempty"`
	RecordPending bool            `json:"record_pending,omitempty"`
	Record        json.RawMessage `json:"record,omitempty"`
}

// Pending says whether the rollback is unfinished: files or record
// pending.
func (n RollbackNote) Pending() bool { return n.FilesPending || n.RecordPending }

// Restored is what a rollback restored, for the record a RecordFunc makes.
type Restored struct {
	Component, Patch, Actor string
	Files                   []FileChange
	At                      time.Time
}

// RecordFunc makes the reverted record of a rollback, kept in its note
// until RollbackRecorded.
type RecordFunc func(Restored) (json.RawMessage, error)

// Rollback is one rollback: the component and patch rolled back, and
// its note.
type Rollback struct {
	Component, Patch string
	// Restored is set when this run restored the files (Files); else an
	// earlier run did, and the note's Record lists them.
	Restored bool
	Files    []FileChange
	// Resumed is set when this run finished a rollback an earlier one
	// (killed, or cut short) began.
	Resumed bool
	Note    RollbackNote
}

// PatchRef names one patch of the store.
type PatchRef struct{ Component, Patch string }

// Rollback restores the files of comp's patch id, or of its newest
// applied patch when id is "", journalled in its RollbackNote, and makes
// its reverted record with record. A rollback of comp left unfinished is
// finished first, whatever id names. Errors: ErrNothingToRevert,
// razar.ErrNotFound for a patch id that is not in the store.
func (p *Pipeline) Rollback(comp config.Component, id, actor string, record RecordFunc) (*Rollback, error) {
	dir := filepath.Join(razar.Home(p.cfg.Home).Patches(), comp.Name)
	if pending := pendingRollback(dir); pending != "" && (id == "" || id == pending) {
		return p.finishRollback(comp, pending, true, record)
	}
	target, err := pickPatch(dir, id)
	if err != nil {
		return nil, err
	}
	var diffSHA string
	if m, err := ReadManifest(filepath.Join(dir, target)); err == nil {
		diffSHA = m.DiffSHA256
	}
	// The journal first: from here on, a kill leaves a rollback that the
	// next run or start finishes.
	note := RollbackNote{V: 1, Patch: target, Actor: actor, Time: time.Now().UTC(), DiffSHA256: diffSHA, FilesPending: true}
	if err := saveNote(filepath.Join(dir, target), note); err != nil {
		return nil, fmt.Errorf("roll back %s patch %s: its note was not written, nothing was changed: %w", comp.Name, target, err)
	}
	return p.finishRollback(comp, target, false, record)
}

// FinishRollback finishes the unfinished rollback of comp's patch id, as
// Rollback does for one a killed run left.
func (p *Pipeline) FinishRollback(comp config.Component, id string, record RecordFunc) (*Rollback, error) {
	return p.finishRollback(comp, id, true, record)
}

// finishRollback restores the files of patch id (unless its note says they
// are restored) and readies the reverted record, in the name of whoever
// began the rollback (its note's actor).
func (p *Pipeline) finishRollback(comp config.Component, id string, resumed bool, record RecordFunc) (*Rollback, error) {
	dir := p.BackupDir(comp.Name, id)
	note, err := readNote(dir)
	if err != nil {
		return nil, err
	}
	rb := &Rollback{Component: comp.Name, Patch: id, Resumed: resumed}
	if note.FilesPending {
		files, err := Revert(comp.Workdir, dir)
		if errors.Is(err, ErrNothingToRevert) {
			// Killed after the files and the manifest, before the note.
			files, err = revertedFiles(dir)
		}
		if err != nil {
			return nil, fmt.Errorf("roll back %s patch %s: %w (run `razar rollback-patch %s` again once the cause is fixed: it finishes this rollback)", comp.Name, id, err, comp.Name)
		}
		rb.Restored, rb.Files = true, files
		rec, err := record(Restored{Component: comp.Name, Patch: id, Actor: note.Actor, Files: files, At: time.Now()})
		if err != nil {
			return nil, fmt.Errorf("%s patch %s rolled back, but its record was not made: %w (run `razar rollback-patch %s` again to record it)", comp.Name, id, err, comp.Name)
		}
		note.Record = rec
		note.FilesPending, note.RecordPending = false, true
		if err := saveNote(dir, note); err != nil {
			return nil, fmt.Errorf("%s patch %s rolled back, but its note was not updated: %w (run `razar rollback-patch %s` again to record it)", comp.Name, id, err, comp.Name)
		}
	}
	rb.Note = note
	return rb, nil
}

// revertedFiles is what a revert cut short after its manifest was written
// restored, read back from the manifest.
func revertedFiles(dir string) ([]FileChange, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	out := make([]FileChange, 0, len(m.Entries))
	for _, e := range m.Entries {
		fc := FileChange{Path: e.Path, SHA256Before: e.SHA256After, SHA256After: e.SHA256Before, Op: OpModify}
		if !e.Existed {
			fc.Op = OpDelete
		}
		out = append(out, fc)
	}
	return out, nil
}

// pendingRollback is the patch under dir whose rollback is unfinished, or
// "".
func pendingRollback(dir string) string {
	notes, _ := filepath.Glob(filepath.Join(dir, "*", RollbackFile))
	sort.Strings(notes)
	for _, n := range notes {
		if note, err := readNote(filepath.Dir(n)); err == nil && note.Pending() {
			return filepath.Base(filepath.Dir(n))
		}
	}
	return ""
}

// Rollbacks lists the patches of the store with a RollbackNote, finished
// or not, in path order.
func (p *Pipeline) Rollbacks() []PatchRef {
	notes, _ := filepath.Glob(filepath.Join(razar.Home(p.cfg.Home).Patches(), "*", "*", RollbackFile))
	out := make([]PatchRef, 0, len(notes))
	for _, n := range notes {
		out = append(out, PatchRef{Component: filepath.Base(filepath.Dir(filepath.Dir(n))), Patch: filepath.Base(filepath.Dir(n))})
	}
	return out
}

// RollbackPending says whether component's patch id has a rollback whose
// reverted record is not yet written.
func (p *Pipeline) RollbackPending(component, id string) bool {
	note, err := readNote(p.BackupDir(component, id))
	return err == nil && note.Pending()
}

// RollbackNote reads the note of component's patch id. A patch outside
// the store is razar.ErrBadPayload; one without a note fs.ErrNotExist.
func (p *Pipeline) RollbackNote(component, id string) (RollbackNote, error) {
	if err := checkRef(component, id); err != nil {
		return RollbackNote{}, err
	}
	return readNote(p.BackupDir(component, id))
}

// RollbackRecorded notes that the reverted record of component's patch id
// is written. A patch with no note, or one recorded already, is nothing
// to do. A patch outside the store is razar.ErrBadPayload.
func (p *Pipeline) RollbackRecorded(component, id string) error {
	note, err := p.RollbackNote(component, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || !note.RecordPending {
		return err
	}
	note.RecordPending = false
	return saveNote(p.BackupDir(component, id), note)
}

// Forgotten notes that the fix memory has marked undone what component's
// rolled-back patch id carried (note is its RollbackNote as read).
func (p *Pipeline) Forgotten(component, id string, note RollbackNote) error {
	if err := checkRef(component, id); err != nil {
		return err
	}
	note.Forgotten = true
	return saveNote(p.BackupDir(component, id), note)
}

// checkRef refuses a component or patch id that is not a name in the
// store: never a path out of it.
func checkRef(component, id string) error {
	if razar.ValidName(component) != nil || id == "" || filepath.Base(id) != id || id == "." || id == ".." {
		return fmt.Errorf("%w: patch %q of %q is not a patch of the store", razar.ErrBadPayload, id, component)
	}
	return nil
}

// readNote reads the RollbackNote in dir.
func readNote(dir string) (RollbackNote, error) {
	var note RollbackNote
	data, err := os.ReadFile(filepath.Join(dir, RollbackFile))
	if err != nil {
		return note, err
	}
	if err := json.Unmarshal(data, &note); err != nil {
		return note, fmt.Errorf("%s: %w", filepath.Join(dir, RollbackFile), err)
	}
	return note, nil
}

// saveNote writes note as the RollbackNote in dir, atomically.
func saveNote(dir string, note RollbackNote) error {
	data, err := json.Marshal(note)
	if err != nil {
		return err
	}
	return homedir.WriteAtomic(filepath.Join(dir, RollbackFile), data, 0o600)
}

// pickPatch returns the named patch, or the newest applied one under dir.
// A name must be one of dir's own entries: never a path out of it.
func pickPatch(dir, id string) (string, error) {
	if id != "" {
		if filepath.Base(id) != id || id == "." || id == ".." {
			return "", fmt.Errorf("patch %q is not a patch id: %w", id, razar.ErrNotFound)
		}
		m, err := ReadManifest(filepath.Join(dir, id))
		if err != nil {
			return "", fmt.Errorf("patch %s: %w", id, razar.ErrNotFound)
		}
		if m.State != StateApplied {
			return "", fmt.Errorf("patch %s is %s, not applied: %w", id, m.State, ErrNothingToRevert)
		}
		return id, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("no applied patch under %s: %w", dir, ErrNothingToRevert)
	}
	type cand struct {
		id      string
		created time.Time
	}
	var cands []cand
	for _, e := range entries {
		m, err := ReadManifest(filepath.Join(dir, e.Name()))
		if err == nil && m.State == StateApplied {
			cands = append(cands, cand{e.Name(), m.Created})
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no applied patch under %s: %w", dir, ErrNothingToRevert)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].created.After(cands[j].created) })
	return cands[0].id, nil
}
