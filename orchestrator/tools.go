package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/patch"
	"github.com/razar/razar/workspace"
)

// DefaultContextCalls is a rung's call budget for its context tools per
// attempt (RAZAR_CONTEXT_CALLS).
const DefaultContextCalls = 40

// maxEscalationBytes bounds the encoded escalation, workspace included,
// under the server's 1 MiB max payload.
const maxEscalationBytes = 960 << 10

// desk holds the tools of the pending attempts: one entry per incident,
// replaced at each hand-over, dropped when its deadline has passed.
type desk struct {
	mu      sync.Mutex
	open    map[string]*deskEntry    // incident -> its pending attempt's tools
	refused map[string]*refusalCount // rung -> its refusals outside any budget, this minute
}

// refusalCount bounds the records of calls refused before any attempt's
// budget counts them (no pending attempt, another rung's, a bad subject):
// a rung looping on them cannot fill the audit stream.
type refusalCount struct {
	minute time.Time
	n      int
}

// maxUnbudgetedRefusals is how many such refusals of one rung a minute are
// recorded; the rest are answered, not recorded, and one line is logged.
const maxUnbudgetedRefusals = 60

// recordRefusal reports whether a refusal outside any budget is recorded.
func (d *desk) recordRefusal(rung string, now time.Time) (record, first bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refused == nil {
		d.refused = map[string]*refusalCount{}
	}
	m := now.Truncate(time.Minute)
	c := d.refused[rung]
	if c == nil || !c.minute.Equal(m) {
		c = &refusalCount{minute: m}
		d.refused[rung] = c
	}
	c.n++
	return c.n <= maxUnbudgetedRefusals, c.n == maxUnbudgetedRefusals+1
}

// deskEntry is one pending attempt's tools.
type deskEntry struct {
	incident, rung, component string
	attempt                   int
	deadline                  time.Time
	resultsAfter              atomic.Uint64   // RAZAR_RESULTS held this much before the hand-over
	earlier                   []razar.Attempt // the incident's settled attempts (summaries, Seq set)
	view                      *workspace.View // nil when the workdir could not be opened
	viewErr                   string

	mu    sync.Mutex // calls; one check at a time
	calls int
	check sync.Mutex
}

func (e *deskEntry) close() {
	if e.view != nil {
		e.view.Close()
	}
}

// workspaceFor builds the workspace of rec's component for its pending
// attempt, and the view its tools read through (nil, with why, when the
// workdir cannot be opened).
func (o *Orchestrator) workspaceFor(rec *bus.IncidentRecord) (*razar.Workspace, *workspace.View, string) {
	boot, err := o.cfg.Components()
	if err != nil {
		return nil, nil, "the boot config cannot be read: " + err.Error()
	}
	comp, err := boot.Component(rec.Component)
	if err != nil {
		return nil, nil, err.Error()
	}
	v, err := workspace.New(comp, o.cfg.Home, workspace.Options{Budget: o.cfg.ContextBytes, Redact: o.redact})
	if err != nil {
		return nil, nil, o.redact(err.Error())
	}
	return v.Build(rec.Error), v, ""
}

// fitEscalation drops file texts, newest-ranked first, then listing
// entries, until the escalation encodes under maxEscalationBytes.
func fitEscalation(esc *bus.Escalation) {
	w := esc.Workspace
	if w == nil {
		return
	}
	for {
		b, err := bus.Encode(esc)
		if err != nil || len(b) <= maxEscalationBytes {
			return
		}
		switch {
		case len(w.Files) > 0:
			w.Files = w.Files[:len(w.Files)-1]
			w.FilesOmitted++
		case len(w.Listing) > 50:
			n := len(w.Listing) / 2
			w.ListingOmitted += len(w.Listing) - n
			w.Listing = w.Listing[:n]
		default:
			w.LogTail = ""
			return
		}
	}
}

