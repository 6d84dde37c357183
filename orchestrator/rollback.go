package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/jsonl"
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

// A rollback is patch.Pipeline's journal (patch/rollback.go): whoever is
// killed, the next run of rollback-patch or the next start of RAZAR
// finishes it, and the reverted record it carries is written under one
// message id (RevertedMsgID), so exactly once.

// RevertedMsgID is the audit message id of the reverted record of
// component's patch id rolled back with rollback-patch: whoever writes it,
// and however often, the stream keeps one.
func RevertedMsgID(component, id string) string {
	return bus.AuditMsgID(bus.EventReverted, "rollback-"+component+"-"+id, 0)
}

// patchStore is the patch pipeline of home, for what works with RAZAR
// stopped as well as running.
func patchStore(home string) *patch.Pipeline {
	p, err := patch.New(patch.Config{Home: home})
	if err != nil { // a zero Config is valid
		panic(err)
	}
	return p
}

// RollbackPatch restores the files of comp's patch id under home's patch
// store, or of its newest applied patch when id is "", leaves its
// RollbackNote for the fix memory, and refreshes the roster's boot
// snapshot as the runbook's helper does. A rollback of comp left
// unfinished (files or record pending) is finished first, whatever id
// names. It works whether RAZAR runs or not. Errors:
// patch.ErrNothingToRevert, razar.ErrNotFound for a patch id that does not
// exist under state/.
func RollbackPatch(home string, comp config.Component, id, actor string) (*Rollback, error) {
	rec := &revertedRecord{}
	prb, err := patchStore(home).Rollback(comp, id, actor, rec.make)
	if err != nil {
		return nil, err
	}
	return rollbackOf(home, prb, rec)
}

// finishRollback finishes the rollback of comp's patch id a killed run
// left.
func finishRollback(home string, comp config.Component, id string) (*Rollback, error) {
	rec := &revertedRecord{}
	prb, err := patchStore(home).FinishRollback(comp, id, rec.make)
	if err != nil {
		return nil, err
	}
	return rollbackOf(home, prb, rec)
}

// revertedRecord makes the reverted record of a rollback, and keeps it.
type revertedRecord struct{ made *bus.AuditRecord }

func (rr *revertedRecord) make(r patch.Restored) (json.RawMessage, error) {
	rr.made = &bus.AuditRecord{Event: bus.EventReverted, Component: r.Component, PatchID: r.Patch, Status: "reverted",
		Reason: "rolled back by " + r.Actor + " with razar rollback-patch", Actor: r.Actor, Files: patchFiles(r.Files)}
	rr.made.Stamp(r.At)
	return json.Marshal(rr.made)
}

// rollbackOf is prb for the CLI and the audit stream: its reverted record
// (made now, read from its note, or for a note from before the journal
// made from it), and the roster's boot snapshot refreshed.
func rollbackOf(home string, prb *patch.Rollback, rr *revertedRecord) (*Rollback, error) {
	rb := &Rollback{Patch: prb.Patch, Files: prb.Files, Resumed: prb.Resumed, Record: rr.made}
	note := prb.Note
	if !prb.Restored && len(note.Record) > 0 && string(note.Record) != "null" {
		rb.Record = &bus.AuditRecord{}
		if err := json.Unmarshal(note.Record, rb.Record); err != nil {
			return nil, fmt.Errorf("%s: the reverted record of patch %s: %w", patch.RollbackFile, prb.Patch, err)
		}
		for _, f := range rb.Record.Files {
			rb.Files = append(rb.Files, patch.FileChange{Path: f.Path, OldPath: f.OldPath, Op: f.Op, SHA256Before: f.SHA256Before, SHA256After: f.SHA256After})
		}
	}
	if rb.Record == nil { // a note from before the journal: recorded then
		rb.Record = &bus.AuditRecord{Event: bus.EventReverted, Component: prb.Component, PatchID: prb.Patch, Status: "reverted",
			Reason: "rolled back by " + note.Actor + " with razar rollback-patch", Actor: note.Actor}
		rb.Record.Stamp(note.Time)
	}
	// The runbook's next check is that the roster matches the boot
	// snapshot: refresh the snapshot from the roster now in force.
	if roster, err := os.ReadFile(razar.Home(home).Roster()); err == nil {
		rb.Snapshot = homedir.WriteAtomic(razar.Home(home).RosterSnapshot(), roster, 0o640) == nil
	}
	return rb, nil
}

// PendingRollback says whether component's patch id has a rollback whose
// reverted record is not yet written.
func PendingRollback(home, component, id string) bool {
	return patchStore(home).RollbackPending(component, id)
}

// RollbackRecorded notes that the reverted record of component's patch id
// is written (on the stream, or in logs/patch_history.jsonl with RAZAR
// stopped). A patch with no note, or one recorded already, is nothing to
// do.
func RollbackRecorded(home, component, id string) error {
	return patchStore(home).RollbackRecorded(component, id)
}

// RecordRollbackOffline appends the reverted record rec of a rollback done
// with RAZAR stopped to logs/patch_history.jsonl, once: a line for its
// patch there already (a run killed before it noted the record) is kept.
func RecordRollbackOffline(home string, rec *bus.AuditRecord) error {
	path := razar.Home(home).PatchHistory()
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
	for _, ref := range o.patches.Rollbacks() {
		if o.patches.RollbackPending(ref.Component, ref.Patch) {
			o.finishRollback(ctx, ref)
		}
	}
}

// finishRollback finishes the unfinished rollback of ref and writes its
// reverted record, once.
func (o *Orchestrator) finishRollback(ctx context.Context, ref patch.PatchRef) {
	component, id := ref.Component, ref.Patch
	log := o.log.With().Str("component", component).Str("patch", id).Logger()
	boot, err := o.cfg.Components()
	if err != nil {
		log.Error().Err(err).Msg("an unfinished rollback not finished: the boot config is unreadable")
		return
	}
	comp, err := boot.Component(component)
	if err != nil {
		log.Error().Err(err).Msg("an unfinished rollback not finished: the component is not in the boot config")
		return
	}
	rb, err := finishRollback(o.cfg.Home, comp, id)
	if err != nil {
		log.Error().Err(err).Msg("an unfinished rollback not finished")
		return
	}
	if historyHas(razar.Home(o.cfg.Home).PatchHistory(), component, id) {
		// Recorded while RAZAR was stopped; only the note lagged.
		_ = o.patches.RollbackRecorded(component, id)
		return
	}
	if o.auditSeq(ctx, rb.Record, RevertedMsgID(component, id)) == 0 {
		return // logged by auditSeq; tried again at the next start
	}
	if err := o.patches.RollbackRecorded(component, id); err != nil {
		log.Error().Err(err).Msg("rollback recorded, but its note was not updated")
	}
	log.Warn().Int("files", len(rb.Files)).Msg("an unfinished rollback-patch finished: files restored and the reverted record written")
}
