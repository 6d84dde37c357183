package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
)

// VerbHandler answers one lifecycle verb for one component (or
// AllComponents). Its error becomes {"ok": false, "error": ...}; a reply it
// returns with the error keeps its other fields.
type VerbHandler func(ctx context.Context, component string, req *LifecycleRequest) (*LifecycleReply, error)

// LifecycleConfig configures a Lifecycle server.
type LifecycleConfig struct {
	// Audit records each command (every verb but status) on the audit
	// stream. Required.
	Audit func(ctx context.Context, rec *AuditRecord) error
	// Redact scrubs secrets from each command's audit record and reply.
	// Default razar.ScrubShapes: the shapes of secrets are always scrubbed.
	Redact func(string) string
	// Timeout bounds one handler. Default 2 min: start and restart wait for
	// the component's start grace and probe.
	Timeout time.Duration
	Log     zerolog.Logger
	// Identify turns the identity the server vouched for into a RAZAR
	// identity; a request it cannot identify is refused. Status and the
	// other read-only verbs (Verb.ReadOnly) are open to every role; every other verb needs an operator (or the orchestrator).
	// Without Identify (a bus with no authentication) requests carry no
	// identity and the typed actor is recorded as unverified.
	Identify func(RequestInfo) (auth.Identity, error)
}

// Lifecycle serves the lifecycle bus, razar.lifecycle.<verb>.<component>:
// each request is decoded, handed to its verb's one handler, audited, and
// answered with JSON {"ok", "component", "error", ...}. Malformed requests
// are answered with an error, never dropped silently.
//
// Handlers are registered with Handle before Run; each verb has one.
// Requests are served concurrently, each in a goroutine Run waits for.
type Lifecycle struct {
	nc  *Conn
	cfg LifecycleConfig

	mu       sync.Mutex
	handlers map[Verb]VerbHandler
}

