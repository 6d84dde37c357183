package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/cut"
)

// TTL is how long a rotation waits for its two approvals.
const TTL = 30 * time.Minute

// WaitMax bounds one rotation_wait request, well inside the lifecycle
// server's handler timeout.
const WaitMax = 25 * time.Second

// Prefix starts a rotation's id, so `razar approve rotation <id>` cannot
// be taken for a patch (p-...).
const Prefix = "rot-"

// Data is what a rotation record's data carries: the rotation id (the CLI
// sends it) and its approvers (the orchestrator fills them in from the
// approvals it received, whatever the CLI said).
type Data struct {
	Rotation  string          `json:"rotation"`
	Digest    string          `json:"digest"`
	Approvers []auth.Identity `json:"approvers"`
}

// Auditor stores an audit record; jetstream.Store's Audit with no
// message id.
type Auditor func(ctx context.Context, rec *bus.AuditRecord) error

// Verbs are the rotations waiting for two operator identities, and the
// verbs that open, wait for, approve and reject them.
type Verbs struct {
	approvals *auth.Approvals
	audit     Auditor
	log       zerolog.Logger
}

// New returns the rotation verbs; approvals are recorded through audit,
// a failure to record is logged on log.
func New(audit Auditor, log zerolog.Logger) *Verbs {
	return &Verbs{approvals: auth.NewApprovals(), audit: audit, log: log}
}

// reply is a rotation verb's answer: msg, and the rotation with its state.
func reply(r auth.Request, msg string) (*bus.LifecycleReply, error) {
	data, err := json.Marshal(struct {
		auth.Request
		State string `json:"state"`
	}{r, r.State(time.Now())})
	if err != nil {
		return nil, err
	}
	return &bus.LifecycleReply{Message: msg, Data: data}, nil
}

// all refuses a rotation verb sent about one component.
func all(component string) error {
	if component != bus.AllComponents {
		return fmt.Errorf("%w: a rotation is about RAZAR's roster: send it to component %s", razar.ErrBadPayload, bus.AllComponents)
	}
	return nil
}

// Register adds the rotation verbs to l: open, wait, approve, reject.
func (v *Verbs) Register(l *bus.Lifecycle) {
	l.Handle(bus.VerbRotation, v.open)
	l.Handle(bus.VerbRotationWait, v.wait)
	l.Handle(bus.VerbApproveRotation, v.decide(true))
	l.Handle(bus.VerbRejectRotation, v.decide(false))
}

// open opens a rotation for an operator identity.
func (v *Verbs) open(_ context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	if err := all(component); err != nil {
		return nil, err
	}
	if req.Who == nil || req.Who.Role != auth.Operator {
		return nil, fmt.Errorf("%w: a rotation is opened by an operator identity", bus.ErrForbidden)
	}
	if req.Summary == "" || len(req.Digest) != 64 {
		return nil, fmt.Errorf("%w: a rotation needs its plan (summary) and the rotated roster's sha256 (digest)", razar.ErrBadPayload)
	}
	r := v.approvals.Open(Prefix, req.Summary, req.Digest, *req.Who, TTL)
	return reply(r, fmt.Sprintf("rotation %s waits for %d operator identities: razar approve rotation %s", r.ID, auth.Required, r.ID))
}

// wait answers once the rotation is decided, or after WaitMax with its state.
func (v *Verbs) wait(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	if err := all(component); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, WaitMax)
	defer cancel()
	r, err := v.approvals.Wait(wctx, req.Patch)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return reply(r, r.State(time.Now()))
}

// decide is the approve (or reject) verb.
func (v *Verbs) decide(approve bool) bus.VerbHandler {
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
			r, err = v.approvals.Approve(req.Patch, *req.Who)
		} else {
			r, err = v.approvals.Reject(req.Patch, *req.Who)
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
				v.recordApproved(ctx, r)
			}
		}
		return reply(r, msg)
	}
}

// recordApproved writes the rotation's approval, by both identities'
// names and public keys, to the audit stream.
func (v *Verbs) recordApproved(ctx context.Context, r auth.Request) {
	data, _ := json.Marshal(Data{Rotation: r.ID, Digest: r.Digest, Approvers: r.Approvers})
	last := r.Approvers[len(r.Approvers)-1]
	rec := &bus.AuditRecord{Event: bus.EventRotation, Component: bus.SystemComponent, Status: "approved",
		Actor: last.Name, ActorKey: last.Key,
		Message: fmt.Sprintf("rotation %s approved by %s: %s", r.ID, approverNames(r), cut.FirstLine(r.What)), Data: data}
	rec.Stamp(time.Now())
	if err := v.audit(ctx, rec); err != nil {
		v.log.Error().Err(err).Str("rotation", r.ID).Msg("could not record a rotation's approval")
	}
}

// Approved checks the rotation record a CLI sends after applying one: it
// names a rotation two operator identities approved, for the change it
// applied, not applied before; its approvers are set from the approvals
// received, whatever the CLI wrote. A record that does not is
// razar.ErrBadPayload or bus.ErrForbidden.
func (v *Verbs) Approved(rec *bus.AuditRecord) error {
	var data map[string]any
	if err := json.Unmarshal(rec.Data, &data); err != nil {
		return fmt.Errorf("%w: record: a rotation record's data is not an object", razar.ErrBadPayload)
	}
	id, _ := data["rotation"].(string)
	digest, _ := data["digest"].(string)
	r, err := v.approvals.Use(id, digest)
	if err != nil {
		return fmt.Errorf("%w: record: %v", bus.ErrForbidden, err)
	}
	data["approvers"] = r.Approvers
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	rec.Data = raw
	rec.Message = fmt.Sprintf("credentials rotated: %s; rotation %s approved by %s", cut.FirstLine(r.What), r.ID, approverNames(r))
	return nil
}

// approverNames names each approver with its public key.
func approverNames(r auth.Request) string {
	var names []string
	for _, a := range r.Approvers {
		names = append(names, a.Name+" ("+a.Key+")")
	}
	return strings.Join(names, " and ")
}