// openTools makes the pending attempt's tools servable until its deadline
// or its answer, replacing the incident's earlier entry.
//
// It is called before the escalation is published, so a rung that calls
// its tools the instant it has the escalation finds them open; resultsAfter
// is what stream RAZAR_RESULTS held then, and handedOver sets what it held
// at the hand-over itself.
func (o *Orchestrator) openTools(rec *bus.IncidentRecord, view *workspace.View, viewErr string, resultsAfter uint64) *deskEntry {
	p := rec.Pending
	e := &deskEntry{incident: rec.ID, rung: p.Rung, component: rec.Component, attempt: p.Attempt, deadline: p.Deadline,
		earlier: append([]razar.Attempt(nil), rec.Attempts...), view: view, viewErr: viewErr}
	e.resultsAfter.Store(resultsAfter)
	now := time.Now()
	o.desk.mu.Lock()
	defer o.desk.mu.Unlock()
	if o.desk.open == nil {
		o.desk.open = map[string]*deskEntry{}
	}
	if old := o.desk.open[rec.ID]; old != nil {
		old.close()
	}
	o.desk.open[rec.ID] = e
	for id, x := range o.desk.open { // sweep what has expired
		if now.After(x.deadline) {
			x.close()
			delete(o.desk.open, id)
		}
	}
	return e
}

// closeTools closes e's tools, when the attempt was never handed over.
func (o *Orchestrator) closeTools(e *deskEntry) {
	o.desk.mu.Lock()
	defer o.desk.mu.Unlock()
	if o.desk.open[e.incident] == e {
		delete(o.desk.open, e.incident)
	}
	e.close()
}

// auditShown records what the escalation showed its rung.
func (o *Orchestrator) auditShown(ctx context.Context, rec *bus.IncidentRecord, ws *razar.Workspace) {
	p := rec.Pending
	shown := ws.Shown()
	total := 0
	for _, f := range shown {
		total += f.Bytes
	}
	o.audit(ctx, &bus.AuditRecord{Event: bus.EventShown, Component: rec.Component, Incident: rec.ID,
		Agent: p.Rung, AgentDisplay: o.cfg.Display(p.Rung), Attempt: p.Attempt, Pass: p.Pass,
		Status: "shown", Shown: shown, Bytes: total}, bus.AuditMsgID(bus.EventShown, rec.ID, p.Attempt))
}

// ServeContext answers the rungs' context tools on razar.context.*.* over
// c until stop is called; stop waits for the calls in flight. identify,
// when set, turns the identity the server stamped on each request
// (Nats-Request-Info, on the lifecycle listener's connection) into a RAZAR
// identity: only the rung the subject names may ask. Without it (a bus
// without authentication) the server's permissions are the only guard:
// rung r may publish only on razar.context.*.r.
func (o *Orchestrator) ServeContext(c *bus.Conn, identify func(bus.RequestInfo) (auth.Identity, error)) (stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	unsub, err := bus.Serve(c, bus.ContextAll, func(m *bus.Request) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.serveTool(ctx, m, identify)
		}()
	})
	if err != nil {
		cancel()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			unsub()
			cancel()
			wg.Wait()
			o.desk.mu.Lock()
			for id, e := range o.desk.open {
				e.close()
				delete(o.desk.open, id)
			}
			o.desk.mu.Unlock()
		})
	}, nil
}

// serveTool answers one tool call: who asks, whether the attempt is
// pending, the budget, then the op; every call is audited.
func (o *Orchestrator) serveTool(ctx context.Context, m *bus.Request, identify func(bus.RequestInfo) (auth.Identity, error)) {
	c := &toolCall{o: o, m: m, rec: &bus.AuditRecord{Event: bus.EventContext, Component: bus.SystemComponent, Status: "refused"}}
	e, req, ok := o.admitTool(ctx, c, identify)
	if !ok {
		return
	}
	c.rec.Component, c.rec.Attempt, c.rec.AgentDisplay = e.component, e.attempt, o.cfg.Display(c.rec.Agent)
	left, limit := o.spendCall(e)
	c.budgeted = true
	if left < 0 {
		c.refuse(ctx, "refused: over the call budget", "the call budget of this attempt (%d calls) is spent: answer now with your fix, or no_fix", limit)
		return
	}
	// A call ends with the attempt: its deadline bounds a search or a check.
	cctx, cancel := context.WithDeadline(ctx, e.deadline)
	defer cancel()
	a := o.runTool(cctx, e, req)
	a.Reply.CallsLeft = left
	c.respond(ctx, a)
}

