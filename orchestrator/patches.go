package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/patch"
	"github.com/razar/razar/workspace"
)

// DefaultValidateTimeout bounds a component's validate command.
const DefaultValidateTimeout = patch.DefaultValidateTimeout

// Approvals lists the validated patches waiting for an operator, oldest first.
func (o *Orchestrator) Approvals() []bus.PendingApproval {
	held := o.patches.Pending()
	out := make([]bus.PendingApproval, 0, len(held))
	for _, p := range held {
		out = append(out, pendingApproval(p))
	}
	return out
}

// pendingApproval is p as the status shows it.
func pendingApproval(p patch.Pending) bus.PendingApproval {
	return bus.PendingApproval{Component: p.Component, Incident: p.Incident, Patch: p.Patch, Rung: p.Rung, Since: p.Since, Until: p.Until}
}

// Decide approves or rejects a held patch. It fails with razar.ErrNotFound
// when no such patch waits.
func (o *Orchestrator) Decide(component, id string, approve bool) error {
	return o.patches.Decide(component, id, approve)
}

// answerBounds are what judging one answer may cost: at most limit of its
// candidates are staged and validated, none is started at or past deadline,
// and a validation running at the deadline is stopped there. window is how
// long a held patch waits for approval when RAZAR_APPROVAL_WINDOW is not
// set; hold, when not empty, holds the patch for an operator's approval
// whatever the component says, and says why.
type answerBounds struct {
	limit    int
	deadline time.Time
	window   time.Duration
	hold     string
}

// boundsFor are the bounds of the pending attempt p of rung: its roster
// entry's candidates (config.DefaultCandidates when it has none) and its
// deadline.
func (o *Orchestrator) boundsFor(p *bus.Pending) answerBounds {
	b := answerBounds{limit: config.DefaultCandidates, deadline: p.Deadline, window: p.Deadline.Sub(p.Started)}
	if roster, err := o.cfg.Roster(); err == nil {
		if e, err := roster.Agent(p.Rung); err == nil {
			b.limit = e.CandidateLimit()
		}
	}
	return b
}

// applyFix judges a rung's fixed answer. A diff (or rStar's candidates) is
// checked, validated in a private copy, approved if the component asks for
// it, promoted with backups, and verified; a patch that does not hold is
// reverted at once. An answer without a diff means the rung changed things
// itself: only the verification runs. At most b.limit candidates are
// tried; the rest are refused, and the returned reason says so.
// The returned diff is the patch that held, when one did.
func (o *Orchestrator) applyFix(ctx context.Context, rec *bus.IncidentRecord, a razar.Attempt, res *bus.Result, b answerBounds) (razar.Outcome, string, string) {
	cands := answerCandidates(res)
	if len(cands) == 0 {
		if err := o.verify(ctx, rec.Component); err != nil {
			return razar.OutcomeRejected, "health check failed after fix: " + err.Error(), ""
		}
		return razar.OutcomeHealed, "", ""
	}
	cands, refused := o.limitCandidates(rec, a, cands, b)
	comp, reason := o.patchTarget(rec.Component)
	if reason != "" {
		return razar.OutcomeRejected, reason, ""
	}
	ids := make([]string, len(cands))
	for i := range cands {
		ids[i] = patch.AttemptID(rec.ID, a.Number, i, a.Started)
	}
	var reasons []string
	for i := o.patches.ResumeAt(comp.Name, ids); i < len(cands); i++ {
		c := cands[i]
		outcome, reason := o.tryPatch(ctx, rec, a, comp, c, i, b)
		if outcome == razar.OutcomeHealed {
			return outcome, refused, c.Diff
		}
		if ctx.Err() != nil {
			return razar.OutcomeRejected, "interrupted", ""
		}
		if len(cands) > 1 {
			reason = fmt.Sprintf("candidate %d: %s", i+1, reason)
		}
		reasons = append(reasons, reason)
		if i+1 < len(cands) && b.past() {
			reasons = append(reasons, fmt.Sprintf("candidates %d to %d not staged: the attempt's deadline (%s) passed", i+2, len(cands), b.deadline.UTC().Format(time.RFC3339)))
			break
		}
	}
	if refused != "" {
		reasons = append(reasons, refused)
	}
	return razar.OutcomeRejected, strings.Join(reasons, "; "), ""
}

