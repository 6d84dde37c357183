package orchestrator

import (
	"context"
	"errors"
	"fmt"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
)

// Register adds the orchestrator's verbs to l: abort, approve, reject, and
// ack, resolve and pass, which answer a human rung's page (human.go).
// An incident is opened by hand through the supervisor, which follows it.
func (o *Orchestrator) Register(l *bus.Lifecycle) {
	l.Handle(bus.VerbAbort, func(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if component == bus.AllComponents {
			return nil, bus.ErrAllComponents
		}
		id, err := o.Abort(ctx, component, req.ActorName())
		if err != nil {
			return nil, err
		}
		return &bus.LifecycleReply{Incident: id, Message: "incident aborted; the component is quarantined (`razar release` lifts it)"}, nil
	})
	decide := func(approve bool) bus.VerbHandler {
		return func(_ context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
			if req.Patch == "" {
				return nil, errors.New(`name the patch: {"patch": "p-..."}`)
			}
			// A patch runs as code on the host: only an authenticated
			// operator decides, never a name typed in a request.
			if req.Who == nil || req.Who.Role != auth.Operator {
				return nil, fmt.Errorf("%w: a patch is approved or rejected by an operator identity (razar --creds state/identities/operator.creds, or `razar identity add <name> --role operator`)", bus.ErrForbidden)
			}
			if err := o.Decide(component, req.Patch, approve); err != nil {
				return nil, err
			}
			msg := "patch " + req.Patch + " approved: promoting it"
			if !approve {
				msg = "patch " + req.Patch + " rejected"
			}
			return &bus.LifecycleReply{Message: msg}, nil
		}
	}
	l.Handle(bus.VerbApprove, decide(true))
	l.Handle(bus.VerbReject, decide(false))
	for _, v := range []bus.Verb{bus.VerbAck, bus.VerbResolve, bus.VerbPass} {
		l.Handle(v, o.answerVerb(v))
	}
}

// Status returns the stored incidents about component (every one for
// bus.AllComponents), newest first, and the rungs of the roster as their
// processes report them.
func (o *Orchestrator) Status(ctx context.Context, component string) ([]*bus.IncidentRecord, []*bus.AgentStatus, error) {
	recs, err := o.Incidents(ctx)
	if err != nil {
		return nil, nil, err
	}
	incidents := []*bus.IncidentRecord{}
	for _, r := range recs {
		if component == bus.AllComponents || r.Component == component {
			incidents = append(incidents, r)
		}
	}
	var rungs []*bus.AgentStatus
	if roster, err := o.cfg.Roster(); err == nil {
		for _, a := range roster.Agents {
			if st, err := o.store.AgentStatus(ctx, a.Name); err == nil {
				rungs = append(rungs, st)
			} else if a.Human() {
				rungs = append(rungs, &bus.AgentStatus{Name: a.Name, Display: o.cfg.Display(a.Name), Ready: true, Reason: "a person on call (backend human): paged on its turn"})
			} else {
				// Treated as able to run (its attempts time out if nothing answers).
				rungs = append(rungs, &bus.AgentStatus{Name: a.Name, Display: o.cfg.Display(a.Name), Ready: true, Reason: "no process of this rung has reported yet"})
			}
		}
	}
	return incidents, rungs, nil
}
