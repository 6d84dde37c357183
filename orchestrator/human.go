package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/jetstream"
)

// A human rung (backend human) is a person on call. Its turn is not handed
// to a rung process: the orchestrator pages (the Alerter: log, bus,
// webhook, Alertmanager) with the incident's history, the patches
// proposed so far and the commands that answer, then waits for one of
// them until the attempt's deadline:
//
//   - ack holds the ladder: the deadline moves to the rung's ack_timeout
//     from now (stored, so a restarted RAZAR keeps it). When that passes
//     too the attempt ends as a timeout, with a warning alert: a paused
//     ladder never waits forever silently.
//   - resolve ends the attempt as fixed by hand: the fix is verified like
//     any other (the health check over the verify window).
//   - pass ends the attempt as passed: the next rung goes.
//
// Only an authenticated operator identity answers; the attempt records it.

// HumanPage is the alertname of a human rung's page.
const HumanPage = "RazarHumanPage"

// HumanAckExpired is the alertname of an acknowledged page that ran out
// of its ack_timeout.
const HumanAckExpired = "RazarHumanAckExpired"

// humanAnswer is one operator's answer to a page, handed from the verb
// handler to the incident's goroutine, which replies on reply.
type humanAnswer struct {
	verb    bus.Verb
	actor   string
	summary string
	reply   chan humanReply
}

type humanReply struct {
	msg string
	err error
}

// humans routes answers to the pages waiting for them: incident -> its page.
type humans struct {
	mu    sync.Mutex
	pages map[string]*page
}

// page is one waiting page: answers go in on ch until done is closed (the
// turn ended: answered, timed out, or RAZAR stopping).
type page struct {
	ch   chan humanAnswer
	done chan struct{}
}

func (h *humans) open(incident string) *page {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pages == nil {
		h.pages = map[string]*page{}
	}
	p := &page{ch: make(chan humanAnswer), done: make(chan struct{})}
	h.pages[incident] = p
	return p
}

func (h *humans) close(incident string, p *page) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pages[incident] == p {
		delete(h.pages, incident)
	}
	close(p.done)
}

func (h *humans) page(incident string) *page {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pages[incident]
}

// passedError ends a human rung's attempt as passed.
type passedError struct{ actor, summary string }

func (e *passedError) Error() string { return "passed by " + e.actor }

// humanEntry returns the roster entry of rung when it is a human rung.
func (o *Orchestrator) humanEntry(rung string) (config.AgentEntry, bool) {
	roster, err := o.cfg.Roster()
	if err != nil {
		return config.AgentEntry{}, false
	}
	e, err := roster.Agent(rung)
	return e, err == nil && e.Human()
}

// humanTurn is the pending attempt of a human rung: page, wait for an
// answer or the deadline, and settle the attempt as conclude does any
// rung's answer.
func (o *Orchestrator) humanTurn(ctx context.Context, rec *bus.IncidentRecord, rev uint64, e config.AgentEntry) error {
	pg := o.humans.open(rec.ID)
	defer o.humans.close(rec.ID, pg)
	o.cfg.Alerts.RaiseNamed(ctx, HumanPage, bus.SeverityCritical, rec.Component, rec.ID, o.pageText(ctx, rec, e))
	defer o.cfg.Alerts.Resolve(context.WithoutCancel(ctx), rec.Component, rec.ID, HumanPage)
	p := rec.Pending
	for {
		wait := time.Until(p.Deadline)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-o.cfg.Clock.After(max(wait, 0)):
			err := fmt.Errorf("no operator answered the page before the attempt's deadline (%s)", p.Deadline.Format(time.RFC3339))
			if p.AckedBy != "" {
				err = fmt.Errorf("acknowledged by %s at %s, but neither resolved nor passed within ack_timeout %s",
					p.AckedBy, p.Acked.Format(time.RFC3339), e.AckWindow())
				o.cfg.Alerts.RaiseNamed(ctx, HumanAckExpired, bus.SeverityWarning, rec.Component, rec.ID,
					fmt.Sprintf("%s: the page of incident %s was %s; the ladder moves on", rec.Component, rec.ID, err))
			}
			return o.conclude(ctx, rec, rev, nil, err, false, "")
		case a := <-pg.ch:
			switch a.verb {
			case bus.VerbAck:
				now := time.Now().UTC()
				p.AckedBy, p.Acked, p.Deadline = a.actor, now, now.Add(e.AckWindow())
				nrev, err := o.store.UpdateIncident(ctx, rec, rev)
				if err != nil {
					a.reply <- humanReply{err: fmt.Errorf("could not record the ack: %w", err)}
					if errors.Is(err, jetstream.ErrConflict) {
						return err // someone else moved the incident: read it again
					}
					continue
				}
				rev = nrev
				o.log.Warn().Str("incident", rec.ID).Str("component", rec.Component).Str("agent", p.Rung).Str("actor", a.actor).
					Time("until", p.Deadline).Msg("page acknowledged: the ladder waits for resolve or pass")
				a.reply <- humanReply{msg: fmt.Sprintf("acknowledged by %s: the ladder waits for `razar resolve` or `razar pass` until %s (ack_timeout %s)",
					a.actor, p.Deadline.Format(time.RFC3339), e.AckWindow())}
			case bus.VerbResolve:
				summary := "fixed by hand by " + a.actor
				if a.summary != "" {
					summary += ": " + a.summary
				}
				a.reply <- humanReply{msg: "resolved by " + a.actor + ": verifying the fix (health check), then the incident heals or the ladder moves on"}
				res := &bus.Result{Incident: rec.ID, Attempt: p.Attempt, Rung: p.Rung, Status: razar.StatusFixed, Summary: summary}
				res.Scrub(o.redact)
				return o.conclude(ctx, rec, rev, res, nil, false, a.actor)
			case bus.VerbPass:
				a.reply <- humanReply{msg: "passed by " + a.actor + ": the next rung takes the incident"}
				return o.conclude(ctx, rec, rev, nil, &passedError{actor: a.actor, summary: a.summary}, false, a.actor)
			}
		}
	}
}

