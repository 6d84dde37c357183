package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/patch"
)

// What an operator undid, the fix memory forgets (docs/FIXES.md): a patch
// rolled back with `razar rollback-patch` leaves a note beside its backup
// (RollbackNote), and every remembered fix that patch carried is marked
// undone: never replayed, pinned or not. The note is how a rollback done
// with RAZAR stopped still reaches the memory: Run reads the notes not yet
// recorded when it starts.

// RollbackNote is the file RollbackPatch leaves in a rolled-back patch's
// backup directory (patch.RollbackNote).
const RollbackNote = patch.RollbackFile

// PatchRolledBack marks undone every remembered fix that component's patch
// id carried, once its rollback note says it was rolled back (a record of
// a revert without one changes nothing), and notes that it did. A note
// recorded already, or the memory off, is nothing to do.
func (o *Orchestrator) PatchRolledBack(ctx context.Context, component, id string) error {
	if o.fixes == nil || o.cfg.Home == "" {
		return nil
	}
	note, err := o.patches.RollbackNote(component, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if note.Forgotten || note.FilesPending {
		return nil // marked already, or not rolled back yet
	}
	// The boot scan and a live rollback may meet on one note: marking a
	// fix undone twice is harmless (Carrying skips undone fixes, and the
	// records share a message id).
	pinned := false
	for _, f := range o.fixes.Carrying(component, note.DiffSHA256, id) {
		if err := o.markUndone(ctx, component, id, note, f); err != nil {
			return err
		}
		pinned = pinned || f.Pinned
	}
	if pinned {
		if err := o.savePinned(ctx); err != nil {
			return fmt.Errorf("undone, but the pinned fixes in %s were not rewritten: %w", bus.KVBucket, err)
		}
	}
	o.fixMetric(func(*FixMetrics) {})
	return o.patches.Forgotten(component, id, note)
}

// markUndone records remembered fix f undone: the patch id carrying it
// was rolled back.
func (o *Orchestrator) markUndone(ctx context.Context, component, id string, note patch.RollbackNote, f fixmem.Fix) error {
	r := &bus.AuditRecord{Event: bus.EventFixFailed, Component: component, Agent: MemoryRung, Signature: f.Signature, Fix: f.ID,
		PatchID: id, Actor: note.Actor, Status: fixmem.StatusUndone,
		Reason:  fmt.Sprintf("patch %s carrying it was rolled back by %s at %s (razar rollback-patch)", id, note.Actor, note.Time.Format(time.RFC3339)),
		Message: "undone: never replayed for this signature, even if a rung writes it again; `razar fixes pin` brings it back"}
	if err := o.recordFix(ctx, r, bus.AuditMsgID(bus.EventFixFailed, "undo-"+id+"-"+f.Signature+"-"+f.ID, 0)); err != nil {
		return err
	}
	o.log.Warn().Str("component", component).Str("patch", id).Str("signature", f.Signature).Str("fix", f.ID).Str("actor", note.Actor).
		Msg("remembered fix undone: its patch was rolled back; it is never replayed")
	return nil
}

// revertedFix marks failed the remembered fixes of rec's component whose
// diff a rung proposed again in attempt a and which did not hold (patch id,
// reverted for reason): the memory should not replay what just failed.
// The memory's own attempts are marked by settleMemory.
func (o *Orchestrator) revertedFix(ctx context.Context, rec *bus.IncidentRecord, a razar.Attempt, id, diffSHA, reason string) {
	if o.fixes == nil || a.Rung == MemoryRung {
		return
	}
	for _, f := range o.fixes.Carrying(rec.Component, diffSHA, "") {
		if f.Failed && !f.Pinned {
			continue // marked already
		}
		r := &bus.AuditRecord{Event: bus.EventFixFailed, Component: rec.Component, Incident: rec.ID, Agent: a.Rung, Attempt: a.Number,
			Signature: f.Signature, Fix: f.ID, PatchID: id, Status: "failed",
			Reason:  bus.Clip(fmt.Sprintf("the same diff, proposed again by %s, did not hold and was reverted: %s", o.cfg.Display(a.Rung), reason), bus.MaxErrorBytes),
			Message: "not tried again for this signature until it heals an incident anew"}
		if f.Pinned {
			r.Message = "pinned: kept, and tried again next time"
		}
		if err := o.recordFix(ctx, r, bus.AuditMsgID(bus.EventFixFailed, rec.ID+"-"+id+"-"+f.Signature, a.Number)); err != nil {
			o.log.Error().Err(err).Str("incident", rec.ID).Str("fix", f.ID).Msg("reverted fix not marked failed")
		}
	}
}

// recordRollbacks reads the rollback notes not yet recorded (rollbacks done
// while RAZAR was stopped, or whose record did not reach it) and marks
// what they carried, once when Run starts, after the memory is replayed.
func (o *Orchestrator) recordRollbacks(ctx context.Context) {
	if o.fixes == nil || o.cfg.Home == "" {
		return
	}
	for _, ref := range o.patches.Rollbacks() {
		if err := o.PatchRolledBack(ctx, ref.Component, ref.Patch); err != nil && ctx.Err() == nil {
			o.log.Error().Err(err).Str("component", ref.Component).Str("patch", ref.Patch).Msg("a rolled-back patch's fixes not marked undone; tried again at the next start")
		}
	}
}

// NewFilesPolicy is RAZAR_FIX_MEMORY_NEW_FILES: what becomes of a
// remembered fix that adds files or sets an executable bit.
type NewFilesPolicy string

const (
	// NewFilesApprove replays such a fix only once an operator approves
	// it, as a component with "approval": "manual" (the default).
	NewFilesApprove NewFilesPolicy = "approve"
	// NewFilesNever never replays such a fix: the ladder is asked.
	NewFilesNever NewFilesPolicy = "never"
)

// modeLine is a git diff's mode header.
var modeLine = regexp.MustCompile(`^(?:new file mode|new mode) ([0-7]{6})\s*$`)

// addsCode says what in remembered fix f adds files or executable bits
// ("" when nothing does): the files its diff creates (from Check's plan,
// when it applies; else from its stored file list) and the files it gives
// an executable mode.
func addsCode(comp config.Component, f fixmem.Fix) string {
	var created, exec []string
	if plan, err := patch.Check(f.Diff, comp.Workdir, patch.Limits{Protected: patch.ComponentProtections(comp)}); err == nil {
		for _, fc := range plan.Files {
			if fc.Op == patch.OpCreate || fc.Op == patch.OpRename {
				created = append(created, fc.Path)
			}
		}
	} else {
		for _, fc := range f.Files {
			if fc.Op == patch.OpCreate || fc.Op == patch.OpRename {
				created = append(created, fc.Path)
			}
		}
	}
	path := ""
	for _, line := range strings.Split(f.Diff, "\n") {
		switch {
		case strings.HasPrefix(line, "diff --git "):
			if i := strings.LastIndex(line, " b/"); i >= 0 {
				path = line[i+3:]
			}
		case strings.HasPrefix(line, "+++ "):
			path = strings.TrimPrefix(strings.TrimPrefix(line, "+++ "), "b/")
		}
		if m := modeLine.FindStringSubmatch(line); m != nil {
			if mode, err := strconv.ParseUint(m[1], 8, 32); err == nil && mode&0o111 != 0 {
				exec = append(exec, path)
			}
		}
	}
	var what []string
	if len(created) > 0 {
		what = append(what, "adds "+strings.Join(created, ", "))
	}
	if len(exec) > 0 {
		what = append(what, "makes "+strings.Join(exec, ", ")+" executable")
	}
	return strings.Join(what, " and ")
}