// answerCandidates are the diffs of an answer: its own, then rStar's
// alternatives; empty ones dropped.
func answerCandidates(res *bus.Result) []razar.Candidate {
	var cands []razar.Candidate
	if strings.TrimSpace(res.Diff) != "" {
		cands = append(cands, razar.Candidate{Summary: res.Summary, Diff: res.Diff})
	}
	for _, c := range res.Candidates {
		if strings.TrimSpace(c.Diff) != "" {
			cands = append(cands, c)
		}
	}
	return cands
}

// limitCandidates keeps the first b.limit of cands: one answer buys at
// most that many stagings and validations, the rest are refused unread,
// whatever the rung sent, and refused says so.
func (o *Orchestrator) limitCandidates(rec *bus.IncidentRecord, a razar.Attempt, cands []razar.Candidate, b answerBounds) (kept []razar.Candidate, refused string) {
	if b.limit <= 0 || len(cands) <= b.limit {
		return cands, ""
	}
	refused = fmt.Sprintf("candidates %d to %d refused: at most %d alternatives of one answer are staged and validated (the roster's \"candidates\" for %s, default %d, cap %d)",
		b.limit+1, len(cands), b.limit, a.Rung, config.DefaultCandidates, config.MaxCandidates)
	o.log.Warn().Str("incident", rec.ID).Str("component", rec.Component).Str("agent", a.Rung).Int("candidates", len(cands)).Int("limit", b.limit).Msg("answer over its candidate limit: the rest refused")
	return cands[:b.limit], refused
}

// patchTarget is the component a patch goes to, from the boot config in
// force, or why there is none to patch.
func (o *Orchestrator) patchTarget(name string) (config.Component, string) {
	boot, err := o.cfg.Components()
	if err != nil {
		return config.Component{}, "cannot read the boot config to apply the patch: " + err.Error()
	}
	comp, err := boot.Component(name)
	if err != nil {
		return config.Component{}, err.Error()
	}
	if !o.patches.Ready(comp) {
		return config.Component{}, "patch rejected: no workdir to patch"
	}
	return comp, ""
}

// past reports whether the attempt's deadline has come.
func (b answerBounds) past() bool { return !b.deadline.IsZero() && !time.Now().Before(b.deadline) }

// backupDir is where the backup of component's patch id lives.
func (o *Orchestrator) backupDir(component, id string) string {
	return o.patches.BackupDir(component, id)
}

// tryPatch takes candidate i of attempt a through the patch pipeline,
// which records every step through a patchRecorder. The patch id, and so
// the backup directory, is AttemptID's: the same on every run, so that
// after a crash the attempt finds what its earlier run promoted, and the
// records it sends again carry the message ids the stream already holds
// and are dropped.
func (o *Orchestrator) tryPatch(ctx context.Context, rec *bus.IncidentRecord, a razar.Attempt, comp config.Component, c razar.Candidate, i int, b answerBounds) (razar.Outcome, string) {
	id := patch.AttemptID(rec.ID, a.Number, i, a.Started)
	gate := &quoteGate{o: o, comp: comp}
	defer gate.close()
	cand := patch.Candidate{ID: id, Component: comp, Incident: rec.ID, Rung: a.Rung, Diff: c.Diff,
		Limits:   patch.Limits{Protected: patch.ComponentProtections(comp), Quote: gate.shows},
		Redact:   gate.redact,
		Deadline: b.deadline, Window: b.window, Hold: b.hold}
	return o.patches.Run(ctx, cand, o.newPatchRecorder(rec, a, comp, c, id))
}

// quoteGate is the workspace's gate for one patch, opened when a refusal
// first asks to quote a file: a refusal quotes the nearest lines only of a
// file the rungs may be shown (not denied, no symlink), so the next rung
// can mend the hunk without a secret reaching it.
type quoteGate struct {
	o    *Orchestrator
	comp config.Component
	view *workspace.View
}

// shows says whether a refusal may quote path.
func (g *quoteGate) shows(path string) bool {
	if g.view == nil {
		v, err := workspace.New(g.comp, g.o.cfg.Home, workspace.Options{Redact: g.o.redact})
		if err != nil {
			return false
		}
		g.view = v
	}
	return g.view.Shows(path)
}

// redact scrubs the component's own secrets, from its env, out of a
// refusal that quoted its files.
func (g *quoteGate) redact(s string) string {
	if g.view == nil {
		return s
	}
	return g.view.Redact(s)
}

func (g *quoteGate) close() {
	if g.view != nil {
		g.view.Close()
	}
}

// patchRecorder publishes what the patch pipeline does with one candidate:
// the audit records, the metrics, the alerts, the logs and the fix
// memory's verdict.
type patchRecorder struct {
	o    *Orchestrator
	rec  *bus.IncidentRecord
	a    razar.Attempt
	comp config.Component
	c    razar.Candidate
	id   string
	base bus.AuditRecord
}

