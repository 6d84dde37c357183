package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/memory"
	"github.com/razar/razar/orchestrator"
)

// status composes the status reply: the host's components from the
// supervisor, incidents and rungs from the orchestrator.
func (h *Host) status(ctx context.Context, component string, _ *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	view, err := h.statusView(ctx, component)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(view)
	if err != nil {
		return nil, err
	}
	return &bus.LifecycleReply{Data: data}, nil
}

// recordable are the audit events a CLI command may ask the orchestrator to
// store: what it did itself, to files, with RAZAR running.
var recordable = map[bus.Event]bool{bus.EventReverted: true, bus.EventRotation: true}

// record stores an audit record a CLI command sent (razar rollback-patch,
// razar rotate-keys). The orchestrator is the only writer of the stream;
// the record names the authenticated identity that sent it.
func (h *Host) record(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	rec := req.Record
	if err := h.checkRecord(component, rec); err != nil {
		return nil, err
	}
	rec.Actor = recordActor(req.Who, rec.Actor)
	rec.ActorKey = req.ActorKey()
	rec.Stamp(time.Now())
	msgID := ""
	if rec.Event == bus.EventReverted && rec.PatchID != "" {
		// One rollback, one record, however often a killed rollback-patch
		// (or RAZAR's start) sends it again.
		msgID = orchestrator.RevertedMsgID(rec.Component, rec.PatchID)
	}
	if err := h.store.Audit(ctx, rec, msgID); err != nil {
		return nil, err
	}
	if msgID == "" {
		return &bus.LifecycleReply{Message: "recorded"}, nil
	}
	if err := orchestrator.RollbackRecorded(h.cfg.Home, rec.Component, rec.PatchID); err != nil {
		h.log.Warn().Err(err).Str("component", rec.Component).Str("patch", rec.PatchID).Msg("reverted record written, but the rollback's note was not updated (its next start sends it again, deduplicated)")
	}
	if h.orch != nil {
		// A rollback-patch: what the patch carried, the fix memory forgets.
		if err := h.orch.PatchRolledBack(ctx, rec.Component, rec.PatchID); err != nil {
			return nil, fmt.Errorf("recorded, but the fix memory was not told of the rollback (it is at the next start): %w", err)
		}
	}
	return &bus.LifecycleReply{Message: "recorded"}, nil
}

// checkRecord refuses a record a CLI may not send, and sets its
// component; a rotation's must name an approved rotation.
func (h *Host) checkRecord(component string, rec *bus.AuditRecord) error {
	if rec == nil {
		return fmt.Errorf("%w: record: the request carries no record", razar.ErrBadPayload)
	}
	if !recordable[rec.Event] {
		return fmt.Errorf("%w: record: a %q record is RAZAR's own to write; only reverted and rotation records may be sent", razar.ErrBadPayload, rec.Event)
	}
	rec.Component = bus.SystemComponent
	if component != bus.AllComponents {
		if _, err := h.boot.Load().Component(component); err != nil {
			return err
		}
		rec.Component = component
	}
	if rec.Event == bus.EventRotation {
		return h.rotations.Approved(rec)
	}
	return nil
}

// memoryAudit runs `razar memory audit` for a CLI: the orchestrator is the
// only writer of the stream and the bucket. The report is the reply's data
// and a memory audit record.
func (h *Host) memoryAudit(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	if component != bus.AllComponents {
		return nil, fmt.Errorf("%w: memory_audit is about RAZAR's own stores: send it to %s", razar.ErrBadPayload, bus.LifecycleSubject(bus.VerbMemoryAudit, bus.AllComponents))
	}
	items := req.Items
	if items == 0 {
		items = memory.DefaultAuditItems
	}
	if items < 0 || items > memory.MaxAuditItems {
		return nil, fmt.Errorf("%w: items %d: want 1 to %d", razar.ErrBadPayload, items, memory.MaxAuditItems)
	}
	if h.cfg.MemoryAudit == nil {
		return nil, errors.New("this RAZAR runs no memory audit")
	}
	if !h.memoryMu.TryLock() {
		return nil, errors.New("a memory audit is already running; wait for it")
	}
	defer h.memoryMu.Unlock()
	rep := h.cfg.MemoryAudit(ctx, h.store, items, req.ActorName(), h.log)
	data, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	return &bus.LifecycleReply{Message: fmt.Sprintf("memory audit %s done", rep.Run), Data: data}, nil
}

// recordActor names who sent a record: the identity, and the approvers the
// record itself names (a rotation's), which are names typed, not identities.
func recordActor(who *auth.Identity, typed string) string {
	if who == nil {
		return typed + " (unverified)"
	}
	if typed == "" || typed == who.Name {
		return who.Name
	}
	return who.Name + " for " + typed
}
