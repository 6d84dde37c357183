package patch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
)

// Candidate is one diff to take through the Pipeline.
type Candidate struct {
	// ID is the patch id, and so the backup directory's name: AttemptID's,
	// the same on every run, so that after a crash the attempt finds what
	// its earlier run promoted.
	ID string
	// Component is what the diff patches: its workdir, validate command,
	// env and approval setting.
	Component config.Component
	// Incident and Rung name where the diff comes from, for Pending.
	Incident, Rung string
	// Diff is the rung's untrusted text.
	Diff string
	// Limits are Check's: the component's protections, and which files a
	// refusal may quote.
	Limits Limits
	// Redact, when set, scrubs a refusal of the diff (which may quote the
	// workdir's lines) before it is reported.
	Redact func(string) string
	// Deadline, when set, is the attempt's: nothing is staged at or past
	// it, and a validation running then is stopped there.
	Deadline time.Time
	// Window is how long a held patch waits for a decision when
	// Config.ApprovalWindow is zero.
	Window time.Duration
	// Hold, when not empty, holds the patch for an operator's approval
	// whatever the component says, and says why.
	Hold string
}

// EventKind names a step of a Candidate's run.
type EventKind int

// The steps an Observer sees.
const (
	// EventProposed: the diff was validated (Step is the verdict: "passed" or
	// "no validate command"); Output, Files, Placement and Isolation say
	// how.
	EventProposed EventKind = iota + 1
	// EventRejected: the patch is refused (Reason, Files; Err the error behind
	// it). With Propose set no EventProposed came first: the observer
	// notes the proposal too, with Step as its validation verdict.
	EventRejected
	// EventHeld: the patch waits for an operator (Pending; Hold says why when
	// the component did not ask for it).
	EventHeld
	// EventReleased: the wait of an EventHeld patch is over, RAZAR still running.
	EventReleased
	// EventApplied: the patch is promoted (Files); Resumed when a run before a
	// restart promoted it.
	EventApplied
	// EventReverted: the patch is undone (Reason, Files): Health set when the
	// health check after promotion failed, Err when the revert failed too;
	// else found reverted, or its revert finished, after a restart.
	EventReverted
	// EventResumed: a restart's leftovers were settled (Progress); Reason says
	// what happens next.
	EventResumed
)

// Event is one step of a Candidate's run, for its Observer. Which fields
// are set depends on Kind (see the EventKind values).
type Event struct {
	Kind  EventKind
	Patch string // the Candidate's ID
	// Step is the validation's verdict: "passed", "no validate command",
	// "failed", or "rejected" for a diff refused before validation.
	Step   string
	Reason string // why the patch was rejected or reverted, or what a resume does next
	Output string // the validate command's output tail, unscrubbed
	// Files are the changes the patch makes, or a revert made.
	Files []FileChange
	// Placement notes how the diff's hunks were placed, once checked.
	Placement []string
	// Isolation is how the validate command was contained, once it ran.
	Isolation Isolation
	// Err is the error behind a rejection, or a revert that failed.
	Err error
	// Propose: the rejection comes before any EventProposed, so the
	// proposal is to be noted with it.
	Propose bool
	// Health: the revert follows a failed health check.
	Health bool
	// Resumed: the patch was found applied after a restart.
	Resumed bool
	// Progress is what Resume found after a restart.
	Progress Progress
	// Pending is the held patch, for EventHeld and EventReleased.
	Pending Pending
	// Hold is why the patch is held when its component did not ask for
	// approval.
	Hold string
}

// Observer is told every step of a Candidate's run, in order, to publish
// the records, events and alerts the steps mean. It must not block.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f.
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

var _ Observer = ObserverFunc(nil)

// verdict ends a run: the outcome and why.
type verdict struct {
	outcome razar.Outcome
	reason  string
}

// run is one Candidate going through the Pipeline.
type run struct {
	p       *Pipeline
	c       Candidate
	obs     Observer
	backup  string
	timeout time.Duration
	cut     bool // timeout is the attempt's deadline, not Config.ValidateTimeout

	proposed       bool // the proposal was noted: once, when validation has spoken
	promotedBefore bool // a run before a restart got past the approval
	plan           *Plan
	stage          string
	cleanup        func()
	iso            Isolation
}

// Run takes candidate c through the pipeline and tells obs every step:
// resume what a run before a restart left, check and stage the diff,
// validate it in the sandbox, hold it for approval, promote it, verify
// it, revert it when it does not hold. It returns razar.OutcomeHealed
// when the patch is in place and verified, else razar.OutcomeRejected and
// why. Callers serialise the runs of one component.
func (p *Pipeline) Run(ctx context.Context, c Candidate, obs Observer) (razar.Outcome, string) {
	r := &run{p: p, c: c, obs: obs, backup: p.BackupDir(c.Component.Name, c.ID), cleanup: func() {}}
	defer func() { r.cleanup() }()
	for _, step := range []func(context.Context) *verdict{r.resume, r.stageDiff, r.validate, r.approve, r.promote} {
		if v := step(ctx); v != nil {
			return v.outcome, v.reason
		}
	}
	v := r.verify(ctx)
	return v.outcome, v.reason
}