var _ patch.Observer = (*patchRecorder)(nil)

func (o *Orchestrator) newPatchRecorder(rec *bus.IncidentRecord, a razar.Attempt, comp config.Component, c razar.Candidate, id string) *patchRecorder {
	return &patchRecorder{o: o, rec: rec, a: a, comp: comp, c: c, id: id,
		base: bus.AuditRecord{Component: rec.Component, Incident: rec.ID, Agent: a.Rung, AgentDisplay: o.cfg.Display(a.Rung),
			Attempt: a.Number, Pass: a.Pass, PatchID: id}}
}

// Observe publishes e.
func (pr *patchRecorder) Observe(ctx context.Context, e patch.Event) {
	o, comp := pr.o, pr.comp
	switch e.Kind {
	case patch.EventProposed:
		pr.propose(ctx, e)
	case patch.EventRejected:
		pr.rejected(ctx, e)
	case patch.EventHeld:
		pr.held(ctx, e)
	case patch.EventReleased:
		o.cfg.Alerts.Resolve(ctx, comp.Name, pr.rec.ID, "RazarPatchPending")
	case patch.EventApplied:
		pr.record(ctx, bus.EventApplied, func(r *bus.AuditRecord) { r.Status, r.Summary, r.Files = "applied", pr.c.Summary, patchFiles(e.Files) })
		if !e.Resumed {
			o.log.Info().Str("incident", pr.rec.ID).Str("component", comp.Name).Str("patch", pr.id).Int("files", len(e.Files)).Msg("patch applied")
		}
	case patch.EventReverted:
		pr.reverted(ctx, e)
	case patch.EventResumed:
		o.log.Info().Str("incident", pr.rec.ID).Str("component", comp.Name).Str("patch", pr.id).Stringer("found", e.Progress).Msg(e.Reason)
	}
}

// record publishes one audit record of the patch, counting what was
// applied, rejected and reverted.
func (pr *patchRecorder) record(ctx context.Context, ev bus.Event, mutate func(*bus.AuditRecord)) {
	r := pr.base
	r.Event = ev
	mutate(&r)
	if m := pr.o.cfg.Metrics; m != nil && (ev == bus.EventApplied || ev == bus.EventRejected || ev == bus.EventReverted) {
		m.Patches.WithLabelValues(pr.comp.Name, string(ev)).Inc()
	}
	pr.o.audit(ctx, &r, bus.AuditMsgID(ev, pr.rec.ID+"-"+pr.id, pr.a.Number))
}

// propose records the proposal: the diff and what its validation said.
func (pr *patchRecorder) propose(ctx context.Context, e patch.Event) {
	pr.record(ctx, bus.EventPatch, func(r *bus.AuditRecord) {
		r.Summary, r.Diff, r.Validation, r.Reason, r.OutputTail, r.Files = pr.c.Summary, pr.c.Diff, e.Step, e.Reason, e.Output, patchFiles(e.Files)
		r.Placement = e.Placement
		sandboxNote(r, e.Isolation)
	})
}

// rejected records a refusal, with the proposal when validation had not
// spoken yet.
func (pr *patchRecorder) rejected(ctx context.Context, e patch.Event) {
	if e.Step == "failed" && errors.Is(e.Err, patch.ErrSandboxRefused) {
		pr.o.log.Error().Str("incident", pr.rec.ID).Str("component", pr.comp.Name).Str("patch", pr.id).Err(e.Err).Msg("SECURITY: the validation sandbox cannot be built: the patch is refused unvalidated")
	}
	if e.Propose {
		pr.propose(ctx, e)
	}
	pr.record(ctx, bus.EventRejected, func(r *bus.AuditRecord) { r.Status, r.Reason, r.Files = "rejected", e.Reason, patchFiles(e.Files) })
	pr.o.log.Warn().Str("incident", pr.rec.ID).Str("component", pr.rec.Component).Str("patch", pr.id).Str("reason", e.Reason).Msg("patch rejected")
}

// held records a patch waiting for an operator and raises its alert.
func (pr *patchRecorder) held(ctx context.Context, e patch.Event) {
	comp, id := pr.comp.Name, pr.id
	pr.record(ctx, bus.EventPending, func(r *bus.AuditRecord) {
		r.Status = "pending"
		r.Message = fmt.Sprintf("validated patch %s waits for `razar approve %s %s` or `razar reject %s %s`", id, comp, id, comp, id)
		if e.Hold != "" {
			r.Message += ": " + e.Hold
		}
	})
	pr.o.cfg.Alerts.RaiseNamed(ctx, "RazarPatchPending", bus.SeverityWarning, comp, pr.rec.ID, fmt.Sprintf("%s: patch %s from %s is validated and waits for approval (razar approve %s %s)", comp, id, pr.o.cfg.Display(pr.a.Rung), comp, id))
}