// toolCall is one tool call being answered, and its audit record.
type toolCall struct {
	o        *Orchestrator
	m        *bus.Request
	rec      *bus.AuditRecord
	asked    string // the path or glob the request named, for the record
	budgeted bool   // the call counted against an attempt's budget
}

// respond answers the call with a and audits it; a call outside any
// attempt's budget is audited only while such refusals are few.
func (c *toolCall) respond(ctx context.Context, a workspace.Answer) {
	o, rec := c.o, c.rec
	if a.Path == "" {
		a.Path = c.asked
	}
	a.Reply.Error = o.redact(a.Reply.Error)
	if !a.Reply.OK && a.Reply.Error == "" {
		a.Reply.Error = "refused"
	}
	if data, err := bus.Encode(&bus.ContextReply{ToolReply: a.Reply}); err == nil {
		_ = c.m.Respond(data)
	}
	rec.Verdict, rec.Path, rec.Bytes = a.Verdict, o.redact(a.Path), a.Bytes
	if a.Reply.OK {
		rec.Status = "ok"
	} else {
		rec.Reason = a.Reply.Error
	}
	if !c.budgeted {
		record, first := o.desk.recordRefusal(rec.Agent, time.Now())
		if first {
			o.log.Warn().Str("rung", rec.Agent).Int("per_minute", maxUnbudgetedRefusals).
				Msg("context tools: too many refused calls outside any attempt; answering the rest of this minute's without a record")
		}
		if !record {
			return
		}
	}
	o.audit(ctx, rec, "")
}

// refuse answers the call with a refusal: verdict, and the error format
// and args make.
func (c *toolCall) refuse(ctx context.Context, verdict, format string, args ...any) {
	c.respond(ctx, toolRefusal(verdict, format, args...))
}

// toolRefusal is the answer that refuses a call: verdict, and the error
// format and args make.
func toolRefusal(verdict, format string, args ...any) workspace.Answer {
	return workspace.Answer{Verdict: verdict, Reply: razar.ToolReply{Error: fmt.Sprintf(format, args...)}}
}

// admitTool reads the call's subject and request, checks who asks and
// that their attempt is pending, and returns that attempt's entry. When
// any of that fails it refuses the call and returns false.
func (o *Orchestrator) admitTool(ctx context.Context, c *toolCall, identify func(bus.RequestInfo) (auth.Identity, error)) (*deskEntry, bus.ContextRequest, bool) {
	var req bus.ContextRequest
	_, toks, _ := bus.ParseSubject(c.m.Subject)
	if len(toks) != 2 || !bus.ValidToken(toks[0]) || !bus.ValidToken(toks[1]) {
		c.refuse(ctx, workspace.VerdictBad, "subject %s: want razar.context.<incident>.<rung>", c.m.Subject)
		return nil, req, false
	}
	incident, rung := toks[0], toks[1]
	c.rec.Incident, c.rec.Agent = incident, rung
	if err := bus.Decode(c.m.Data, &req); err != nil {
		c.refuse(ctx, workspace.VerdictBad, "%v", err)
		return nil, req, false
	}
	c.rec.Op = req.Op
	c.asked = req.Path
	if c.asked == "" {
		c.asked = req.Glob
	}
	if identify != nil {
		id, err := identify(c.m.Requester)
		if err == nil && (id.Role != auth.Rung || id.Name != rung) {
			err = fmt.Errorf("identity %s may not use the tools of rung %s", id, rung)
		}
		c.rec.Actor = id.Name
		if err != nil {
			c.refuse(ctx, "refused: identity", "refused: %v", err)
			return nil, req, false
		}
	}
	e, why := o.pendingTools(ctx, incident, rung)
	if e == nil {
		c.refuse(ctx, "refused: not pending", "%s", why)
		return nil, req, false
	}
	return e, req, true
}

// spendCall counts one call against e's attempt, and returns how many
// calls are left (negative: over the budget) and the budget.
func (o *Orchestrator) spendCall(e *deskEntry) (left, limit int) {
	limit = o.cfg.ContextCalls
	if limit <= 0 {
		limit = DefaultContextCalls
	}
	e.mu.Lock()
	e.calls++
	left = limit - e.calls
	e.mu.Unlock()
	return left, limit
}

