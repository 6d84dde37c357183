package orchestrator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/patch"
	"github.com/razar/razar/workspace"
)

// PatchDir is where backups of applied patches live, relative to the home:
// state/patches/<component>/<patch-id>/.
const PatchDir = "state/patches"

// DefaultValidateTimeout bounds a component's validate command.
const DefaultValidateTimeout = 2 * time.Minute

// approvals holds validated patches waiting for an operator (approval: manual).
type approvals struct {
	mu      sync.Mutex
	pending map[string]chan bool           // component/patch-id -> decision
	shown   map[string]bus.PendingApproval // the same, for status
}

func (ap *approvals) hold(p bus.PendingApproval) chan bool {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	if ap.pending == nil {
		ap.pending, ap.shown = map[string]chan bool{}, map[string]bus.PendingApproval{}
	}
	ch := make(chan bool, 1)
	ap.pending[p.Component+"/"+p.Patch] = ch
	ap.shown[p.Component+"/"+p.Patch] = p
	return ch
}

func (ap *approvals) drop(component, id string) {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	delete(ap.pending, component+"/"+id)
	delete(ap.shown, component+"/"+id)
}

// Approvals lists the validated patches waiting for an operator, oldest first.
func (o *Orchestrator) Approvals() []bus.PendingApproval {
	o.approvals.mu.Lock()
	defer o.approvals.mu.Unlock()
	out := make([]bus.PendingApproval, 0, len(o.approvals.shown))
	for _, p := range o.approvals.shown {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// Decide approves or rejects a held patch. It fails with razar.ErrNotFound
// when no such patch waits.
func (o *Orchestrator) Decide(component, id string, approve bool) error {
	o.approvals.mu.Lock()
	ch, ok := o.approvals.pending[component+"/"+id]
	if ok {
		delete(o.approvals.pending, component+"/"+id)
	}
	o.approvals.mu.Unlock()
	if !ok {
		return fmt.Errorf("no patch %s waits for approval on %s: %w (see logs/razar_ai_patches.json for pending ones)", id, component, razar.ErrNotFound)
	}
	ch <- approve
	return nil
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
// entry's candidates (razar.DefaultCandidates when it has none) and its
// deadline.
func (o *Orchestrator) boundsFor(p *bus.Pending) answerBounds {
	b := answerBounds{limit: razar.DefaultCandidates, deadline: p.Deadline, window: p.Deadline.Sub(p.Started)}
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
	var cands []razar.Candidate
	if strings.TrimSpace(res.Diff) != "" {
		cands = append(cands, razar.Candidate{Summary: res.Summary, Diff: res.Diff})
	}
	for _, c := range res.Candidates {
		if strings.TrimSpace(c.Diff) != "" {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		if err := o.verify(ctx, rec.Component); err != nil {
			return razar.OutcomeRejected, "health check failed after fix: " + err.Error(), ""
		}
		return razar.OutcomeHealed, "", ""
	}
	// One answer buys at most b.limit stagings and validations: the rest
	// are refused unread, whatever the rung sent.
	var refused string
	if b.limit > 0 && len(cands) > b.limit {
		refused = fmt.Sprintf("candidates %d to %d refused: at most %d alternatives of one answer are staged and validated (the roster's \"candidates\" for %s, default %d, cap %d)",
			b.limit+1, len(cands), b.limit, a.Rung, razar.DefaultCandidates, razar.MaxCandidates)
		o.log.Warn().Str("incident", rec.ID).Str("component", rec.Component).Str("agent", a.Rung).Int("candidates", len(cands)).Int("limit", b.limit).Msg("answer over its candidate limit: the rest refused")
		cands = cands[:b.limit]
	}
	boot, err := o.cfg.Components()
	if err != nil {
		return razar.OutcomeRejected, "cannot read the boot config to apply the patch: " + err.Error(), ""
	}
	comp, err := boot.Component(rec.Component)
	if err != nil {
		return razar.OutcomeRejected, err.Error(), ""
	}
	if o.cfg.Home == "" || comp.Workdir == "" {
		return razar.OutcomeRejected, "patch rejected: no workdir to patch", ""
	}
	// A restarted RAZAR takes the attempt up at the candidate it had
	// promoted, or begun to: the ones before it were judged already, and
	// checking them again against a workdir that holds a later candidate
	// would judge them against the wrong files.
	start := 0
	for i := len(cands) - 1; i > 0; i-- {
		if _, err := patch.ReadManifest(o.backupDir(comp.Name, patch.AttemptID(rec.ID, a.Number, i, a.Started))); !errors.Is(err, patch.ErrNothingToRevert) {
			start = i
			break
		}
	}
	var reasons []string
	for i := start; i < len(cands); i++ {
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

// past reports whether the attempt's deadline has come.
func (b answerBounds) past() bool { return !b.deadline.IsZero() && !time.Now().Before(b.deadline) }

// backupDir is where the backup of component's patch id lives.
func (o *Orchestrator) backupDir(component, id string) string {
	return filepath.Join(o.cfg.Home, PatchDir, component, id)
}

// tryPatch takes candidate i of attempt a through the pipeline and records
// every step. The patch id, and so the backup directory, is AttemptID's:
// the same on every run, so that after a crash the attempt finds what its
// earlier run promoted (see resumePatch), and the records it sends again
// carry the message ids the stream already holds and are dropped.
func (o *Orchestrator) tryPatch(ctx context.Context, rec *bus.IncidentRecord, a razar.Attempt, comp razar.Component, c razar.Candidate, i int, b answerBounds) (razar.Outcome, string) {
	id := patch.AttemptID(rec.ID, a.Number, i, a.Started)
	backup := o.backupDir(comp.Name, id)
	base := bus.AuditRecord{Component: rec.Component, Incident: rec.ID, Agent: a.Rung, AgentDisplay: o.cfg.Display(a.Rung),
		Attempt: a.Number, Pass: a.Pass, PatchID: id}
	record := func(ev bus.Event, mutate func(*bus.AuditRecord)) {
		r := base
		r.Event = ev
		mutate(&r)
		if m := o.cfg.Metrics; m != nil && (ev == bus.EventApplied || ev == bus.EventRejected || ev == bus.EventReverted) {
			m.Patches.WithLabelValues(comp.Name, string(ev)).Inc()
		}
		o.audit(ctx, &r, bus.AuditMsgID(ev, rec.ID+"-"+id, a.Number))
	}
	proposed := false // the proposal record is written once, when validation has spoken
	var iso patch.Isolation
	var placement []string // how the diff's hunks were placed, once checked
	reject := func(stage, reason, tail string, files []patch.FileChange) (razar.Outcome, string) {
		if !proposed {
			record(bus.EventPatch, func(r *bus.AuditRecord) {
				r.Summary, r.Diff, r.Validation, r.Reason, r.OutputTail, r.Files = c.Summary, c.Diff, stage, reason, tail, patchFiles(files)
				r.Placement = placement
				sandboxNote(r, iso)
			})
		}
		record(bus.EventRejected, func(r *bus.AuditRecord) { r.Status, r.Reason, r.Files = "rejected", reason, patchFiles(files) })
		o.log.Warn().Str("incident", rec.ID).Str("component", rec.Component).Str("patch", id).Str("reason", reason).Msg("patch rejected")
		return razar.OutcomeRejected, reason
	}
	// verified runs the health check on the promoted patch and reverts it
	// if it fails. A check cut short by RAZAR stopping says nothing about
	// the patch: it stays, and the resumed attempt verifies it again.
	verified := func() (razar.Outcome, string) {
		err := o.cfg.Verify(ctx, comp)
		if err == nil {
			return razar.OutcomeHealed, ""
		}
		if ctx.Err() != nil {
			return razar.OutcomeRejected, "interrupted while verifying the patch"
		}
		reason := "health check failed after patch: " + err.Error()
		files, rerr := patch.Revert(comp.Workdir, backup)
		if rerr != nil {
			reason += "; REVERT FAILED: " + rerr.Error() + " (restore with `razar rollback-patch " + comp.Name + " --patch " + id + "`)"
			o.cfg.Alerts.RaiseNamed(ctx, "RazarPatchRevertFailed", bus.SeverityCritical, comp.Name, rec.ID, comp.Name+": patch "+id+" could not be reverted: "+rerr.Error())
		}
		record(bus.EventReverted, func(r *bus.AuditRecord) { r.Status, r.Reason, r.Files = "reverted", reason, patchFiles(files) })
		o.log.Warn().Str("incident", rec.ID).Str("component", comp.Name).Str("patch", id).Str("reason", reason).Msg("patch reverted")
		o.revertedFix(ctx, rec, a, id, diffSHA256(c.Diff), reason)
		return razar.OutcomeRejected, reason
	}

	// A manifest for this id means an earlier run of the attempt got as far
	// as Promote (and past the approval) before RAZAR stopped.
	promotedBefore := false
	switch m, err := patch.ReadManifest(backup); {
	case errors.Is(err, patch.ErrNothingToRevert):
	case err != nil:
		return reject("passed", fmt.Sprintf("cannot resume patch %s: %v (inspect %s, then remove it or roll back with `razar rollback-patch %s --patch %s`)", id, err, backup, comp.Name, id), "", nil)
	default:
		proposed, promotedBefore = true, true // the proposal and any approval came before the promotion
		if m.DiffSHA256 != "" && m.DiffSHA256 != diffSHA256(c.Diff) {
			return reject("passed", fmt.Sprintf("cannot resume patch %s: its backup in %s holds a different diff (sha256 %s)", id, backup, m.DiffSHA256), "", nil)
		}
		if m.State == patch.StateReverted {
			reason := "patch " + id + " was reverted before RAZAR restarted: not applied again"
			record(bus.EventReverted, func(r *bus.AuditRecord) { r.Status, r.Reason = "reverted", reason })
			return razar.OutcomeRejected, reason
		}
		prog, err := patch.Resume(comp.Workdir, backup)
		note := func(msg string) {
			o.log.Info().Str("incident", rec.ID).Str("component", comp.Name).Str("patch", id).Stringer("found", prog).Msg(msg)
		}
		switch {
		case err != nil:
			return reject("passed", "cannot resume patch "+id+" after a restart: "+reasonOf(err), "", m.Files)
		case prog == patch.FullyApplied:
			if m, err = patch.ReadManifest(backup); err != nil {
				return reject("passed", "cannot resume patch "+id+": "+err.Error(), "", nil)
			}
			record(bus.EventApplied, func(r *bus.AuditRecord) { r.Status, r.Summary, r.Files = "applied", c.Summary, patchFiles(m.Files) })
			note("patch was applied before RAZAR restarted: verifying it")
			return verified()
		case m.State == patch.StateApplied:
			reason := "patch " + id + " was being reverted when RAZAR stopped; the revert is finished: not applied again"
			record(bus.EventReverted, func(r *bus.AuditRecord) { r.Status, r.Reason, r.Files = "reverted", reason, patchFiles(m.Files) })
			note("finished reverting a patch after a restart")
			return razar.OutcomeRejected, reason
		}
		note("promotion cut short by a restart undone: promoting the patch again")
	}

	// Nothing is staged at or past the attempt's deadline, and the
	// validation gets no more than the time left.
	timeout, cut := o.cfg.ValidateTimeout, false
	if !b.deadline.IsZero() {
		left := time.Until(b.deadline)
		if left <= 0 {
			return reject("rejected", "not staged: the attempt's deadline ("+b.deadline.UTC().Format(time.RFC3339)+") passed", "", nil)
		}
		if left < timeout {
			timeout, cut = left, true
		}
	}
	// The diff is untrusted: it may not touch what judges it (the validate
	// and health-check programs, the component's protect globs), and it is
	// validated in a private copy, without RAZAR's environment and, where
	// the kernel allows, without network.
	// A refusal quotes the nearest lines only of a file the rungs may be
	// shown (the workspace's gate: not denied, no symlink), so the next
	// rung can mend the hunk without a secret reaching it.
	lim := patch.Limits{Protected: patch.ComponentProtections(comp)}
	var gate *workspace.View
	defer func() {
		if gate != nil {
			gate.Close()
		}
	}()
	lim.Quote = func(p string) bool {
		if gate == nil {
			v, err := workspace.New(comp, o.cfg.Home, workspace.Options{Redact: o.redact})
			if err != nil {
				return false
			}
			gate = v
		}
		return gate.Shows(p)
	}
	plan, err := patch.Check(c.Diff, comp.Workdir, lim)
	if err != nil {
		reason := reasonOf(err)
		if gate != nil {
			reason = gate.Redact(reason) // the component's own secrets, from its env
		}
		return reject("rejected", reason, "", nil)
	}
	plan.ID = id // one id in the records, the backup directory and its manifest
	placement = plan.Placement
	stage, cleanup, err := patch.Stage(plan, comp.Workdir, filepath.Join(o.cfg.Home, patch.StagingDir))
	defer cleanup()
	if err != nil {
		return reject("rejected", reasonOf(err), "", plan.Files)
	}
	// The copy is shown at the workdir's path too: a validate command
	// naming the workdir by absolute path judges the copy.
	sb := o.cfg.Sandbox
	sb.Workdir = comp.Workdir
	res, err := sb.Validate(ctx, comp.Validate, stage, comp.EnvList(), timeout)
	tail, iso := res.Output, res.Isolation
	if errors.Is(err, patch.ErrSandboxRefused) {
		o.log.Error().Str("incident", rec.ID).Str("component", comp.Name).Str("patch", id).Err(err).Msg("SECURITY: the validation sandbox cannot be built: the patch is refused unvalidated")
		return reject("failed", err.Error(), "", plan.Files)
	}
	if err != nil {
		reason := "validation failed: " + err.Error()
		var ve *patch.ValidateError
		if cut && errors.As(err, &ve) && ve.TimedOut {
			reason += " (stopped at the attempt's deadline)"
		}
		return reject("failed", reason, o.redact(tail), plan.Files)
	}
	validation := "passed"
	if len(comp.Validate) == 0 {
		validation = "no validate command"
	}
	record(bus.EventPatch, func(r *bus.AuditRecord) {
		r.Summary, r.Diff, r.Validation, r.OutputTail, r.Files = c.Summary, c.Diff, validation, o.redact(tail), patchFiles(plan.Files)
		r.Placement = plan.Placement
		sandboxNote(r, iso)
	})
	proposed = true

	if (comp.Approval == "manual" || b.hold != "") && !promotedBefore {
		wait, waitWhat := b.window, "the attempt's timeout"
		if o.cfg.ApprovalWindow > 0 {
			wait, waitWhat = o.cfg.ApprovalWindow, fmt.Sprintf("the approval window (RAZAR_APPROVAL_WINDOW=%v)", o.cfg.ApprovalWindow)
		}
		now := o.cfg.Clock.Now().UTC()
		ch := o.approvals.hold(bus.PendingApproval{Component: comp.Name, Incident: rec.ID, Patch: id, Rung: a.Rung, Since: now, Until: now.Add(wait)})
		record(bus.EventPending, func(r *bus.AuditRecord) {
			r.Status = "pending"
			r.Message = fmt.Sprintf("validated patch %s waits for `razar approve %s %s` or `razar reject %s %s`", id, comp.Name, id, comp.Name, id)
			if b.hold != "" {
				r.Message += ": " + b.hold
			}
		})
		o.cfg.Alerts.RaiseNamed(ctx, "RazarPatchPending", bus.SeverityWarning, comp.Name, rec.ID, fmt.Sprintf("%s: patch %s from %s is validated and waits for approval (razar approve %s %s)", comp.Name, id, o.cfg.Display(a.Rung), comp.Name, id))
		// The approval window is its own setting (RAZAR_APPROVAL_WINDOW):
		// a person needs longer than a rung's timeout.
		var approved, decided bool
		select {
		case approved = <-ch:
			decided = true
		case <-o.cfg.Clock.After(wait):
		case <-ctx.Done():
		}
		o.approvals.drop(comp.Name, id)
		if ctx.Err() == nil {
			o.cfg.Alerts.Resolve(ctx, comp.Name, rec.ID, "RazarPatchPending")
		}
		switch {
		case ctx.Err() != nil:
			return razar.OutcomeRejected, "interrupted while waiting for approval"
		case !decided:
			return reject("passed", "no approval within "+waitWhat, "", plan.Files)
		case !approved:
			return reject("passed", "rejected by an operator", "", plan.Files)
		}
	}

	if err := patch.Promote(plan, stage, comp.Workdir, backup); err != nil {
		return reject("passed", "promote failed: "+reasonOf(err), "", plan.Files)
	}
	record(bus.EventApplied, func(r *bus.AuditRecord) { r.Status, r.Summary, r.Files = "applied", c.Summary, patchFiles(plan.Files) })
	o.log.Info().Str("incident", rec.ID).Str("component", comp.Name).Str("patch", id).Int("files", len(plan.Files)).Msg("patch applied")
	return verified()
}

// diffSHA256 is the hex sha256 of a diff's text, as patch.Plan.DiffSHA256.
func diffSHA256(diff string) string {
	h := sha256.Sum256([]byte(diff))
	return hex.EncodeToString(h[:])
}

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
	if o.cfg.Home != "" {
		n, err := patch.CleanStaging(o.cfg.Home)
		if err != nil {
			o.log.Error().Err(err).Msg("stale patch staging dirs not removed")
		} else if n > 0 {
			o.log.Info().Int("dirs", n).Str("dir", filepath.Join(o.cfg.Home, patch.StagingDir)).Msg("removed patch staging dirs left by an earlier run")
		}
	}
	iso, err := o.cfg.Sandbox.Probe(context.Background())
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

func reasonOf(err error) string {
	var re *patch.RejectError
	if errors.As(err, &re) {
		return "patch rejected: " + re.Reason
	}
	return err.Error()
}

func patchFiles(fs []patch.FileChange) []bus.PatchFile {
	out := make([]bus.PatchFile, 0, len(fs))
	for _, f := range fs {
		out = append(out, bus.PatchFile{Path: f.Path, OldPath: f.OldPath, Op: f.Op, SHA256Before: f.SHA256Before, SHA256After: f.SHA256After})
	}
	return out
}
