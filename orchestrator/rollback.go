package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/jsonl"
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
	// Resumed is set when this run finished a rollback an earlier one
	// (killed, or cut short) began.
	Resumed bool
}

// A rollback is a journal in its patch's backup directory, so whoever is
// killed, the next run of rollback-patch or the next start of RAZAR
// finishes it: the RollbackNote is written (FilesPending) before any file
// is touched; patch.Revert restores each file atomically and is idempotent
// on a revert cut short; the note then carries the reverted record
// (RecordPending) until the record is on the audit stream, under one
// message id (RevertedMsgID), so it is written exactly once.

// RevertedMsgID is the audit message id of the reverted record of
// component's patch id rolled back with rollback-patch: whoever writes it,
// and however often, the stream keeps one.
func RevertedMsgID(component, id string) string {
	return bus.AuditMsgID(bus.EventReverted, "rollback-"+component+"-"+id, 0)
}

// RollbackPatch restores the files of comp's patch id under home's patch
// store, or of its newest applied patch when id is "", leaves its
// RollbackNote for the fix memory, and refreshes the roster's boot
// snapshot as the runbook's helper does. A rollback of comp left
// unfinished (files or record pending) is finished first, whatever id
// names. It works whether RAZAR runs or not. Errors:
// patch.ErrNothingToRevert, razar.ErrNotFound for a patch id that does not
// exist under state/.
func RollbackPatch(home string, comp razar.Component, id, actor string) (*Rollback, error) {
	dir := filepath.Join(home, PatchDir, comp.Name)
	if pending := pendingRollback(dir); pending != "" && (id == "" || id == pending) {
		return finishRollback(home, comp, pending, true)
	}
	target, err := pickPatch(dir, id)
	if err != nil {
		return nil, err
	}
	var diffSHA string
	if m, err := patch.ReadManifest(filepath.Join(dir, target)); err == nil {
		diffSHA = m.DiffSHA256
	}
	// The journal first: from here on, a kill leaves a rollback that the
	// next run or start finishes.
	note := rollbackNote{V: 1, Patch: target, Actor: actor, Time: time.Now().UTC(), DiffSHA256: diffSHA, FilesPending: true}
	if err := saveNote(filepath.Join(dir, target), note); err != nil {
		return nil, fmt.Errorf("roll back %s patch %s: its note was not written, nothing was changed: %w", comp.Name, target, err)
	}
	return finishRollback(home, comp, target, false)
}

// finishRollback restores the files of patch id (unless its note says they
// are restored) and readies the reverted record, in the name of whoever
// began the rollback (its note's actor).
func finishRollback(home string, comp razar.Component, id string, resumed bool) (*Rollback, error) {
	dir := filepath.Join(home, PatchDir, comp.Name, id)
	note, err := readNote(dir)
	if err != nil {
		return nil, err
	}
	rb := &Rollback{Patch: id, Resumed: resumed}
	if note.FilesPending {
		files, err := patch.Revert(comp.Workdir, dir)
		if errors.Is(err, patch.ErrNothingToRevert) {
			// Killed after the files and the manifest, before the note.
			files, err = revertedFiles(dir)
		}
		if err != nil {
			return nil, fmt.Errorf("roll back %s patch %s: %w (run `razar rollback-patch %s` again once the cause is fixed: it finishes this rollback)", comp.Name, id, err, comp.Name)
		}
		rb.Files = files
		note.Record = &bus.AuditRecord{Event: bus.EventReverted, Component: comp.Name, PatchID: id, Status: "reverted",
			Reason: "rolled back by " + note.Actor + " with razar rollback-patch", Actor: note.Actor, Files: patchFiles(files)}
		note.Record.Stamp(time.Now())
		note.FilesPending, note.RecordPending = false, true
		if err := saveNote(dir, note); err != nil {
			return nil, fmt.Errorf("%s patch %s rolled back, but its note was not updated: %w (run `razar rollback-patch %s` again to record it)", comp.Name, id, err, comp.Name)
		}
	} else if note.Record != nil {
		for _, f := range note.Record.Files {
			rb.Files = append(rb.Files, patch.FileChange{Path: f.Path, OldPath: f.OldPath, Op: f.Op, SHA256Before: f.SHA256Before, SHA256After: f.SHA256After})
		}
	}
	rb.Record = note.Record
	if rb.Record == nil { // a note from before the journal: recorded then
		rb.Record = &bus.AuditRecord{Event: bus.EventReverted, Component: comp.Name, PatchID: id, Status: "reverted",
			Reason: "rolled back by " + note.Actor + " with razar rollback-patch", Actor: note.Actor}
		rb.Record.Stamp(note.Time)
	}
	// The runbook's next check is that the roster matches the boot
	// snapshot: refresh the snapshot from the roster now in force.
	if roster, err := os.ReadFile(filepath.Join(home, razar.RosterFile)); err == nil {
		rb.Snapshot = jetstream.WriteFileAtomic(filepath.Join(home, razar.RosterSnapshot), roster, 0o640) == nil
	}
	return rb, nil
}