// runTool answers req's op for e's attempt.
func (o *Orchestrator) runTool(ctx context.Context, e *deskEntry, req bus.ContextRequest) workspace.Answer {
	switch req.Op {
	case razar.ToolAttempt:
		return o.toolAttempt(ctx, e, req.Attempt)
	case razar.ToolCheck:
		return o.toolCheck(ctx, e, req.Diff)
	}
	if e.view == nil {
		return workspace.Answer{Verdict: workspace.VerdictMissing, Reply: razar.ToolReply{Error: "the workdir cannot be shown: " + e.viewErr}}
	}
	return e.view.Serve(ctx, req.ToolRequest)
}

// pendingTools returns the tools of rung's pending attempt on incident,
// or why there are none: no such attempt, another rung's, past its
// deadline, or answered already.
func (o *Orchestrator) pendingTools(ctx context.Context, incident, rung string) (*deskEntry, string) {
	o.desk.mu.Lock()
	e := o.desk.open[incident]
	o.desk.mu.Unlock()
	switch {
	case e == nil:
		return nil, fmt.Sprintf("no attempt of incident %s is pending: the tools serve an attempt only while it is open", incident)
	case e.rung != rung:
		return nil, fmt.Sprintf("the pending attempt of incident %s is not %s's: a rung may use the tools of its own attempt only", incident, rung)
	case !time.Now().Before(e.deadline):
		return nil, fmt.Sprintf("attempt %d of incident %s passed its deadline (%s): its tools are closed", e.attempt, incident, e.deadline.Format(time.RFC3339))
	}
	want := bus.ResultSubject(incident, rung)
	o.results.mu.Lock()
	w := o.results.waiters[incident]
	o.results.mu.Unlock()
	if w != nil && w.subject == want {
		return e, ""
	}
	// Nobody waits: the attempt was answered (or is about to be waited
	// for, the instant after its hand-over). The stream says which.
	if r, _, err := o.store.Incident(ctx, incident); err != nil || r.Pending == nil || r.Pending.Attempt != e.attempt || r.Pending.Rung != rung {
		return nil, fmt.Sprintf("attempt %d of incident %s is over: its tools are closed", e.attempt, incident)
	}
	if m, err := o.store.Next(ctx, want, e.resultsAfter.Load()+1); err != nil || m != nil {
		return nil, fmt.Sprintf("attempt %d of incident %s has been answered: its tools are closed", e.attempt, incident)
	}
	return e, ""
}

// toolAttempt answers an earlier attempt of the incident in full, from
// its stored record.
func (o *Orchestrator) toolAttempt(ctx context.Context, e *deskEntry, n int) workspace.Answer {
	bad := func(format string, args ...any) workspace.Answer {
		return workspace.Answer{Verdict: workspace.VerdictBad, Reply: razar.ToolReply{Error: fmt.Sprintf(format, args...)}}
	}
	if n <= 0 || n >= e.attempt {
		return bad("attempt %d: give the number of an earlier attempt, 1 to %d", n, e.attempt-1)
	}
	var sum *razar.Attempt
	for i := range e.earlier {
		if e.earlier[i].Number == n {
			sum = &e.earlier[i]
		}
	}
	if sum == nil {
		return bad("attempt %d was not settled (skipped or cut short): the escalation's history lists those there are", n)
	}
	full := *sum
	if r, ok := o.recalled(e.incident, n); ok {
		full.Summary, full.Error, full.Diff, full.Reason = r.Summary, r.Error, r.Diff, r.Reason
	} else if sum.Seq != 0 {
		r, err := o.store.AuditAt(ctx, sum.Seq)
		if err != nil || r.Incident != e.incident || r.Attempt != n {
			return workspace.Answer{Verdict: workspace.VerdictMissing, Reply: razar.ToolReply{Error: fmt.Sprintf("attempt %d's record cannot be read now; its summary is in the escalation's history", n)}}
		}
		full.Summary, full.Error, full.Diff, full.Reason = r.Summary, r.Error, r.Diff, r.Reason
	}
	bus.ScrubAttempt(&full, o.redact)
	return workspace.Answer{Verdict: workspace.VerdictOK, Path: fmt.Sprintf("attempt %d", n),
		Bytes: len(full.Summary) + len(full.Error) + len(full.Diff) + len(full.Reason), Reply: razar.ToolReply{OK: true, Attempt: &full}}
}

