package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/cut"
)

// rotationTTL is how long a rotation waits for its two approvals.
const rotationTTL = 30 * time.Minute

// rotationWaitMax bounds one rotation_wait request, well inside the
// lifecycle server's handler timeout.
const rotationWaitMax = 25 * time.Second

// rotationPrefix starts a rotation's id, so `razar approve rotation <id>`
// cannot be taken for a patch (p-...).
const rotationPrefix = "rot-"

// rotationData is what a rotation record's data carries: the rotation id
// (the CLI sends it) and its approvers (the orchestrator fills them in
// from the approvals it received, whatever the CLI said).
type rotationData struct {
	Rotation  string          `json:"rotation"`
	Digest    string          `json:"digest"`
	Approvers []auth.Identity `json:"approvers"`
}

// registerRotations adds the rotation verbs: open, wait, approve, reject.
// A rotation is approved by two distinct operator identities (auth.Approvals),
// recorded by name and public key.
func (d *daemon) registerRotations(l *bus.Lifecycle) {
	d.rotations = auth.NewApprovals()
	reply := func(r auth.Request, msg string) (*bus.LifecycleReply, error) {
		data, err := json.Marshal(struct {
			auth.Request
			State string `json:"state"`
		}{r, r.State(time.Now())})
		if err != nil {
			return nil, err
		}
		return &bus.LifecycleReply{Message: msg, Data: data}, nil
	}
	all := func(component string) error {
		if component != bus.AllComponents {
			return fmt.Errorf("%w: a rotation is about RAZAR's roster: send it to component %s", razar.ErrBadPayload, bus.AllComponents)
		}
		return nil
	}
	l.Handle(bus.VerbRotation, func(_ context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if err := all(component); err != nil {
			return nil, err
		}
		if req.Who == nil || req.Who.Role != auth.Operator {
			return nil, fmt.Errorf("%w: a rotation is opened by an operator identity", bus.ErrForbidden)
		}
		if req.Summary == "" || len(req.Digest) != 64 {
			return nil, fmt.Errorf("%w: a rotation needs its plan (summary) and the rotated roster's sha256 (digest)", razar.ErrBadPayload)
		}
		r := d.rotations.Open(rotationPrefix, req.Summary, req.Digest, *req.Who, rotationTTL)
		return reply(r, fmt.Sprintf("rotation %s waits for %d operator identities: razar approve rotation %s", r.ID, auth.Required, r.ID))
	})
	l.Handle(bus.VerbRotationWait, func(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if err := all(component); err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, rotationWaitMax)
		defer cancel()
		r, err := d.rotations.Wait(wctx, req.Patch)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return reply(r, r.State(time.Now()))
	})
	decide := func(approve bool) bus.VerbHandler {
		return func(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
			if err := all(component); err != nil {
				return nil, err
			}
			if req.Who == nil {
				return nil, fmt.Errorf("%w: a rotation is approved by operator identities; this bus carries none", bus.ErrForbidden)
			}
			var r auth.Request
			var err error
			if approve {
				r, err = d.rotations.Approve(req.Patch, *req.Who)
			} else {
				r, err = d.rotations.Reject(req.Patch, *req.Who)
			}
			if err != nil {
				if errors.Is(err, auth.ErrNotDistinct) || strings.Contains(err.Error(), "not an operator") {
					err = fmt.Errorf("%w: %v", bus.ErrForbidden, err)
				}
				return nil, err
			}
			msg := fmt.Sprintf("rotation %s rejected by %s: it will not be applied", r.ID, req.Who)
			if approve {
				msg = fmt.Sprintf("rotation %s (%s) approved by %s: %d of %d", r.ID, cut.FirstLine(r.What), req.Who, len(r.Approvers), auth.Required)
				if r.State(time.Now()) == "approved" {
					d.recordRotationApproved(ctx, r)
				}
			}
			return reply(r, msg)
		}
	}
	l.Handle(bus.VerbApproveRotation, decide(true))
	l.Handle(bus.VerbRejectRotation, decide(false))
}

// recordRotationApproved writes the rotation's approval, by both
// identities' names and public keys, to the audit stream.
func (d *daemon) recordRotationApproved(ctx context.Context, r auth.Request) {
	data, _ := json.Marshal(rotationData{Rotation: r.ID, Digest: r.Digest, Approvers: r.Approvers})
	var names []string
	for _, a := range r.Approvers {
		names = append(names, a.Name+" ("+a.Key+")")
	}
	rec := &bus.AuditRecord{Event: bus.EventRotation, Component: bus.SystemComponent, Status: "approved",
		Actor: r.Approvers[len(r.Approvers)-1].Name, ActorKey: r.Approvers[len(r.Approvers)-1].Key,
		Message: fmt.Sprintf("rotation %s approved by %s: %s", r.ID, strings.Join(names, " and "), cut.FirstLine(r.What)), Data: data}
	rec.Stamp(time.Now())
	if err := d.store.Audit(ctx, rec, ""); err != nil {
		d.log.Error().Err(err).Str("rotation", r.ID).Msg("could not record a rotation's approval")
	}
}

// approvedRotation checks the rotation record a CLI sends after applying
// one: it names a rotation two operator identities approved, for the
// change it applied, not applied before; its approvers are set from the
// approvals received, whatever the CLI wrote.
func (d *daemon) approvedRotation(_ context.Context, rec *bus.AuditRecord) error {
	var data map[string]any
	if err := json.Unmarshal(rec.Data, &data); err != nil {
		return fmt.Errorf("%w: record: a rotation record's data is not an object", razar.ErrBadPayload)
	}
	id, _ := data["rotation"].(string)
	digest, _ := data["digest"].(string)
	r, err := d.rotations.Use(id, digest)
	if err != nil {
		return fmt.Errorf("%w: record: %v", bus.ErrForbidden, err)
	}
	data["approvers"] = r.Approvers
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	var names []string
	for _, a := range r.Approvers {
		names = append(names, a.Name+" ("+a.Key+")")
	}
	rec.Data = raw
	rec.Message = fmt.Sprintf("credentials rotated: %s; rotation %s approved by %s", cut.FirstLine(r.What), r.ID, strings.Join(names, " and "))
	return nil
}
