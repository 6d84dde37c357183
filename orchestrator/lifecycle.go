package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// VerbHandler answers one lifecycle verb for one component (or
// bus.AllComponents). Its error becomes {"ok": false, "error": ...}.
type VerbHandler func(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error)

// Lifecycle serves the lifecycle bus, razar.lifecycle.<verb>.<component>:
// each request is decoded, audited, handed to its verb's handler, and
// answered with JSON {"ok", "component", "error", ...}. Malformed requests
// are answered with an error, never dropped silently.
type Lifecycle struct {
	// Redact, when set, scrubs secrets from the audit record of each command.
	Redact func(string) string

	store    *jetstream.Store
	log      zerolog.Logger
	mu       sync.Mutex
	handlers map[bus.Verb]VerbHandler
}

// NewLifecycle returns a lifecycle server with no verbs; add them with Handle.
func NewLifecycle(store *jetstream.Store, log zerolog.Logger) *Lifecycle {
	return &Lifecycle{store: store, log: log, handlers: map[bus.Verb]VerbHandler{}}
}

// Handle sets the handler of verb.
func (l *Lifecycle) Handle(verb bus.Verb, h VerbHandler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handlers[verb] = h
}

// Run serves until ctx ends.
func (l *Lifecycle) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	stop, err := bus.Serve(l.store.Conn(), bus.LifecycleAll, func(m *bus.Request) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.serve(ctx, m)
		}()
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	wg.Wait()
	return nil
}

func (l *Lifecycle) serve(ctx context.Context, m *bus.Request) {
	_, toks, _ := bus.ParseSubject(m.Subject)
	rep := &bus.LifecycleReply{}
	respond := func() {
		data, err := bus.Encode(rep)
		if err == nil {
			_ = m.Respond(data)
		}
	}
	if len(toks) != 2 {
		rep.Error = fmt.Sprintf("subject %s: want razar.lifecycle.<verb>.<component>", m.Subject)
		l.log.Warn().Str("subject", m.Subject).Msg("malformed lifecycle subject")
		respond()
		return
	}
	verb, component := bus.Verb(toks[0]), toks[1]
	rep.Component = component
	var req bus.LifecycleRequest
	if err := bus.Decode(m.Data, &req); err != nil {
		rep.Error = err.Error()
		l.log.Warn().Err(err).Str("subject", m.Subject).Msg("malformed lifecycle request")
		respond()
		return
	}
	if component != bus.AllComponents {
		if err := razar.ValidName(component); err != nil {
			rep.Error = "component " + err.Error()
			respond()
			return
		}
	}
	l.mu.Lock()
	h, ok := l.handlers[verb]
	known := l.verbsLocked()
	l.mu.Unlock()
	if !ok {
		rep.Error = fmt.Sprintf("unknown verb %q: use one of %v", verb, known)
		respond()
		return
	}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got, err := h(hctx, component, &req)
	if got != nil {
		rep = got
		rep.Component = component
	}
	rep.OK = err == nil
	if err != nil {
		rep.Error = err.Error()
	}
	if verb != bus.VerbStatus && component != bus.AllComponents {
		actor := req.Actor
		if actor == "" {
			actor = "unknown"
		}
		rec := &bus.AuditRecord{Event: bus.EventLifecycle, Component: component, Incident: rep.Incident, PatchID: req.Patch,
			Verb: string(verb), Actor: actor, Status: map[bool]string{true: "ok", false: "refused"}[rep.OK], Error: rep.Error}
		if l.Redact != nil {
			rec.Error = l.Redact(rec.Error)
			rep.Error = l.Redact(rep.Error)
		}
		pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := l.store.Audit(pctx, rec, ""); err != nil {
			l.log.Error().Err(err).Msg("could not record lifecycle command")
		}
		pcancel()
		l.log.Info().Str("verb", string(verb)).Str("component", component).Str("actor", actor).Bool("ok", rep.OK).Str("error", rep.Error).Msg("lifecycle command")
	}
	respond()
}

// verbsLocked lists the served verbs; l.mu must be held.
func (l *Lifecycle) verbsLocked() []bus.Verb {
	var out []bus.Verb
	for _, v := range bus.Verbs {
		if _, ok := l.handlers[v]; ok {
			out = append(out, v)
		}
	}
	return out
}

// Register adds the orchestrator's verbs (escalate, abort, status) to l.
func (o *Orchestrator) Register(l *Lifecycle) {
	l.Handle(bus.VerbEscalate, func(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if req.Error == "" {
			return nil, errors.New(`escalate needs the failure text: {"error": "..."}`)
		}
		id, isNew, err := o.Escalate(ctx, component, req.Error, "")
		if err != nil {
			return &bus.LifecycleReply{Incident: id}, err
		}
		msg := "incident opened"
		if !isNew {
			msg = "an incident is already open for this component; following it"
		}
		return &bus.LifecycleReply{Incident: id, Message: msg}, nil
	})
	l.Handle(bus.VerbAbort, func(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		id, err := o.Abort(ctx, component, req.Actor)
		if err != nil {
			return nil, err
		}
		return &bus.LifecycleReply{Incident: id, Message: "incident aborted"}, nil
	})
	l.Handle(bus.VerbStatus, o.statusHandler())
	decide := func(approve bool) VerbHandler {
		return func(_ context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
			if req.Patch == "" {
				return nil, errors.New(`name the patch: {"patch": "p-..."}`)
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
}

// statusHandler answers status with incidents and rungs.
func (o *Orchestrator) statusHandler() VerbHandler {
	return func(ctx context.Context, component string, _ *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		recs, err := o.Incidents(ctx)
		if err != nil {
			return nil, err
		}
		view := StatusView{Incidents: []*bus.IncidentRecord{}}
		for _, r := range recs {
			if component == bus.AllComponents || r.Component == component {
				view.Incidents = append(view.Incidents, r)
			}
		}
		roster, err := o.cfg.Roster()
		if err == nil {
			for _, a := range roster.Agents {
				if st, err := o.store.AgentStatus(ctx, a.Name); err == nil {
					view.Agents = append(view.Agents, st)
				} else {
					// Treated as able to run (its attempts time out if nothing answers).
					view.Agents = append(view.Agents, &bus.AgentStatus{Name: a.Name, Display: o.cfg.Display(a.Name), Ready: true, Reason: "no process of this rung has reported yet"})
				}
			}
		}
		data, err := json.Marshal(view)
		if err != nil {
			return nil, err
		}
		return &bus.LifecycleReply{Data: data}, nil
	}
}