// NewLifecycle returns a lifecycle server on nc with no verbs; add them with
// Handle. Errors wrap razar.ErrInvalidConfig.
func NewLifecycle(nc *Conn, cfg LifecycleConfig) (*Lifecycle, error) {
	if nc == nil || cfg.Audit == nil {
		return nil, fmt.Errorf("%w: lifecycle: a connection and Audit are required", razar.ErrInvalidConfig)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Redact == nil {
		cfg.Redact = razar.ScrubShapes
	}
	return &Lifecycle{nc: nc, cfg: cfg, handlers: map[Verb]VerbHandler{}}, nil
}

// Handle sets the handler of verb. A verb has one handler: registering a
// second is a wiring bug, and panics.
func (l *Lifecycle) Handle(verb Verb, h VerbHandler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.handlers[verb]; dup {
		panic(fmt.Sprintf("lifecycle verb %q registered twice", verb))
	}
	l.handlers[verb] = h
}

// Run serves until ctx ends, then waits for the requests in flight.
func (l *Lifecycle) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	stop, err := Serve(l.nc, LifecycleAll, func(m *Request) {
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

func (l *Lifecycle) serve(ctx context.Context, m *Request) {
	call, refused := l.admit(ctx, m)
	if refused != nil {
		l.respond(m, refused)
		return
	}
	hctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	l.respond(m, l.run(ctx, hctx, call))
}

// lifecycleCall is one admitted lifecycle request: its verb, component,
// decoded body and the handler that runs it.
type lifecycleCall struct {
	verb      Verb
	component string
	req       LifecycleRequest
	handle    VerbHandler
}

// respond scrubs rep and sends it as m's reply.
func (l *Lifecycle) respond(m *Request, rep *LifecycleReply) {
	rep.Scrub(l.cfg.Redact)
	if data, err := Encode(rep); err == nil {
		_ = m.Respond(data)
	}
}

// admit parses and checks m: its subject, its body, who sent it, the
// component's name and the verb. A request refused gets the reply to send.
func (l *Lifecycle) admit(ctx context.Context, m *Request) (*lifecycleCall, *LifecycleReply) {
	log := l.cfg.Log
	_, toks, _ := ParseSubject(m.Subject)
	rep := &LifecycleReply{}
	if len(toks) != 2 {
		rep.Error, rep.Code = fmt.Sprintf("subject %s: want razar.lifecycle.<verb>.<component>", m.Subject), CodeBadRequest
		log.Warn().Str("subject", m.Subject).Msg("malformed lifecycle subject")
		return nil, rep
	}
	call := &lifecycleCall{verb: Verb(toks[0]), component: toks[1]}
	rep.Component = call.component
	if err := Decode(m.Data, &call.req); err != nil {
		rep.Error, rep.Code = err.Error(), CodeBadRequest
		log.Warn().Err(err).Str("subject", m.Subject).Msg("malformed lifecycle request")
		return nil, rep
	}
	if l.cfg.Identify != nil {
		if !l.identify(ctx, m, call, rep) {
			return nil, rep
		}
	}
	if call.component != AllComponents {
		if err := razar.ValidName(call.component); err != nil {
			rep.Error, rep.Code = "component "+err.Error(), CodeBadRequest
			return nil, rep
		}
	}
	l.mu.Lock()
	h, ok := l.handlers[call.verb]
	known := l.verbsLocked()
	l.mu.Unlock()
	if !ok {
		rep.Error, rep.Code = fmt.Sprintf("unknown verb %q: use one of %v", call.verb, known), CodeBadRequest
		return nil, rep
	}
	call.handle = h
	return call, nil
}

// identify names who sent m into call.req.Who. A sender not known, or not
// an operator asking for more than a look, is refused: the refusal goes
// into rep, the log and, for a changing verb, the audit trail.
func (l *Lifecycle) identify(ctx context.Context, m *Request, call *lifecycleCall, rep *LifecycleReply) bool {
	verb := call.verb
	id, err := l.cfg.Identify(m.Requester)
	if err == nil && !verb.ReadOnly() && id.Role != auth.Operator && id.Role != auth.Orchestrator {
		err = fmt.Errorf("identity %s may not %s: lifecycle commands need an operator identity", id, verb)
	}
	if err != nil {
		rep.Error, rep.Code = "refused: "+err.Error(), CodeForbidden
		l.cfg.Log.Warn().Str("subject", m.Subject).Str("account", m.Requester.Account).Str("user", m.Requester.User).Str("why", err.Error()).Msg("lifecycle request refused")
		if !verb.ReadOnly() {
			l.audit(ctx, &AuditRecord{Event: EventLifecycle, Component: auditComponent(call.component), Verb: string(verb),
				Actor: actorOf(&id, ""), ActorKey: id.Key, Status: "refused", Error: rep.Error})
		}
		return false
	}
	call.req.Who = &id
	return true
}

// run calls the handler under hctx and records a changing command in the
// audit trail and the log.
func (l *Lifecycle) run(ctx, hctx context.Context, call *lifecycleCall) *LifecycleReply {
	verb, component, req := call.verb, call.component, &call.req
	rep := &LifecycleReply{Component: component}
	got, err := call.handle(hctx, component, req)
	if got != nil {
		rep = got
		rep.Component = component
	}
	rep.OK = err == nil
	if err != nil {
		rep.Error = err.Error()
		rep.Code = codeOf(err)
	}
	if !verb.ReadOnly() && verb != VerbRecord { // a record request is its own record
		actor := actorOf(req.Who, req.Actor)
		l.audit(ctx, &AuditRecord{Event: EventLifecycle, Component: auditComponent(component), Incident: rep.Incident, PatchID: req.Patch,
			Verb: string(verb), Actor: actor, ActorKey: req.ActorKey(), Status: map[bool]string{true: "ok", false: "refused"}[rep.OK], Error: rep.Error})
		ev := l.cfg.Log.Info()
		if !rep.OK {
			ev = l.cfg.Log.Warn().Str("error", l.cfg.Redact(rep.Error))
		}
		ev.Str("verb", string(verb)).Str("component", component).Str("actor", actor).Bool("ok", rep.OK).Msg("lifecycle command")
	}
	return rep
}

// ErrForbidden is wrapped by a handler's error when the requester's
// identity may not do what it asked; the reply's code is CodeForbidden.
var ErrForbidden = errors.New("forbidden")

func (l *Lifecycle) audit(ctx context.Context, rec *AuditRecord) {
	rec.Scrub(l.cfg.Redact)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.cfg.Audit(pctx, rec); err != nil {
		l.cfg.Log.Error().Err(err).Msg("could not record lifecycle command")
	}
}

// actorOf is the actor a record names: the authenticated identity, or, on
// a bus without authentication, the name the request typed, marked so.
func actorOf(who *auth.Identity, typed string) string {
	switch {
	case who != nil && who.Name != "":
		return who.Name
	case typed != "":
		return typed + " (unverified)"
	}
	return "unknown (unverified)"
}

// codeOf is the reply code of a handler's error: an unknown component is
// CodeNotFound (never a missing incident or patch of a known one), a request
// that cannot be one is CodeBadRequest, anything else CodeRefused.
func codeOf(err error) string {
	switch {
	case errors.Is(err, razar.ErrUnknownComponent):
		return CodeNotFound
	case errors.Is(err, ErrForbidden):
		return CodeForbidden
	case errors.Is(err, ErrAllComponents), errors.Is(err, razar.ErrInvalidConfig), errors.Is(err, razar.ErrBadPayload):
		return CodeBadRequest
	}
	return CodeRefused
}

// auditComponent is the audit subject token of a command about component:
// a command about every component (reload, detach) is RAZAR's own record.
func auditComponent(component string) string {
	if component == AllComponents {
		return SystemComponent
	}
	return component
}

// verbsLocked lists the served verbs; l.mu must be held.
func (l *Lifecycle) verbsLocked() []Verb {
	var out []Verb
	for _, v := range Verbs {
		if _, ok := l.handlers[v]; ok {
			out = append(out, v)
		}
	}
	return out
}

// ErrAllComponents is returned by a verb that needs one component when
// asked about AllComponents.
var ErrAllComponents = errors.New("name one component")