// note tells the observer e, stamped with the patch id.
func (r *run) note(ctx context.Context, e Event) {
	e.Patch = r.c.ID
	r.obs.Observe(ctx, e)
}

// reject refuses the patch at step, noting the proposal first when
// validation has not spoken yet.
func (r *run) reject(ctx context.Context, step, reason, output string, files []FileChange, err error) *verdict {
	e := Event{Kind: EventRejected, Step: step, Reason: reason, Output: output, Files: files, Isolation: r.iso, Err: err, Propose: !r.proposed}
	if r.plan != nil {
		e.Placement = r.plan.Placement
	}
	r.note(ctx, e)
	return &verdict{razar.OutcomeRejected, reason}
}

// rejected ends the run without a record of its own.
func rejected(reason string) *verdict { return &verdict{razar.OutcomeRejected, reason} }

// resume settles what a run of this candidate before a restart left. A
// manifest for its id means that run got as far as Promote, and past the
// approval, before RAZAR stopped.
func (r *run) resume(ctx context.Context) *verdict {
	id, name := r.c.ID, r.c.Component.Name
	m, err := ReadManifest(r.backup)
	switch {
	case errors.Is(err, ErrNothingToRevert):
		return nil
	case err != nil:
		return r.reject(ctx, "passed", fmt.Sprintf("cannot resume patch %s: %v (inspect %s, then remove it or roll back with `razar rollback-patch %s --patch %s`)", id, err, r.backup, name, id), "", nil, err)
	}
	r.proposed, r.promotedBefore = true, true // the proposal and any approval came before the promotion
	if m.DiffSHA256 != "" && m.DiffSHA256 != DiffSHA256(r.c.Diff) {
		return r.reject(ctx, "passed", fmt.Sprintf("cannot resume patch %s: its backup in %s holds a different diff (sha256 %s)", id, r.backup, m.DiffSHA256), "", nil, nil)
	}
	if m.State == StateReverted {
		reason := "patch " + id + " was reverted before RAZAR restarted: not applied again"
		r.note(ctx, Event{Kind: EventReverted, Reason: reason})
		return rejected(reason)
	}
	prog, err := Resume(r.c.Component.Workdir, r.backup)
	switch {
	case err != nil:
		return r.reject(ctx, "passed", "cannot resume patch "+id+" after a restart: "+Reason(err), "", m.Files, err)
	case prog == FullyApplied:
		if m, err = ReadManifest(r.backup); err != nil {
			return r.reject(ctx, "passed", "cannot resume patch "+id+": "+err.Error(), "", nil, err)
		}
		r.note(ctx, Event{Kind: EventApplied, Files: m.Files, Resumed: true, Progress: prog})
		r.note(ctx, Event{Kind: EventResumed, Progress: prog, Reason: "patch was applied before RAZAR restarted: verifying it"})
		v := r.verify(ctx)
		return &v
	case m.State == StateApplied:
		reason := "patch " + id + " was being reverted when RAZAR stopped; the revert is finished: not applied again"
		r.note(ctx, Event{Kind: EventReverted, Reason: reason, Files: m.Files, Progress: prog})
		r.note(ctx, Event{Kind: EventResumed, Progress: prog, Reason: "finished reverting a patch after a restart"})
		return rejected(reason)
	}
	r.note(ctx, Event{Kind: EventResumed, Progress: prog, Reason: "promotion cut short by a restart undone: promoting the patch again"})
	return nil
}

// stageDiff checks the diff against the workdir and applies it to a
// private copy. Nothing is staged at or past the attempt's deadline, and
// the validation gets no more than the time left.
func (r *run) stageDiff(ctx context.Context) *verdict {
	r.timeout = r.p.cfg.ValidateTimeout
	if d := r.c.Deadline; !d.IsZero() {
		left := time.Until(d)
		if left <= 0 {
			return r.reject(ctx, "rejected", "not staged: the attempt's deadline ("+d.UTC().Format(time.RFC3339)+") passed", "", nil, nil)
		}
		if left < r.timeout {
			r.timeout, r.cut = left, true
		}
	}
	// The diff is untrusted: it may not touch what judges it (the validate
	// and health-check programs, the component's protect globs).
	workdir := r.c.Component.Workdir
	plan, err := Check(r.c.Diff, workdir, r.c.Limits)
	if err != nil {
		reason := Reason(err)
		if r.c.Redact != nil {
			reason = r.c.Redact(reason)
		}
		return r.reject(ctx, "rejected", reason, "", nil, err)
	}
	plan.ID = r.c.ID // one id in the records, the backup directory and its manifest
	r.plan = plan
	stage, cleanup, err := Stage(plan, workdir, razar.Home(r.p.cfg.Home).Staging())
	r.cleanup = cleanup
	if err != nil {
		return r.reject(ctx, "rejected", Reason(err), "", plan.Files, err)
	}
	r.stage = stage
	return nil
}