// reverted records a revert: after a failed health check (with the alert
// when the revert failed too, and the fix memory told), or found after a
// restart.
func (pr *patchRecorder) reverted(ctx context.Context, e patch.Event) {
	o, comp := pr.o, pr.comp
	if e.Health && e.Err != nil {
		o.cfg.Alerts.RaiseNamed(ctx, "RazarPatchRevertFailed", bus.SeverityCritical, comp.Name, pr.rec.ID, comp.Name+": patch "+pr.id+" could not be reverted: "+e.Err.Error())
	}
	pr.record(ctx, bus.EventReverted, func(r *bus.AuditRecord) { r.Status, r.Reason, r.Files = "reverted", e.Reason, patchFiles(e.Files) })
	if e.Health {
		o.log.Warn().Str("incident", pr.rec.ID).Str("component", comp.Name).Str("patch", pr.id).Str("reason", e.Reason).Msg("patch reverted")
		o.revertedFix(ctx, pr.rec, pr.a, pr.id, diffSHA256(pr.c.Diff), e.Reason)
	}
}

// diffSHA256 is the hex sha256 of a diff's text, as patch.Plan.DiffSHA256.
func diffSHA256(diff string) string { return patch.DiffSHA256(diff) }

// sandboxNote puts in a patch record how its validate command was
// contained: the sandbox field always (when one ran), and for the weak
// sandbox a SECURITY message as well.
func sandboxNote(r *bus.AuditRecord, iso patch.Isolation) {
	r.Sandbox = iso.String()
	if iso.Weak != "" {
		r.Message = "SECURITY: validation ran in the weak sandbox (RAZAR_SANDBOX=weak), seeing RAZAR's files: " + iso.Weak
		if iso.Network {
			r.Message += "; and with the host's network"
		}
	}
}

// prepareStaging runs when the orchestrator starts, before any patch is
// staged: it removes the stages a killed RAZAR left under
// state/staging, and says once how validate commands will be contained on
// this host: a SECURITY warning for the weak sandbox (the operator's
// RAZAR_SANDBOX=weak), an error when the strict sandbox cannot be built
// and every patch with a validate command will be refused.
func (o *Orchestrator) prepareStaging() {
	got := o.patches.Prepare(context.Background())
	switch {
	case got.CleanErr != nil:
		o.log.Error().Err(got.CleanErr).Msg("stale patch staging dirs not removed")
	case got.Removed > 0:
		o.log.Info().Int("dirs", got.Removed).Str("dir", razar.Home(o.cfg.Home).Staging()).Msg("removed patch staging dirs left by an earlier run")
	}
	iso, err := got.Isolation, got.ProbeErr
	switch {
	case errors.Is(err, patch.ErrSandboxRefused):
		o.log.Error().Err(err).Msg("SECURITY: the validation sandbox cannot be built here: every patch with a validate command will be refused")
	case err != nil:
		o.log.Error().Err(err).Msg("SECURITY: the validation sandbox probe failed")
	case iso.Weak != "":
		o.log.Warn().Str("why", iso.Weak).Bool("network", iso.Network).Msg("SECURITY: RAZAR_SANDBOX=weak and the sandbox cannot be built: validation runs as RAZAR's user, seeing RAZAR's files (the seeds included): " + iso.String())
	case o.cfg.Sandbox.Weak:
		o.log.Warn().Str("sandbox", iso.String()).Msg("SECURITY: RAZAR_SANDBOX=weak is set: where the sandbox cannot be built, validation will run as RAZAR's user, seeing RAZAR's files; it can be built now")
	default:
		o.log.Info().Str("sandbox", iso.String()).Msg("validation sandbox ready")
	}
}

// reasonOf is patch.Reason.
func reasonOf(err error) string { return patch.Reason(err) }

func patchFiles(fs []patch.FileChange) []bus.PatchFile {
	out := make([]bus.PatchFile, 0, len(fs))
	for _, f := range fs {
		out = append(out, bus.PatchFile{Path: f.Path, OldPath: f.OldPath, Op: f.Op, SHA256Before: f.SHA256Before, SHA256After: f.SHA256After})
	}
	return out
}