// Answer hands an operator's ack, resolve or pass to the page of the human
// rung holding component's pending attempt, and returns the incident and
// what happened. Errors: razar.ErrNotFound when no incident of component
// is open here, a plain error when its attempt is not a human rung's.
func (o *Orchestrator) Answer(ctx context.Context, component string, verb bus.Verb, actor, summary string) (string, string, error) {
	id, rung := o.OpenIncident(component)
	if id == "" {
		return "", "", fmt.Errorf("no open incident for %s: %w", component, razar.ErrNotFound)
	}
	pg := o.humans.page(id)
	if pg == nil {
		who := "no rung yet"
		if rung != "" {
			who = o.cfg.Display(rung)
		}
		return id, "", fmt.Errorf("incident %s of %s waits for no person: its attempt is held by %s (only a human rung's page takes ack, resolve and pass)", id, component, who)
	}
	reply := make(chan humanReply, 1)
	select {
	case pg.ch <- humanAnswer{verb: verb, actor: actor, summary: summary, reply: reply}:
	case <-pg.done:
		return id, "", fmt.Errorf("the page of incident %s ended before the %s arrived (answered, timed out or aborted): see `razar status %s`", id, verb, component)
	case <-ctx.Done():
		return id, "", ctx.Err()
	}
	select {
	case r := <-reply:
		return id, r.msg, r.err
	case <-ctx.Done():
		return id, "", ctx.Err()
	}
}

// answerVerb is the lifecycle handler of ack, resolve and pass: an
// authenticated operator only, as for approvals.
func (o *Orchestrator) answerVerb(verb bus.Verb) bus.VerbHandler {
	return func(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if component == bus.AllComponents {
			return nil, bus.ErrAllComponents
		}
		if req.Who == nil || req.Who.Role != auth.Operator {
			return nil, fmt.Errorf("%w: a page is answered by an operator identity (razar --creds state/identities/operator.creds, or `razar identity add <name> --role operator`)", bus.ErrForbidden)
		}
		id, msg, err := o.Answer(ctx, component, verb, req.Who.Name, req.Summary)
		if err != nil {
			return &bus.LifecycleReply{Incident: id}, err
		}
		return &bus.LifecycleReply{Incident: id, Message: msg}, nil
	}
}

// pageText is what a human rung's page says: the incident, its history
// with the patches proposed, and the commands that answer it.
func (o *Orchestrator) pageText(ctx context.Context, rec *bus.IncidentRecord, e config.AgentEntry) string {
	p := rec.Pending
	c := rec.Component
	var b strings.Builder
	fmt.Fprintf(&b, "%s: incident %s needs a person: %s holds attempt %d until %s.\n", c, rec.ID, e.DisplayName(), p.Attempt, p.Deadline.Format(time.RFC3339))
	fmt.Fprintf(&b, "Failure: %s\n", cut.FirstLine(rec.Error))
	hist := o.history(ctx, rec)
	if len(hist) == 0 {
		b.WriteString("History: no attempt before this one.\n")
	} else {
		b.WriteString("History:\n")
	}
	for _, a := range hist {
		fmt.Fprintf(&b, "  %d. %s: %s", a.Number, o.cfg.Display(a.Rung), a.Outcome)
		for _, s := range []string{a.Summary, a.Error, a.Reason} {
			if s != "" {
				fmt.Fprintf(&b, "; %s", cut.FirstLine(s))
			}
		}
		b.WriteString("\n")
		if a.Diff != "" {
			fmt.Fprintf(&b, "     proposed patch:\n%s\n", bus.Clip(a.Diff, 2<<10))
		}
	}
	fmt.Fprintf(&b, "Answer as an operator identity:\n"+
		"  razar ack %[1]s                     hold the ladder (up to %[2]s)\n"+
		"  razar resolve %[1]s --summary TEXT  fixed by hand: RAZAR verifies it\n"+
		"  razar pass %[1]s                    hand on to the next rung\n"+
		"  or: nats req %[3]s '{\"v\":1,\"summary\":\"...\"}' --creds state/identities/operator.creds (verbs ack, resolve, pass)\n"+
		"Without an answer by the deadline the ladder moves on.",
		c, e.AckWindow(), bus.LifecycleSubject(bus.VerbResolve, c))
	return bus.Clip(b.String(), 16<<10)
}