// toolCheck places a candidate diff in a staged copy of the workdir and
// runs the validate command there, with the functions a real patch goes
// through (patch.Check, Stage, Validate), within the attempt's deadline.
// Nothing is promoted.
func (o *Orchestrator) toolCheck(ctx context.Context, e *deskEntry, diff string) workspace.Answer {
	comp, refused := o.checkTarget(e, diff)
	if refused != nil {
		return *refused
	}
	e.check.Lock() // one staged copy per attempt at a time
	defer e.check.Unlock()
	a := workspace.Answer{Verdict: workspace.VerdictOK, Path: "diff", Bytes: len(diff)}
	a.Reply.OK = true
	lim := patch.Limits{Protected: patch.ComponentProtections(comp)}
	if e.view != nil {
		lim.Quote = e.view.Shows // a refusal quotes only what the rung may read
	}
	plan, err := patch.Check(diff, comp.Workdir, lim)
	if err != nil {
		a.Reply.Text = o.redact(reasonOf(err))
		return a
	}
	for _, n := range plan.Placement {
		a.Reply.Placement = append(a.Reply.Placement, o.redact(n))
	}
	stage, cleanup, err := patch.Stage(plan, comp.Workdir, razar.Home(o.cfg.Home).Staging())
	defer cleanup()
	if err != nil {
		a.Reply.Text = o.redact(reasonOf(err))
		return a
	}
	a.Reply.Applied = true
	a.Reply.Text, a.Reply.Validated = o.validateCheck(ctx, comp, stage)
	if e.view != nil { // the component's own secrets, from its env
		a.Reply.Text = e.view.Redact(a.Reply.Text)
	}
	return a
}

// checkTarget is the component a check of diff for e's attempt patches,
// or the refusal that says why diff cannot be checked.
func (o *Orchestrator) checkTarget(e *deskEntry, diff string) (config.Component, *workspace.Answer) {
	refuse := func(verdict, format string, args ...any) (config.Component, *workspace.Answer) {
		a := toolRefusal(verdict, format, args...)
		return config.Component{}, &a
	}
	if strings.TrimSpace(diff) == "" {
		return refuse(workspace.VerdictBad, "no diff: give the unified diff to check")
	}
	if len(diff) > bus.MaxDiffBytes {
		return refuse(workspace.VerdictBad, "the diff is %d bytes, over the %d-byte limit: propose a smaller one", len(diff), bus.MaxDiffBytes)
	}
	boot, err := o.cfg.Components()
	if err != nil {
		return refuse(workspace.VerdictNotServed, "validation is not possible now: the boot config cannot be read")
	}
	comp, err := boot.Component(e.component)
	if err != nil || o.cfg.Home == "" || comp.Workdir == "" {
		return refuse(workspace.VerdictNotServed, "validation is not possible: component %s has no workdir to patch", e.component)
	}
	if len(comp.Validate) == 0 {
		return refuse(workspace.VerdictNotServed, "validation is not possible: component %s has no validate command; answer with the diff and RAZAR places it and runs the health check", e.component)
	}
	return comp, nil
}

// validateCheck runs comp's validate command on stage in the sandbox a
// real patch is validated in (tryPatch), within ctx's deadline, and says
// what came of it for the rung, and whether it passed.
func (o *Orchestrator) validateCheck(ctx context.Context, comp config.Component, stage string) (string, bool) {
	timeout := o.cfg.ValidateTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	sb := o.cfg.Sandbox
	sb.Workdir = comp.Workdir
	res, err := sb.Validate(ctx, comp.Validate, stage, comp.EnvList(), timeout)
	switch {
	case err == nil:
		return "the diff places and the validate command passes", true
	case errors.Is(err, patch.ErrSandboxRefused):
		return "validation is not possible on this host: the sandbox cannot be built; answer with the diff", false
	case errors.Is(err, patch.ErrValidationFailed):
		return o.redact("validation failed: " + err.Error() + "\n" + res.Output), false
	default:
		return o.redact("validation did not finish: " + err.Error()), false
	}
}