// revertedFiles is what a revert cut short after its manifest was written
// restored, read back from the manifest.
func revertedFiles(dir string) ([]patch.FileChange, error) {
	m, err := patch.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	out := make([]patch.FileChange, 0, len(m.Entries))
	for _, e := range m.Entries {
		fc := patch.FileChange{Path: e.Path, SHA256Before: e.SHA256After, SHA256After: e.SHA256Before, Op: patch.OpModify}
		if !e.Existed {
			fc.Op = patch.OpDelete
		}
		out = append(out, fc)
	}
	return out, nil
}

// pendingRollback is the patch under dir whose rollback is unfinished
// (files or record pending), or "".
func pendingRollback(dir string) string {
	notes, _ := filepath.Glob(filepath.Join(dir, "*", RollbackNote))
	sort.Strings(notes)
	for _, n := range notes {
		if note, err := readNote(filepath.Dir(n)); err == nil && (note.FilesPending || note.RecordPending) {
			return filepath.Base(filepath.Dir(n))
		}
	}
	return ""
}

// PendingRollback says whether component's patch id has a rollback whose
// reverted record is not yet written.
func PendingRollback(home, component, id string) bool {
	note, err := readNote(filepath.Join(home, PatchDir, component, id))
	return err == nil && (note.FilesPending || note.RecordPending)
}

// RollbackRecorded notes that the reverted record of component's patch id
// is written (on the stream, or in logs/patch_history.jsonl with RAZAR
// stopped). A patch with no note, or one recorded already, is nothing to
// do.
func RollbackRecorded(home, component, id string) error {
	if razar.ValidName(component) != nil || id == "" || filepath.Base(id) != id || id == "." || id == ".." {
		return fmt.Errorf("%w: patch %q of %q is not a patch of the store", razar.ErrBadPayload, id, component)
	}
	dir := filepath.Join(home, PatchDir, component, id)
	note, err := readNote(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || !note.RecordPending {
		return err
	}
	note.RecordPending = false
	return saveNote(dir, note)
}

// RecordRollbackOffline appends the reverted record rec of a rollback done
// with RAZAR stopped to logs/patch_history.jsonl, once: a line for its
// patch there already (a run killed before it noted the record) is kept.
func RecordRollbackOffline(home string, rec *bus.AuditRecord) error {
	path := filepath.Join(home, PatchHistoryFile)
	if !historyHas(path, rec.Component, rec.PatchID) {
		line, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := jsonl.Append(path, line); err != nil {
			return err
		}
	}
	return RollbackRecorded(home, rec.Component, rec.PatchID)
}

// historyHas says whether the patch history at path holds a reverted
// record of component's patch id written by rollback-patch.
func historyHas(path, component, id string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		var r bus.AuditRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Event == bus.EventReverted && r.Component == component && r.PatchID == id && r.Incident == "" {
			return true
		}
	}
	return false
}

// finishRollbacks finishes, when Run starts, every rollback a killed
// `razar rollback-patch` (or a RAZAR killed under it) left unfinished: the
// files restored, the reverted record written once.
func (o *Orchestrator) finishRollbacks(ctx context.Context) {
	if o.cfg.Home == "" || o.cfg.Components == nil {
		return
	}
	notes, _ := filepath.Glob(filepath.Join(o.cfg.Home, PatchDir, "*", "*", RollbackNote))
	for _, n := range notes {
		id := filepath.Base(filepath.Dir(n))
		component := filepath.Base(filepath.Dir(filepath.Dir(n)))
		if !PendingRollback(o.cfg.Home, component, id) {
			continue
		}
		log := o.log.With().Str("component", component).Str("patch", id).Logger()
		boot, err := o.cfg.Components()
		if err != nil {
			log.Error().Err(err).Msg("an unfinished rollback not finished: the boot config is unreadable")
			continue
		}
		comp, err := boot.Component(component)
		if err != nil {
			log.Error().Err(err).Msg("an unfinished rollback not finished: the component is not in the boot config")
			continue
		}
		rb, err := finishRollback(o.cfg.Home, comp, id, true)
		if err != nil {
			log.Error().Err(err).Msg("an unfinished rollback not finished")
			continue
		}
		if historyHas(filepath.Join(o.cfg.Home, PatchHistoryFile), component, id) {
			// Recorded while RAZAR was stopped; only the note lagged.
			_ = RollbackRecorded(o.cfg.Home, component, id)
			continue
		}
		if o.auditSeq(ctx, rb.Record, RevertedMsgID(component, id)) == 0 {
			continue // logged by auditSeq; tried again at the next start
		}
		if err := RollbackRecorded(o.cfg.Home, component, id); err != nil {
			log.Error().Err(err).Msg("rollback recorded, but its note was not updated")
		}
		log.Warn().Int("files", len(rb.Files)).Msg("an unfinished rollback-patch finished: files restored and the reverted record written")
	}
}

// readNote reads the RollbackNote in dir.
func readNote(dir string) (rollbackNote, error) {
	var note rollbackNote
	data, err := os.ReadFile(filepath.Join(dir, RollbackNote))
	if err != nil {
		return note, err
	}
	if err := json.Unmarshal(data, &note); err != nil {
		return note, fmt.Errorf("%s: %w", filepath.Join(dir, RollbackNote), err)
	}
	return note, nil
}

// saveNote writes note as the RollbackNote in dir, atomically.
func saveNote(dir string, note rollbackNote) error {
	data, err := json.Marshal(note)
	if err != nil {
		return err
	}
	return homedir.WriteAtomic(filepath.Join(dir, RollbackNote), data, 0o600)
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
