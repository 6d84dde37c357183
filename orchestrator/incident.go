package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/clock"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/jetstream"
)

// runIncident drives one incident until it ends or ctx is cancelled. Every
// transition is stored with compare-and-set before it is acted on; records
// go to the audit stream after the store, with message ids that make a
// re-send after a crash harmless.
func (o *Orchestrator) runIncident(ctx context.Context, id string, resumed bool) {
	log := o.log.With().Str("incident", id).Logger()
	var sent sentEscalation
	// The record advance just stored, so the hand-over does not read it
	// back from the bucket.
	var next *bus.IncidentRecord
	var nextRev uint64
	defer o.forget(id)
	for ctx.Err() == nil {
		rec, rev, err := next, nextRev, error(nil)
		next = nil
		if rec == nil {
			rec, rev, err = o.store.Incident(ctx, id)
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Error().Err(err).Msg("cannot load incident; retrying")
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		if rec.State.Final() {
			return
		}
		if rec.Pending != nil {
			o.attend(ctx, log, rec, rev, &sent, resumed)
			resumed = false
			continue
		}
		// No rung holds the incident between attempts.
		o.setRung(rec.ID, "")
		resumed = false
		next, nextRev, err = o.advance(ctx, rec, rev)
		o.retryLater(ctx, log, err, "cannot advance incident; retrying")
	}
}

// sentEscalation is the pending attempt's escalation and where it was
// stored: only an answer stored after it counts.
type sentEscalation struct {
	attempt int
	esc     jetstream.Handed
	err     error // why the escalation could not be stored
}

// attend takes rec's pending attempt one step: a remembered fix is
// settled (fixes.go), a person's turn paged and answered here, not on the
// bus, and a rung's attempt handed over, once, and its answer settled.
// resumed says the attempt was pending when RAZAR started.
func (o *Orchestrator) attend(ctx context.Context, log zerolog.Logger, rec *bus.IncidentRecord, rev uint64, sent *sentEscalation, resumed bool) {
	o.setRung(rec.ID, rec.Pending.Rung)
	if rec.Pending.Rung == MemoryRung {
		o.retryLater(ctx, log, o.settleMemory(ctx, rec, rev), "cannot record attempt; retrying")
		return
	}
	if e, ok := o.humanEntry(rec.Pending.Rung); ok {
		*sent = sentEscalation{attempt: rec.Pending.Attempt}
		o.retryLater(ctx, log, o.humanTurn(ctx, rec, rev, e), "cannot record attempt; retrying")
		return
	}
	if resumed || sent.attempt != rec.Pending.Attempt {
		// Hand the attempt over. After a crash the escalation may not
		// have reached the stream: its message id makes sending it
		// again harmless, and the stream answers with the sequence of
		// the one stored first.
		sent.attempt = rec.Pending.Attempt
		sent.esc, sent.err = o.sendEscalation(ctx, rec)
	}
	o.retryLater(ctx, log, o.settle(ctx, rec, rev, sent.esc, sent.err), "cannot record attempt; retrying")
}

// retryLater logs err as msg and pauses a second before the incident loop
// tries again; not when err is nil, ctx ended, or err is a lost
// compare-and-set (the loop reads the record again at once).
func (o *Orchestrator) retryLater(ctx context.Context, log zerolog.Logger, err error, msg string) {
	if err != nil && ctx.Err() == nil && !errors.Is(err, jetstream.ErrConflict) {
		log.Error().Err(err).Msg(msg)
		sleepCtx(ctx, time.Second)
	}
}

// advance asks the ladder for the next step and takes it. For an attempt
// it returns the record it stored and its revision, for the hand-over.
func (o *Orchestrator) advance(ctx context.Context, rec *bus.IncidentRecord, rev uint64) (*bus.IncidentRecord, uint64, error) {
	// Before any rung is asked: a remembered fix for a known failure.
	if next, nrev, handled, err := o.fromMemory(ctx, rec, rev); handled {
		return next, nrev, err
	}
	if reason := tokensSpent(rec); reason != "" {
		return nil, 0, o.finishRec(ctx, rec, rev, razar.IncidentFailed, reason)
	}
	step, cur := Next(rec.Policy, rec.Cursor, func(rung string) error { return o.ready(ctx, rung) }, o.cfg.Backoff)
	switch step.Kind {
	case StepFail:
		return nil, 0, o.finishRec(ctx, rec, rev, razar.IncidentFailed, step.Reason)
	case StepSkip:
		return nil, 0, o.skipRung(ctx, rec, rev, step, cur)
	case StepWait:
		return nil, 0, o.waitForRungs(ctx, rec, rev, step, cur)
	}
	// StepAttempt.
	if ok, err := o.backOff(ctx, rec, step); !ok {
		return nil, 0, err
	}
	return o.startAttempt(ctx, rec, rev, step, cur)
}

// skipRung stores the cursor past a rung that cannot run, and records the
// skip.
func (o *Orchestrator) skipRung(ctx context.Context, rec *bus.IncidentRecord, rev uint64, step Step, cur bus.Cursor) error {
	rec.Cursor = cur
	rec.AddSkip(bus.Skip{Rung: step.Rung, Pass: step.Pass, Reason: step.Reason, Time: time.Now().UTC()})
	if _, err := o.store.UpdateIncident(ctx, rec, rev); err != nil {
		return err
	}
	n := rec.Skipped
	o.audit(ctx, &bus.AuditRecord{
		Event: bus.EventSkipped, Component: rec.Component, Incident: rec.ID,
		Agent: step.Rung, AgentDisplay: o.cfg.Display(step.Rung), Pass: step.Pass,
		Status: "skipped", Error: step.Reason, Failed: rec.Cursor.Failed,
	}, bus.AuditMsgID(bus.EventSkipped, rec.ID, n))
	o.log.Warn().Str("incident", rec.ID).Str("component", rec.Component).Str("agent", step.Rung).Str("reason", step.Reason).Msg("rung skipped: it cannot run")
	if o.cfg.Metrics != nil {
		o.cfg.Metrics.Skipped.WithLabelValues(rec.Component, step.Rung).Inc()
	}
	return nil
}

// waitForRungs is --long-task when no rung could run: it stores the
// cursor, then pauses before the ladder looks at the rungs again.
func (o *Orchestrator) waitForRungs(ctx context.Context, rec *bus.IncidentRecord, rev uint64, step Step, cur bus.Cursor) error {
	rec.Cursor = cur
	if _, err := o.store.UpdateIncident(ctx, rec, rev); err != nil {
		return err
	}
	o.log.Warn().Str("incident", rec.ID).Str("component", rec.Component).Stringer("wait", step.Backoff).Str("reason", step.Reason).Msg("long task: no rung can run")
	o.setNext(rec.ID, o.cfg.Clock.Now().Add(step.Backoff))
	defer o.setNext(rec.ID, time.Time{})
	if !clock.Sleep(ctx, o.cfg.Clock, step.Backoff) {
		return ctx.Err()
	}
	return nil
}

// backOff waits out the backoff --long-task puts before an attempt. It
// says whether the attempt may start: not when ctx ended (its error), the
// incident could not be read (that error) or an operator ended it while
// we waited (no error: the loop takes it from the top).
func (o *Orchestrator) backOff(ctx context.Context, rec *bus.IncidentRecord, step Step) (bool, error) {
	if step.Backoff <= 0 {
		return true, nil
	}
	o.log.Info().Str("incident", rec.ID).Stringer("backoff", step.Backoff).Str("agent", step.Rung).Msg("long task: waiting before the next attempt")
	o.setNext(rec.ID, o.cfg.Clock.Now().Add(step.Backoff))
	slept := clock.Sleep(ctx, o.cfg.Clock, step.Backoff)
	o.setNext(rec.ID, time.Time{})
	if !slept {
		return false, ctx.Err()
	}
	// An operator may have aborted while we waited: take it from the top.
	if cur, _, err := o.store.Incident(ctx, rec.ID); err != nil || cur.State.Final() {
		return false, err
	}
	return true, nil
}

// attemptTimeout is rung's attempt timeout from the roster, or the
// default when the roster or the rung cannot be read.
func (o *Orchestrator) attemptTimeout(rung string) time.Duration {
	if roster, err := o.cfg.Roster(); err == nil {
		if e, err := roster.Agent(rung); err == nil {
			return e.AttemptTimeout()
		}
	}
	return config.DefaultAgentTimeout
}

// startAttempt stores the pending attempt step asks for, and records the
// hand-over when it goes to another rung than the last; runIncident then
// hands the attempt over.
func (o *Orchestrator) startAttempt(ctx context.Context, rec *bus.IncidentRecord, rev uint64, step Step, cur bus.Cursor) (*bus.IncidentRecord, uint64, error) {
	timeout := o.attemptTimeout(step.Rung)
	now := time.Now().UTC()
	from := rec.LastRung
	handOver := from != step.Rung
	number := rec.NextAttempt()
	rec.Cursor = cur
	rec.Pending = &bus.Pending{Attempt: number, Rung: step.Rung, Pass: step.Pass, Started: now, Deadline: now.Add(timeout)}
	rec.LastRung = step.Rung
	if handOver {
		rec.Escalations++
	}
	nrev, err := o.store.UpdateIncident(ctx, rec, rev)
	if err != nil {
		return nil, 0, err
	}
	o.setRung(rec.ID, step.Rung)
	if handOver {
		o.handedOver(ctx, rec, from, step, number)
	}
	if number > 1 && o.cfg.Metrics != nil {
		o.cfg.Metrics.Retries.WithLabelValues(rec.Component, step.Rung).Inc()
	}
	return rec, nrev, nil
}

// handedOver records an escalation from rung from (empty: RAZAR itself)
// to step's rung, and warns when the cycle's escalations reach the
// policy's threshold.
func (o *Orchestrator) handedOver(ctx context.Context, rec *bus.IncidentRecord, from string, step Step, number int) {
	if from == "" {
		from = "razar"
	}
	o.audit(ctx, &bus.AuditRecord{
		Event: bus.EventEscalation, Component: rec.Component, Incident: rec.ID,
		Agent: step.Rung, AgentDisplay: o.cfg.Display(step.Rung), Attempt: number, Pass: step.Pass,
		Status: "escalated", From: from, To: step.Rung, Escalations: rec.Escalations, Failed: rec.Cursor.Failed,
	}, bus.AuditMsgID(bus.EventEscalation, rec.ID, rec.Escalations))
	o.log.Warn().Str("incident", rec.ID).Str("component", rec.Component).Str("from", from).Str("to", step.Rung).Int("escalations", rec.Escalations).Msg("escalation")
	if o.cfg.Metrics != nil {
		o.cfg.Metrics.Escalations.WithLabelValues(rec.Component).Inc()
		o.cfg.Metrics.HandOvers.WithLabelValues(from, step.Rung).Inc()
	}
	if w := rec.Policy.WarnThreshold; w > 0 {
		if n := o.cycleEscalations(rec); n >= w {
			o.cfg.Alerts.RaiseNamed(ctx, "", bus.SeverityWarning, rec.Component, rec.ID,
				fmt.Sprintf("%s: escalation %d of this cycle (RAZAR_ESCALATION_WARNING_THRESHOLD=%d) hands incident %s to %s after %d failed attempts",
					rec.Component, n, w, rec.ID, o.cfg.Display(step.Rung), rec.Cursor.Failed))
		}
	}
}

// cycleEscalations counts the escalations of rec's boot or repair cycle,
// this hand-over included: an incident opened by hand is a cycle of its
// own; incidents of one boot cycle count together. The count is kept in
// memory (countCycles rebuilds it at start), so a hand-over never lists
// the stored incidents.
func (o *Orchestrator) cycleEscalations(rec *bus.IncidentRecord) int {
	if rec.Cycle == "" {
		return rec.Escalations
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cycles[rec.Cycle]++
	return o.cycles[rec.Cycle]
}

// countCycles sums the escalations of every stored incident per boot
// cycle, once, when Run starts.
func (o *Orchestrator) countCycles(recs []*bus.IncidentRecord) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range recs {
		if r.Cycle != "" {
			o.cycles[r.Cycle] += r.Escalations
		}
	}
}

// sendEscalation publishes the pending attempt with the incident's whole
// history, bounded in size, and returns where it was stored, or why it
// could not be (the attempt then fails with that reason).
func (o *Orchestrator) sendEscalation(ctx context.Context, rec *bus.IncidentRecord) (jetstream.Handed, error) {
	p := rec.Pending
	esc := &bus.Escalation{
		Incident: rec.ID, Component: rec.Component, Error: rec.Error,
		Attempt: p.Attempt, Rung: p.Rung, Pass: p.Pass, Deadline: p.Deadline,
		Workdir: rec.Workdir, Context: o.history(ctx, rec),
	}
	// The workspace: what the rung is shown of the component (tools.go).
	ws, view, viewErr := o.workspaceFor(rec)
	esc.Workspace = ws
	esc.Shortened = Shortened(esc.Context)
	fitEscalation(esc)
	// The tools open before the hand-over: a rung may call them the
	// instant it has the escalation. No answer counts from before it.
	after, err := o.store.ResultsLastSeq(ctx)
	if err != nil {
		if view != nil {
			view.Close()
		}
		o.log.Error().Err(err).Str("incident", rec.ID).Str("agent", p.Rung).Msg("could not hand the attempt to the rung")
		return jetstream.Handed{}, err
	}
	tools := o.openTools(rec, view, viewErr, after)
	h, err := o.store.Escalate(ctx, bus.EscalateSubject(p.Rung), bus.EscalationMsgID(rec.ID, p.Attempt), esc, after)
	if err != nil && ctx.Err() == nil {
		// The attempt will time out and the ladder moves on; say why.
		o.log.Error().Err(err).Str("incident", rec.ID).Str("agent", p.Rung).Msg("could not hand the attempt to the rung")
	}
	if err != nil {
		o.closeTools(tools)
		return h, err
	}
	tools.resultsAfter.Store(h.ResultsAfter)
	if ws != nil {
		o.auditShown(ctx, rec, ws)
	}
	return h, err
}

// settle waits for the pending attempt's answer or deadline, judges it, and
// stores the finished attempt.
func (o *Orchestrator) settle(ctx context.Context, rec *bus.IncidentRecord, rev uint64, esc jetstream.Handed, sendErr error) error {
	p := rec.Pending
	var res *bus.Result
	var err error
	escSeq := esc.Seq
	if escSeq == 0 && sendErr != nil {
		// Nothing was handed over: fail the attempt now, with the reason,
		// rather than wait out its deadline.
		err = fmt.Errorf("the attempt could not be handed to %s: %w", p.Rung, sendErr)
	} else {
		res, err = o.waitResult(ctx, rec.ID, p.Attempt, p.Rung, remaining(p, time.Now()), esc)
	}
	return o.conclude(ctx, rec, rev, res, err, escSeq == 0 && sendErr != nil, "")
}

// remaining is how long the pending attempt p still has at now: its
// deadline less now, never more than its whole time (deadline less
// start). The instants are the wall clock of the RAZAR that stored them:
// while it runs, the wait is timed on the monotonic clock; across a
// restart after the wall clock stepped back, the deadline would lie as far
// in the future as the step (an hour's step: an incident open for an hour),
// so the attempt gets at most its own time again; after a step forward it
// times out early rather than late.
func remaining(p *bus.Pending, now time.Time) time.Duration {
	whole := p.Deadline.Sub(p.Started)
	return max(0, min(p.Deadline.Sub(now), whole))
}

// conclude judges the pending attempt's answer (res), or why there is none
// (err; notSent: the attempt never reached the rung), and stores the
// finished attempt. actor is the operator who answered a human rung.
func (o *Orchestrator) conclude(ctx context.Context, rec *bus.IncidentRecord, rev uint64, res *bus.Result, err error, notSent bool, actor string) error {
	p := rec.Pending
	if ctx.Err() != nil {
		return ctx.Err()
	}
	a := razar.Attempt{Number: p.Attempt, Rung: p.Rung, Pass: p.Pass, Started: p.Started, Finished: time.Now().UTC(), Actor: actor}
	learned, err := o.judge(ctx, rec, &a, res, err, notSent)
	if err != nil {
		return err
	}
	bus.ScrubAttempt(&a, o.redact)
	var usage razar.Usage
	if res != nil && res.Usage != nil {
		usage = *res.Usage
	}
	rec.Tokens = rec.Tokens.Add(usage)
	rec.Cursor = Record(rec.Cursor, a.Failed())
	// The attempt's record, with its full texts, goes to the stream first;
	// the stored incident keeps a summary pointing at it. A crash between
	// the two re-sends the record, which its message id makes harmless.
	seq := o.recordAttempt(ctx, rec, a, usage)
	o.remember(rec.ID, a)
	line := bus.SummarizeAttempt(a, seq)
	o.keepLine(rec.ID, line)
	rec.AddAttempt(line)
	rec.Pending = nil
	if a.Outcome == razar.OutcomeHealed {
		rec.State, rec.Reason = razar.IncidentHealed, o.healedBy(a)
	}
	if _, err := o.store.UpdateIncident(ctx, rec, rev); err != nil {
		return err
	}
	if learned != "" && rec.State == razar.IncidentHealed {
		o.learn(ctx, rec, a, learned)
	}
	if rec.State.Final() {
		o.recordEnd(ctx, rec)
	}
	return nil
}

// judge fills a's outcome from the pending attempt's answer res, or from
// err, why there is none (notSent: the attempt never reached the rung). A
// fix is applied and checked here. It returns the patch that healed and
// held, unredacted, for the fix memory, and ctx's error if it ended while
// the fix was checked.
func (o *Orchestrator) judge(ctx context.Context, rec *bus.IncidentRecord, a *razar.Attempt, res *bus.Result, err error, notSent bool) (string, error) {
	var passed *passedError
	switch {
	case err != nil && notSent:
		a.Outcome = razar.OutcomeError
		a.Error = err.Error()
	case errors.As(err, &passed):
		a.Outcome, a.Summary = razar.OutcomePassed, err.Error()
		if passed.summary != "" {
			a.Summary += ": " + passed.summary
		}
	case err != nil:
		a.Outcome = razar.OutcomeTimeout
		a.Error = err.Error()
	case res.Status == razar.StatusNoFix:
		a.Outcome, a.Summary, a.Diff = razar.OutcomeNoFix, res.Summary, res.Diff
	case res.Status == razar.StatusError:
		a.Outcome, a.Summary, a.Error = razar.OutcomeError, res.Summary, res.Error
		if a.Error == "" {
			a.Error = res.Summary
		}
		if a.Error == "" {
			a.Error = "rung reported an error without a message"
		}
	default: // fixed: does it hold?
		a.Summary, a.Diff = res.Summary, res.Diff
		if a.Diff == "" && len(res.Candidates) > 0 {
			a.Diff = res.Candidates[0].Diff
		}
		var held string
		a.Outcome, a.Reason, held = o.applyFix(ctx, rec, *a, res, o.boundsFor(rec.Pending))
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if held != "" {
			a.Diff = held // the history shows the patch that held
			return held, nil
		}
	}
	return "", nil
}

// healedBy is the reason of an incident attempt a healed.
func (o *Orchestrator) healedBy(a razar.Attempt) string {
	if a.Actor != "" {
		return fmt.Sprintf("%s (%s) fixed it by hand on attempt %d", a.Actor, o.cfg.Display(a.Rung), a.Number)
	}
	return fmt.Sprintf("%s fixed it on attempt %d", o.cfg.Display(a.Rung), a.Number)
}

// recordAttempt publishes the attempt's audit record, with the tokens its
// model spent (usage), and returns its stream sequence (0 when it could
// not be published).
func (o *Orchestrator) recordAttempt(ctx context.Context, rec *bus.IncidentRecord, a razar.Attempt, usage razar.Usage) uint64 {
	status := string(a.Outcome)
	var spent *razar.Usage
	if usage != (razar.Usage{}) {
		spent = &usage
	}
	seq := o.auditSeq(ctx, &bus.AuditRecord{
		Event: bus.EventAttempt, Component: rec.Component, Incident: rec.ID,
		Agent: a.Rung, AgentDisplay: o.cfg.Display(a.Rung), Attempt: a.Number, Pass: a.Pass,
		Status: status, Outcome: string(a.Outcome), Error: a.Error, Summary: a.Summary, Diff: a.Diff, Reason: a.Reason,
		Failed: rec.Cursor.Failed, Actor: a.Actor, Usage: spent,
	}, bus.AuditMsgID(bus.EventAttempt, rec.ID, a.Number))
	ev := o.log.Info()
	if a.Failed() {
		ev = o.log.Warn()
	}
	ev.Str("incident", rec.ID).Str("component", rec.Component).Str("agent", a.Rung).Int("attempt", a.Number).
		Str("outcome", string(a.Outcome)).Str("error", cut.FirstLine(a.Error)).Str("reason", a.Reason).Msg("attempt finished")
	if o.cfg.Metrics != nil {
		o.cfg.Metrics.AttemptDuration.WithLabelValues(a.Rung).Observe(a.Finished.Sub(a.Started).Seconds())
		if a.Failed() {
			o.cfg.Metrics.Failure.WithLabelValues(rec.Component, a.Rung).Inc()
		} else {
			o.cfg.Metrics.Success.WithLabelValues(rec.Component, a.Rung).Inc()
		}
		o.cfg.Metrics.Tokens.WithLabelValues(a.Rung, rec.Component, "prompt").Add(float64(usage.Prompt))
		o.cfg.Metrics.Tokens.WithLabelValues(a.Rung, rec.Component, "completion").Add(float64(usage.Completion))
	}
	return seq
}

// tokensSpent is why the incident's ladder ends for its token budget, ""
// while the budget (RAZAR_TOKEN_BUDGET, kept in its policy) allows another
// attempt.
func tokensSpent(rec *bus.IncidentRecord) string {
	budget := rec.Policy.TokenBudget
	spent := rec.Tokens.Prompt + rec.Tokens.Completion
	if budget <= 0 || spent < budget {
		return ""
	}
	return fmt.Sprintf("token budget reached: the rungs' models spent %d tokens (%d prompt, %d completion) of RAZAR_TOKEN_BUDGET=%d; no rung is asked again",
		spent, rec.Tokens.Prompt, rec.Tokens.Completion, budget)
}

// finish moves an open incident to a final state, retrying lost races.
func (o *Orchestrator) finish(ctx context.Context, id string, state razar.IncidentState, reason string) error {
	for {
		rec, rev, err := o.store.Incident(ctx, id)
		if err != nil {
			return err
		}
		if rec.State.Final() {
			return nil
		}
		err = o.finishRec(ctx, rec, rev, state, reason)
		if !errors.Is(err, jetstream.ErrConflict) {
			return err
		}
	}
}

func (o *Orchestrator) finishRec(ctx context.Context, rec *bus.IncidentRecord, rev uint64, state razar.IncidentState, reason string) error {
	rec.State, rec.Reason = state, reason
	var cut *razar.Attempt
	if p := rec.Pending; p != nil && state == razar.IncidentAborted {
		cut = &razar.Attempt{Number: p.Attempt, Rung: p.Rung, Pass: p.Pass,
			Outcome: razar.OutcomeAborted, Error: reason, Started: p.Started, Finished: time.Now().UTC()}
		rec.Attempts = append(rec.Attempts, *cut)
		rec.Pending = nil
	}
	if _, err := o.store.UpdateIncident(ctx, rec, rev); err != nil {
		return err
	}
	if cut != nil { // the attempt an abort cut short has its record too
		o.recordAttempt(ctx, rec, *cut, razar.Usage{})
	}
	o.recordEnd(ctx, rec)
	return nil
}

// recordEnd writes the incident's final record and alert.
func (o *Orchestrator) recordEnd(ctx context.Context, rec *bus.IncidentRecord) {
	ev := bus.EventHealed
	switch rec.State {
	case razar.IncidentFailed:
		ev = bus.EventFailed
	case razar.IncidentAborted:
		ev = bus.EventAborted
	}
	if rec.State != razar.IncidentFailed {
		// Healed or aborted: what the incident's alerts were about is over.
		// A failure keeps its page until the quarantine is released.
		o.cfg.Alerts.Resolve(ctx, rec.Component, rec.ID)
	}
	r := &bus.AuditRecord{Event: ev, Component: rec.Component, Incident: rec.ID, Status: string(rec.State),
		Reason: rec.Reason, Escalations: rec.Escalations, Failed: rec.Cursor.Failed}
	if n := len(rec.Attempts); n > 0 {
		last := rec.Attempts[n-1]
		r.Agent, r.AgentDisplay, r.Attempt, r.Summary = last.Rung, o.cfg.Display(last.Rung), last.Number, last.Summary
	}
	// A reopened incident ends once more: each end has its own id.
	o.audit(ctx, r, bus.AuditMsgID(ev, rec.ID, rec.Reopened))
	l := o.log.Info()
	if rec.State != razar.IncidentHealed {
		l = o.log.Error()
	}
	l.Str("incident", rec.ID).Str("component", rec.Component).Str("state", string(rec.State)).Str("reason", rec.Reason).
		Int("attempts", len(rec.Attempts)).Int("escalations", rec.Escalations).Msg("incident ended")
	if o.cfg.Metrics != nil {
		o.cfg.Metrics.Incidents.WithLabelValues(rec.Component, string(rec.State)).Inc()
	}
	if rec.State == razar.IncidentFailed {
		o.cfg.Alerts.RaiseNamed(ctx, "", bus.SeverityCritical, rec.Component, rec.ID,
			fmt.Sprintf("%s: incident %s failed: %s", rec.Component, rec.ID, rec.Reason))
	}
}

// ready reports whether a rung can run, from the status its processes keep
// in RAZAR_STATE. A rung no process has reported on is assumed able to run:
// if nothing answers, its attempt times out.
func (o *Orchestrator) ready(ctx context.Context, rung string) error {
	if roster, err := o.cfg.Roster(); err == nil {
		if e, err := roster.Agent(rung); err == nil {
			if e.Schedule != nil && !e.Schedule.Active(o.cfg.Clock.Now()) {
				return fmt.Errorf("outside its schedule (%s)", e.Schedule)
			}
			if e.Human() {
				return nil // a person: no process reports on it
			}
		}
	}
	st, err := o.store.AgentStatus(ctx, rung)
	if err != nil {
		return nil
	}
	if !st.Ready {
		return errors.New(st.Reason)
	}
	return nil
}

func (o *Orchestrator) verify(ctx context.Context, component string) error {
	boot, err := o.cfg.Components()
	if err != nil {
		return err
	}
	c, err := boot.Component(component)
	if err != nil {
		return err
	}
	return o.cfg.Verify(ctx, c)
}

// audit publishes a record to the audit stream. A record that cannot be
// published is logged with its content, never dropped silently.
func (o *Orchestrator) audit(ctx context.Context, rec *bus.AuditRecord, msgID string) {
	o.auditSeq(ctx, rec, msgID)
}

// auditSeq is audit, returning the record's stream sequence (0 when it
// could not be published).
func (o *Orchestrator) auditSeq(ctx context.Context, rec *bus.AuditRecord, msgID string) uint64 {
	rec.Scrub(o.redact)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	seq, err := o.store.AuditSeq(pctx, rec, msgID)
	if err != nil {
		o.log.Error().Err(err).Str("event", string(rec.Event)).Str("incident", rec.Incident).Str("component", rec.Component).Msg("could not publish audit record")
	}
	return seq
}

// Line limits of BoundContext: a shortened attempt's texts are clipped
// to lineText bytes, then harder; its reason keeps at least lineReason.
const (
	lineText   = 256
	lineReason = 64
)

// BoundContext copies the history and cuts it until its encoded size is
// under max, losing no attempt while one line each fits: first the older
// attempts sent in full become one line each (oldest first; Shortened set:
// number, rung, outcome, reason clipped, the diff's size and hash), then
// those lines' texts are clipped harder, then the newest attempt's own
// texts, each cut with a visible marker. Only when even the shortest lines
// do not fit are the oldest left out, the newest kept (the first number
// listed says where the list starts).
func BoundContext(history []razar.Attempt, max int) []razar.Attempt {
	out := make([]razar.Attempt, len(history))
	copy(out, history)
	// The cost is the attempt's encoded size, escapes and all: a diff of
	// quotes and control characters grows by up to six times in JSON.
	cost := func(a *razar.Attempt) int {
		b, err := json.Marshal(a)
		if err != nil {
			return len(a.Diff) + len(a.Summary) + len(a.Error) + len(a.Reason) + 256
		}
		return len(b) + 1
	}
	total := 2 // the array's brackets
	for i := range out {
		total += cost(&out[i])
	}
	cut := func(i int, f func(*razar.Attempt)) {
		before := cost(&out[i])
		f(&out[i])
		total += cost(&out[i]) - before
	}
	// The older attempts in full become lines, oldest first.
	for i := 0; i < len(out)-1 && total > max; i++ {
		if !out[i].Shortened {
			cut(i, func(a *razar.Attempt) { shorten(a, lineText, lineText) })
		}
	}
	// The lines' texts, harder.
	for _, l := range []struct{ text, reason int }{{64, 128}, {0, lineReason}} {
		for i := 0; i < len(out)-1 && total > max; i++ {
			cut(i, func(a *razar.Attempt) { shorten(a, l.text, l.reason) })
		}
	}
	// The newest attempt's own texts: a diff alone may be 256 KiB.
	if n := len(out) - 1; n >= 0 {
		for _, limit := range []int{64 << 10, 16 << 10, 4 << 10, 1 << 10, lineText} {
			if total <= max {
				break
			}
			cut(n, func(a *razar.Attempt) {
				for _, f := range []*string{&a.Diff, &a.Summary, &a.Error, &a.Reason} {
					if c := bus.Clip(*f, limit); c != *f {
						*f, a.Shortened = c, true
					}
				}
			})
		}
	}
	// Still too big: even one line each does not fit. Keep the newest.
	for len(out) > 1 && total > max {
		total -= cost(&out[0])
		out = out[1:]
	}
	return out
}

// shorten makes a one line: no diff text (its size and hash stay), the
// summary and error clipped to text bytes, the reason to reason bytes.
// An attempt that loses anything is marked Shortened.
func shorten(a *razar.Attempt, text, reason int) {
	if a.Diff != "" {
		if a.DiffSHA256 == "" {
			s := bus.SummarizeAttempt(razar.Attempt{Diff: a.Diff}, 0)
			a.DiffBytes, a.DiffSHA256 = s.DiffBytes, s.DiffSHA256
		}
		a.Diff, a.Shortened = "", true
	}
	for _, f := range []struct {
		s   *string
		max int
	}{{&a.Summary, text}, {&a.Error, text}, {&a.Reason, reason}} {
		if c := bus.Clip(*f.s, f.max); c != *f.s {
			*f.s, a.Shortened = c, true
		}
	}
}

// Shortened counts the attempts of an escalation's history sent as one
// line, for bus.Escalation.Shortened.
func Shortened(history []razar.Attempt) int {
	n := 0
	for _, a := range history {
		if a.Shortened {
			n++
		}
	}
	return n
}

// sleepCtx waits d on the wall clock or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, clock.Real{}, d) }

// fullAttempts is how many of the newest attempts an escalation carries
// with their full texts (a diff alone may be 256 KiB: more would not fit
// bus.MaxContextBytes anyway); older ones go as one line each.
const fullAttempts = 4

// maxLines bounds how many attempts an escalation lists, the newest: far
// more than one line each fits in bus.MaxContextBytes, so what is kept in
// memory per incident stays bounded too.
const maxLines = 4096

// history is the context of the next escalation: every earlier attempt of
// the incident, at least as one line, the newest fullAttempts of them with
// their full texts fetched from their audit records on the stream,
// bounded by bus.MaxContextBytes (BoundContext).
func (o *Orchestrator) history(ctx context.Context, rec *bus.IncidentRecord) []razar.Attempt {
	out := o.attemptLines(ctx, rec)
	for i := range out {
		// A stored summary has lost its diff, and its texts if it clipped them.
		a := &out[i]
		a.Shortened = a.DiffBytes > 0 || clipped(a.Summary) || clipped(a.Error) || clipped(a.Reason)
	}
	budget := bus.MaxContextBytes
	for i := len(out) - 1; i >= max(0, len(out)-fullAttempts) && budget > 0; i-- {
		a := &out[i]
		if full, ok := o.recalled(rec.ID, a.Number); ok {
			a.Summary, a.Error, a.Diff, a.Reason, a.Shortened = full.Summary, full.Error, full.Diff, full.Reason, false
		} else if a.Seq != 0 {
			// Settled by an earlier run (a crash): read it back once.
			full, err := o.store.AuditAt(ctx, a.Seq)
			if err != nil || full.Incident != rec.ID || full.Attempt != a.Number {
				continue // keep the line
			}
			a.Summary, a.Error, a.Diff, a.Reason, a.Shortened = full.Summary, full.Error, full.Diff, full.Reason, false
			o.remember(rec.ID, razar.Attempt{Number: a.Number, Summary: a.Summary, Error: a.Error, Diff: a.Diff, Reason: a.Reason})
		}
		budget -= len(a.Diff) + len(a.Summary) + len(a.Error) + len(a.Reason)
	}
	return BoundContext(out, bus.MaxContextBytes)
}

// clipped reports whether s carries bus.Clip's marker.
func clipped(s string) bool { return cut.Marked(s) }

// attemptLines returns every finished attempt of rec (the newest maxLines)
// as its stored summary, oldest first: the stored incident keeps only the
// newest bus.MaxStoredAttempts, so the older ones come from what this
// orchestrator kept (keepLine), or, after a restart, from their attempt
// records on the stream, read once.
func (o *Orchestrator) attemptLines(ctx context.Context, rec *bus.IncidentRecord) []razar.Attempt {
	stored := rec.Attempts
	first := rec.Earlier + 1 // the oldest stored attempt's number
	if len(stored) > 0 {
		first = stored[0].Number
	}
	from := max(1, rec.NextAttempt()-maxLines) // the oldest attempt listed
	var earlier []razar.Attempt
	if from < first {
		o.mu.Lock()
		kept := o.lines[rec.ID]
		o.mu.Unlock()
		earlier = linesBetween(kept, from, first)
		if earlier == nil {
			earlier = o.readLines(ctx, rec, from, first)
			o.mu.Lock()
			o.lines[rec.ID] = append(earlier[:len(earlier):len(earlier)], stored...)
			o.mu.Unlock()
		}
	}
	out := make([]razar.Attempt, 0, len(earlier)+len(stored))
	out = append(out, earlier...)
	for _, a := range stored {
		if a.Number >= from {
			out = append(out, a)
		}
	}
	return out
}

// linesBetween returns the lines of numbers from to to-1 out of kept, or
// nil when kept does not hold every one of them.
func linesBetween(kept []razar.Attempt, from, to int) []razar.Attempt {
	i := sort.Search(len(kept), func(i int) bool { return kept[i].Number >= from })
	j := i + (to - from)
	if i >= len(kept) || j > len(kept) || kept[i].Number != from || kept[j-1].Number != to-1 {
		return nil
	}
	return append([]razar.Attempt(nil), kept[i:j]...)
}

// readLines reads the summaries of rec's attempts numbered from to to-1
// from their attempt records on the stream. An attempt whose record cannot
// be read is listed with outcome unknown and says why, so the numbers
// listed stay whole.
func (o *Orchestrator) readLines(ctx context.Context, rec *bus.IncidentRecord, from, to int) []razar.Attempt {
	got := map[int]razar.Attempt{}
	// Read to the end: a scan stopped mid-batch leaves its fetch running.
	err := o.store.Scan(ctx, bus.AuditSubject(rec.Component, bus.EventAttempt), rec.Opened, false, func(seq uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if bus.Decode(data, &r) != nil || r.Incident != rec.ID || r.Attempt < from || r.Attempt >= to {
			return nil
		}
		if _, dup := got[r.Attempt]; !dup {
			a := razar.Attempt{Number: r.Attempt, Rung: r.Agent, Pass: r.Pass, Outcome: razar.Outcome(r.Outcome),
				Error: r.Error, Summary: r.Summary, Diff: r.Diff, Reason: r.Reason, Actor: r.Actor}
			if t, err := time.Parse(time.RFC3339Nano, r.TimestampISO); err == nil {
				a.Finished = t.UTC()
			}
			got[r.Attempt] = bus.SummarizeAttempt(a, seq)
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		o.log.Warn().Err(err).Str("incident", rec.ID).Msg("earlier attempts not read back from the stream: listed without their texts")
	}
	out := make([]razar.Attempt, 0, to-from)
	for n := from; n < to; n++ {
		a, ok := got[n]
		if !ok {
			a = razar.Attempt{Number: n, Outcome: razar.OutcomeError, Error: "unknown: its attempt record could not be read back from the stream", Shortened: true}
		}
		out = append(out, a)
	}
	return out
}

// keepLine keeps the summary of an incident's finished attempt, for the
// lines of its later escalations (attemptLines); the newest maxLines.
func (o *Orchestrator) keepLine(id string, a razar.Attempt) {
	o.mu.Lock()
	defer o.mu.Unlock()
	l := o.lines[id]
	if n := len(l); n > 0 && l[n-1].Number >= a.Number {
		return // kept already (a re-settled attempt)
	}
	l = append(l, a)
	if n := len(l) - maxLines; n > 0 {
		l = append([]razar.Attempt(nil), l[n:]...)
	}
	o.lines[id] = l
}

// remember keeps the full texts of an incident's newest attempts in
// memory, for the next escalation's context (fullAttempts of them).
func (o *Orchestrator) remember(id string, a razar.Attempt) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := append(o.recent[id], a)
	if n := len(r) - fullAttempts; n > 0 {
		r = append([]razar.Attempt(nil), r[n:]...)
	}
	o.recent[id] = r
}

// recalled returns the remembered full attempt number of incident id.
func (o *Orchestrator) recalled(id string, number int) (razar.Attempt, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range o.recent[id] {
		if a.Number == number {
			return a, true
		}
	}
	return razar.Attempt{}, false
}

// forget drops what remember and keepLine kept of an incident whose
// goroutine ends.
func (o *Orchestrator) forget(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.recent, id)
	delete(o.lines, id)
}