// validate runs the component's validate command on the staged copy in
// the sandbox, without RAZAR's environment and, where the kernel allows,
// without network; the copy is shown at the workdir's path too, so a
// command naming the workdir by absolute path judges the copy.
func (r *run) validate(ctx context.Context) *verdict {
	comp := r.c.Component
	sb := r.p.cfg.Sandbox
	sb.Workdir = comp.Workdir
	res, err := sb.Validate(ctx, comp.Validate, r.stage, comp.EnvList(), r.timeout)
	r.iso = res.Isolation
	if errors.Is(err, ErrSandboxRefused) {
		return r.reject(ctx, "failed", err.Error(), "", r.plan.Files, err)
	}
	if err != nil {
		reason := "validation failed: " + err.Error()
		var ve *ValidateError
		if r.cut && errors.As(err, &ve) && ve.TimedOut {
			reason += " (stopped at the attempt's deadline)"
		}
		return r.reject(ctx, "failed", reason, res.Output, r.plan.Files, err)
	}
	step := "passed"
	if len(comp.Validate) == 0 {
		step = "no validate command"
	}
	r.note(ctx, Event{Kind: EventProposed, Step: step, Output: res.Output, Files: r.plan.Files, Placement: r.plan.Placement, Isolation: r.iso})
	r.proposed = true
	return nil
}

// approve holds the validated patch for an operator when its component
// asks for approval (or the Candidate's Hold does), unless a run before a
// restart was approved already. The window is its own setting: a person
// needs longer than a rung's timeout.
func (r *run) approve(ctx context.Context) *verdict {
	comp := r.c.Component
	if (comp.Approval != "manual" && r.c.Hold == "") || r.promotedBefore {
		return nil
	}
	wait, waitWhat := r.c.Window, "the attempt's timeout"
	if w := r.p.cfg.ApprovalWindow; w > 0 {
		wait, waitWhat = w, fmt.Sprintf("the approval window (RAZAR_APPROVAL_WINDOW=%v)", w)
	}
	now := r.p.cfg.Clock.Now().UTC()
	pend := Pending{Component: comp.Name, Incident: r.c.Incident, Patch: r.c.ID, Rung: r.c.Rung, Since: now, Until: now.Add(wait)}
	ch := r.p.hold(pend)
	r.note(ctx, Event{Kind: EventHeld, Pending: pend, Hold: r.c.Hold})
	var approved, decided bool
	select {
	case approved = <-ch:
		decided = true
	case <-r.p.cfg.Clock.After(wait):
	case <-ctx.Done():
	}
	r.p.drop(comp.Name, r.c.ID)
	if ctx.Err() == nil {
		r.note(ctx, Event{Kind: EventReleased, Pending: pend})
	}
	switch {
	case ctx.Err() != nil:
		return rejected("interrupted while waiting for approval")
	case !decided:
		return r.reject(ctx, "passed", "no approval within "+waitWhat, "", r.plan.Files, nil)
	case !approved:
		return r.reject(ctx, "passed", "rejected by an operator", "", r.plan.Files, nil)
	}
	return nil
}

// promote swaps the staged files into the workdir, backing up what they
// replace.
func (r *run) promote(ctx context.Context) *verdict {
	if err := Promote(r.plan, r.stage, r.c.Component.Workdir, r.backup); err != nil {
		return r.reject(ctx, "passed", "promote failed: "+Reason(err), "", r.plan.Files, err)
	}
	r.note(ctx, Event{Kind: EventApplied, Files: r.plan.Files})
	return nil
}

// verify runs the health check on the promoted patch and reverts it if it
// fails. A check cut short by RAZAR stopping says nothing about the patch:
// it stays, and the resumed attempt verifies it again.
func (r *run) verify(ctx context.Context) verdict {
	comp := r.c.Component
	err := r.p.cfg.Verify(ctx, comp)
	if err == nil {
		return verdict{razar.OutcomeHealed, ""}
	}
	if ctx.Err() != nil {
		return verdict{razar.OutcomeRejected, "interrupted while verifying the patch"}
	}
	reason := "health check failed after patch: " + err.Error()
	files, rerr := Revert(comp.Workdir, r.backup)
	if rerr != nil {
		reason += "; REVERT FAILED: " + rerr.Error() + " (restore with `razar rollback-patch " + comp.Name + " --patch " + r.c.ID + "`)"
	}
	r.note(ctx, Event{Kind: EventReverted, Reason: reason, Files: files, Err: rerr, Health: true})
	return verdict{razar.OutcomeRejected, reason}
}

// Reason is err as a patch record's reason: a refusal of the diff says
// so, anything else is its message.
func Reason(err error) string {
	var re *RejectError
	if errors.As(err, &re) {
		return "patch rejected: " + re.Reason
	}
	return err.Error()
}

// DiffSHA256 is the hex sha256 of a diff's text, as Plan.DiffSHA256 and
// Manifest.DiffSHA256.
func DiffSHA256(diff string) string {
	return hashBytes([]byte(diff))
}
