package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/patch"
)

// The fix memory (docs/FIXES.md): an incident that heals with a patch that
// held is learned under its failure signature (a fix_learned record on the
// audit stream); a new incident with a known signature tries the
// remembered fix first, as an attempt of rung "memory", through the same
// pipeline as any patch. The memory is the fold of the stream's fix
// records (fixmem.Memory), replayed when Run starts.

// MemoryRung is the rung name of an attempt made with a remembered fix.
const MemoryRung = fixmem.MemoryRung

// PinnedKey is the RAZAR_STATE key holding the pinned fixes: the stream's
// records age out (RAZAR_STREAM_MAX_AGE), a permanent rule must not.
const PinnedKey = "fix.pinned"

// fixEvents are the audit events the memory is folded from.
var fixEvents = []bus.Event{bus.EventFixLearned, bus.EventFixFailed, bus.EventFixForgotten, bus.EventFixPinned}

// FixMetrics are the fix memory's series, present from the first scrape.
type FixMetrics struct {
	Hits       prometheus.Counter // a remembered fix was tried
	Misses     prometheus.Counter // no usable remembered fix for a new incident
	Stale      prometheus.Counter // a remembered fix skipped: the files changed since
	Heals      prometheus.Counter // a remembered fix healed an incident
	Learned    prometheus.Counter // fixes learned from incidents that healed
	Signatures prometheus.Gauge   // signatures the memory holds
}

// NewFixMetrics creates the series and registers them on reg (nil: not registered).
func NewFixMetrics(reg prometheus.Registerer) *FixMetrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &FixMetrics{
		Hits:    c("razar_fix_memory_hits_total", "New incidents whose failure signature had a remembered fix that was tried first (rung memory)."),
		Misses:  c("razar_fix_memory_misses_total", "New incidents with no usable remembered fix for their failure signature (unknown, failed, or stale)."),
		Stale:   c("razar_fix_memory_stale_total", "Remembered fixes skipped because the files changed since (before-hashes differ and the diff does not apply)."),
		Heals:   c("razar_fix_memory_heals_total", "Incidents healed by a remembered fix, with no rung asked."),
		Learned: c("razar_fix_memory_learned_total", "Fixes learned: patches that healed an incident and held."),
		Signatures: prometheus.NewGauge(prometheus.GaugeOpts{Name: "razar_fix_memory_signatures",
			Help: "Failure signatures the fix memory holds."}),
	}
	if reg != nil {
		reg.MustRegister(m.Hits, m.Misses, m.Stale, m.Heals, m.Learned, m.Signatures)
	}
	return m
}

func (o *Orchestrator) fixMetric(f func(*FixMetrics)) {
	if m := o.cfg.FixMetrics; m != nil {
		f(m)
		m.Signatures.Set(float64(o.fixes.Len()))
	}
}

// Fixes is the fix memory, for status and the fixes verbs; nil when it is
// off (Config.NoFixMemory).
func (o *Orchestrator) Fixes() *fixmem.Memory { return o.fixes }

// replayFixes folds the stream's fix records into the memory, in stream
// order, once when Run starts.
func (o *Orchestrator) replayFixes(ctx context.Context) error {
	type stored struct {
		seq uint64
		rec *bus.AuditRecord
	}
	var all []stored
	for _, ev := range fixEvents {
		filter := bus.AuditSubject("*", ev)
		for seq := uint64(1); ; {
			m, err := o.store.Next(ctx, filter, seq)
			if err != nil {
				return err
			}
			if m == nil {
				break
			}
			seq = m.Seq + 1
			var r bus.AuditRecord
			if err := bus.Decode(m.Data, &r); err != nil {
				o.log.Warn().Err(err).Uint64("seq", m.Seq).Msg("unreadable fix record skipped")
				continue
			}
			all = append(all, stored{m.Seq, &r})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	for _, s := range all {
		o.fixes.Apply(s.rec, s.seq)
	}
	// The pinned fixes whose records the stream no longer holds.
	switch data, err := o.store.GetRaw(ctx, PinnedKey); {
	case errors.Is(err, razar.ErrNotFound):
	case err != nil:
		return err
	default:
		var pinned []fixmem.Fix
		if err := json.Unmarshal(data, &pinned); err != nil {
			return fmt.Errorf("%s in %s: %w", PinnedKey, bus.KVBucket, err)
		}
		for _, f := range pinned {
			o.fixes.Restore(f)
		}
	}
	o.fixMetric(func(*FixMetrics) {})
	if len(all) > 0 {
		o.log.Info().Int("records", len(all)).Int("signatures", o.fixes.Len()).Msg("fix memory replayed from the audit stream")
	}
	return nil
}

// recordFix publishes a fix record and folds it into the memory once the
// stream holds it: what the memory knows is what a replay would know.
func (o *Orchestrator) recordFix(ctx context.Context, r *bus.AuditRecord, msgID string) error {
	seq := o.auditSeq(ctx, r, msgID)
	if seq == 0 {
		return fmt.Errorf("the %s record of %s could not be stored on the audit stream (see the orchestrator's log)", r.Event, r.Signature)
	}
	o.fixes.Apply(r, seq)
	return nil
}

// savePinned writes the pinned fixes to RAZAR_STATE, after a pin or a
// forget; pinMu keeps two of them from crossing.
func (o *Orchestrator) savePinned(ctx context.Context) error {
	o.pinMu.Lock()
	defer o.pinMu.Unlock()
	data, err := json.Marshal(o.fixes.Pinned())
	if err != nil {
		return err
	}
	return o.store.PutRaw(ctx, PinnedKey, data)
}

// learn remembers the patch that healed rec on attempt a and held (diff,
// before redaction), with the hashes of its files from the patch's
// manifest.
func (o *Orchestrator) learn(ctx context.Context, rec *bus.IncidentRecord, a razar.Attempt, diff string) {
	if o.fixes == nil || a.Rung == MemoryRung {
		return
	}
	var files []bus.PatchFile
	var patchID string
	for i := 0; i < 16 && files == nil; i++ { // the candidate that held: rStar may send several
		id := patch.AttemptID(rec.ID, a.Number, i, a.Started)
		m, err := patch.ReadManifest(o.backupDir(rec.Component, id))
		if errors.Is(err, patch.ErrNothingToRevert) {
			break
		}
		if err == nil && (m.DiffSHA256 == "" || m.DiffSHA256 == diffSHA256(diff)) {
			files, patchID = patchFiles(m.Files), id
		}
	}
	sig := fixmem.Signature(rec.Component, rec.Error)
	r := &bus.AuditRecord{Event: bus.EventFixLearned, Component: rec.Component, Incident: rec.ID,
		Agent: a.Rung, AgentDisplay: o.cfg.Display(a.Rung), Attempt: a.Number, PatchID: patchID,
		Signature: sig, Fix: fixmem.FixID(diff), Diff: diff, Files: files, Error: fixmem.Normalize(rec.Error),
		Status: "learned", Message: fmt.Sprintf("a recurrence of %s tries this fix before any rung", sig)}
	if err := o.recordFix(ctx, r, bus.AuditMsgID(bus.EventFixLearned, rec.ID, a.Number)); err != nil {
		o.log.Error().Err(err).Str("incident", rec.ID).Msg("fix not learned")
		return
	}
	o.log.Info().Str("incident", rec.ID).Str("component", rec.Component).Str("signature", sig).Str("fix", r.Fix).Str("agent", a.Rung).Msg("fix learned")
	o.fixMetric(func(m *FixMetrics) { m.Learned.Inc() })
}

// fits reports whether remembered fix f can be tried on the component's
// files now: nil when the files it touches still have its before-hashes,
// or its diff applies cleanly anyway; else why not.
func (o *Orchestrator) fits(comp config.Component, f fixmem.Fix) error {
	plan, err := patch.Check(f.Diff, comp.Workdir, patch.Limits{Protected: patch.ComponentProtections(comp)})
	if err != nil {
		return fmt.Errorf("its diff no longer applies: %s", reasonOf(err))
	}
	before := map[string]string{}
	for _, pf := range f.Files {
		before[pf.Path] = pf.SHA256Before
	}
	same := len(f.Files) == len(plan.Files)
	for _, fc := range plan.Files {
		if b, ok := before[fc.Path]; !ok || b != fc.SHA256Before {
			same = false
		}
	}
	if same {
		return nil
	}
	_, cleanup, err := patch.Stage(plan, comp.Workdir, razar.Home(o.cfg.Home).Staging())
	cleanup()
	if err != nil {
		return fmt.Errorf("the files changed since it was learned and its diff does not apply: %s", reasonOf(err))
	}
	return nil
}

// fromMemory is the hook before the ladder's first rung. For a new
// incident whose signature has a remembered fix that fits the files, it
// stores a pending attempt of rung memory and returns it (for
// runIncident to settle); a fix that does not fit is recorded skipped.
// handled is false when the ladder should go on as if there were no
// memory: it is off, this is not the incident's first step, or nothing is
// remembered for the signature.
func (o *Orchestrator) fromMemory(ctx context.Context, rec *bus.IncidentRecord, rev uint64) (next *bus.IncidentRecord, nrev uint64, handled bool, err error) {
	comp, sig, cands, ok := o.remembered(rec)
	if !ok {
		return nil, 0, false, nil
	}
	pick, hold, stale, refused := o.pickFix(comp, cands)
	rec.Cursor = bus.Cursor{Phase: "local", Pass: 1} // the memory's turn is taken, whatever comes of it
	if pick == nil {
		return nil, 0, true, o.skipMemory(ctx, rec, rev, sig, stale, refused)
	}
	now := time.Now().UTC()
	timeout := config.DefaultAgentTimeout
	if o.cfg.ApprovalWindow > timeout && (comp.Approval == "manual" || hold) {
		timeout = o.cfg.ApprovalWindow
	}
	rec.Pending = &bus.Pending{Attempt: rec.NextAttempt(), Rung: MemoryRung, Pass: 1, Started: now, Deadline: now.Add(timeout), Fix: pick.ID}
	nrev, err = o.store.UpdateIncident(ctx, rec, rev)
	if err != nil {
		return nil, 0, true, err
	}
	o.setRung(rec.ID, MemoryRung)
	o.log.Info().Str("incident", rec.ID).Str("component", rec.Component).Str("signature", sig).Str("fix", pick.ID).
		Str("written_by", pick.Rung).Msg("known failure: trying the remembered fix before any rung")
	o.fixMetric(func(m *FixMetrics) { m.Hits.Inc() })
	return rec, nrev, true, nil
}

// remembered returns the component of rec, the signature of its failure
// and the fixes remembered for it. ok is false when the memory has no
// say: it is off, this is not the incident's first step, nothing is
// remembered (a miss), or the component has no workdir to patch.
func (o *Orchestrator) remembered(rec *bus.IncidentRecord) (comp config.Component, sig string, cands []fixmem.Fix, ok bool) {
	if o.fixes == nil || rec.Cursor.Phase != "" || rec.Earlier+len(rec.Attempts) > 0 {
		return comp, "", nil, false
	}
	if o.fixes.Len() > 0 { // an empty memory costs no normalising
		sig = fixmem.Signature(rec.Component, rec.Error)
		cands = o.fixes.Candidates(sig)
	}
	if len(cands) == 0 {
		o.fixMetric(func(m *FixMetrics) { m.Misses.Inc() })
		return comp, "", nil, false
	}
	boot, err := o.cfg.Components()
	if err != nil {
		return comp, "", nil, false // the ladder reports the broken config
	}
	comp, err = boot.Component(rec.Component)
	if err != nil || comp.Workdir == "" || o.cfg.Home == "" {
		return comp, "", nil, false
	}
	return comp, sig, cands, true
}

// pickFix returns the first of cands that fits comp's files, and hold
// when it adds code, so an operator approves its replay. stale says why
// the fixes before it did not fit, refused which ones add code that
// RAZAR_FIX_MEMORY_NEW_FILES=never forbids.
func (o *Orchestrator) pickFix(comp config.Component, cands []fixmem.Fix) (pick *fixmem.Fix, hold bool, stale, refused []string) {
	for i := range cands {
		if err := o.fits(comp, cands[i]); err != nil {
			stale = append(stale, fmt.Sprintf("fix %s: %v", cands[i].ID, err))
			continue
		}
		if adds := addsCode(comp, cands[i]); adds != "" {
			if o.cfg.FixMemoryNewFiles == NewFilesNever {
				refused = append(refused, fmt.Sprintf("fix %s %s: never replayed (RAZAR_FIX_MEMORY_NEW_FILES=never)", cands[i].ID, adds))
				continue
			}
			hold = true
		}
		return &cands[i], hold, stale, refused
	}
	return nil, false, stale, refused
}

// skipMemory stores and records the memory's turn skipped: none of the
// fixes remembered for sig could be tried, stale and refused say why.
func (o *Orchestrator) skipMemory(ctx context.Context, rec *bus.IncidentRecord, rev uint64, sig string, stale, refused []string) error {
	reason := fmt.Sprintf("remembered fixes of %s are stale: %s", sig, strings.Join(stale, "; "))
	if len(refused) > 0 {
		reason = fmt.Sprintf("remembered fixes of %s not tried: %s", sig, strings.Join(append(refused, stale...), "; "))
	}
	rec.AddSkip(bus.Skip{Rung: MemoryRung, Pass: 1, Reason: bus.Clip(reason, bus.MaxErrorBytes), Time: time.Now().UTC()})
	if _, err := o.store.UpdateIncident(ctx, rec, rev); err != nil {
		return err
	}
	o.audit(ctx, &bus.AuditRecord{Event: bus.EventSkipped, Component: rec.Component, Incident: rec.ID,
		Agent: MemoryRung, AgentDisplay: MemoryRung, Pass: 1, Status: "skipped", Error: reason, Signature: sig},
		bus.AuditMsgID(bus.EventSkipped, rec.ID, rec.Skipped))
	o.log.Info().Str("incident", rec.ID).Str("component", rec.Component).Str("signature", sig).Str("reason", reason).Msg("remembered fix skipped: the files changed since")
	o.fixMetric(func(m *FixMetrics) { m.Stale.Add(float64(len(stale))); m.Misses.Inc() })
	return nil
}

// settleMemory takes the pending memory attempt's fix through the patch
// pipeline (protected paths, sandboxed validation, approval, verification,
// revert) and stores the finished attempt. It counts towards
// RAZAR_RSTAR_THRESHOLD like any failed attempt; a fix that fails is
// marked and not tried again for its signature until it heals anew.
func (o *Orchestrator) settleMemory(ctx context.Context, rec *bus.IncidentRecord, rev uint64) error {
	p := rec.Pending
	sig := fixmem.Signature(rec.Component, rec.Error)
	a := razar.Attempt{Number: p.Attempt, Rung: MemoryRung, Pass: p.Pass, Started: p.Started}
	f, ok := o.fixes.Fix(sig, p.Fix)
	if !ok {
		a.Outcome, a.Error = razar.OutcomeError, fmt.Sprintf("remembered fix %s of %s is gone (forgotten meanwhile)", p.Fix, sig)
	} else if err := o.replay(ctx, rec, &a, f, sig); err != nil {
		return err
	}
	a.Finished = time.Now().UTC()
	bus.ScrubAttempt(&a, o.redact)
	if a.Failed() {
		// Counted toward T, without using up the first rung's turn.
		rec.Cursor.Failed++
	}
	seq := o.recordAttempt(ctx, rec, a, razar.Usage{})
	o.remember(rec.ID, a)
	line := bus.SummarizeAttempt(a, seq)
	o.keepLine(rec.ID, line)
	rec.AddAttempt(line)
	rec.Pending = nil
	if a.Outcome == razar.OutcomeHealed {
		rec.State = razar.IncidentHealed
		rec.Reason = fmt.Sprintf("a remembered fix (%s, written by %s) healed it on attempt %d; no rung was asked", f.ID, o.cfg.Display(f.Rung), a.Number)
	}
	if _, err := o.store.UpdateIncident(ctx, rec, rev); err != nil {
		return err
	}
	switch {
	case a.Outcome == razar.OutcomeHealed:
		o.fixMetric(func(m *FixMetrics) { m.Heals.Inc() })
	case ok:
		o.markFixFailed(ctx, rec, a, f, sig)
	}
	if rec.State.Final() {
		o.recordEnd(ctx, rec)
	}
	return nil
}

// replay takes the remembered fix f of sig through the patch pipeline as
// the pending attempt a, and fills a's outcome. A fix that adds code is
// refused or held for approval, as RAZAR_FIX_MEMORY_NEW_FILES says. It
// returns ctx's error if ctx ended meanwhile.
func (o *Orchestrator) replay(ctx context.Context, rec *bus.IncidentRecord, a *razar.Attempt, f fixmem.Fix, sig string) error {
	p := rec.Pending
	a.Summary = fmt.Sprintf("remembered fix %s of %s, written by %s for %s on %s", f.ID, sig, o.cfg.Display(f.Rung), f.Incident, f.Learned.Format(time.RFC3339))
	a.Diff = f.Diff
	res := &bus.Result{Incident: rec.ID, Attempt: a.Number, Rung: MemoryRung, Status: razar.StatusFixed, Summary: a.Summary, Diff: f.Diff}
	b := answerBounds{limit: 1, deadline: p.Deadline, window: p.Deadline.Sub(p.Started)}
	var adds string
	if boot, err := o.cfg.Components(); err == nil {
		if comp, err := boot.Component(rec.Component); err == nil {
			adds = addsCode(comp, f)
		}
	}
	switch {
	case adds != "" && o.cfg.FixMemoryNewFiles == NewFilesNever:
		a.Outcome, a.Reason = razar.OutcomeRejected, fmt.Sprintf("remembered fix %s %s: never replayed (RAZAR_FIX_MEMORY_NEW_FILES=never)", f.ID, adds)
	default:
		if adds != "" {
			b.hold = fmt.Sprintf("remembered fix %s %s: an operator approves its replay (RAZAR_FIX_MEMORY_NEW_FILES=approve)", f.ID, adds)
		}
		a.Outcome, a.Reason, _ = o.applyFix(ctx, rec, *a, res, b)
	}
	return ctx.Err()
}

// markFixFailed records that the remembered fix f of sig failed attempt
// a, so it is not tried again for sig until it heals anew (unless it is
// pinned).
func (o *Orchestrator) markFixFailed(ctx context.Context, rec *bus.IncidentRecord, a razar.Attempt, f fixmem.Fix, sig string) {
	r := &bus.AuditRecord{Event: bus.EventFixFailed, Component: rec.Component, Incident: rec.ID, Agent: MemoryRung,
		Attempt: a.Number, Signature: sig, Fix: f.ID, Status: "failed", Reason: firstNonEmpty(a.Reason, a.Error),
		Message: "not tried again for this signature until it heals an incident anew"}
	if f.Pinned {
		r.Message = "pinned: kept, and tried again next time"
	}
	if err := o.recordFix(ctx, r, bus.AuditMsgID(bus.EventFixFailed, rec.ID, a.Number)); err != nil {
		o.log.Error().Err(err).Str("incident", rec.ID).Msg("failed fix not marked")
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// ForgetFix drops every remembered fix of sig. It fails with
// razar.ErrNotFound when the memory holds none.
func (o *Orchestrator) ForgetFix(ctx context.Context, sig, actor string) (int, error) {
	if o.fixes == nil {
		return 0, errors.New("the fix memory is off (RAZAR_FIX_MEMORY=off)")
	}
	fixes := o.fixes.Show(sig)
	if len(fixes) == 0 {
		return 0, fmt.Errorf("no remembered fix for %s: %w (see `razar fixes list`)", sig, razar.ErrNotFound)
	}
	r := &bus.AuditRecord{Event: bus.EventFixForgotten, Component: fixes[0].Component, Signature: sig, Actor: actor, Status: "forgotten",
		Message: fmt.Sprintf("%d remembered fixes dropped; the next occurrence climbs the ladder", len(fixes))}
	if err := o.recordFix(ctx, r, ""); err != nil {
		return 0, err
	}
	o.fixMetric(func(*FixMetrics) {})
	if slices.ContainsFunc(fixes, func(f fixmem.Fix) bool { return f.Pinned }) {
		if err := o.savePinned(ctx); err != nil {
			return 0, fmt.Errorf("forgotten, but the pinned fixes in %s were not rewritten: %w (forget it again)", bus.KVBucket, err)
		}
	}
	return len(fixes), nil
}

// PinFix makes fix id of sig ("" id: the newest) a permanent rule: tried
// first, kept when it fails. It fails with razar.ErrNotFound when there is
// no such fix.
func (o *Orchestrator) PinFix(ctx context.Context, sig, id, actor string) (fixmem.Fix, error) {
	if o.fixes == nil {
		return fixmem.Fix{}, errors.New("the fix memory is off (RAZAR_FIX_MEMORY=off)")
	}
	f, ok := o.fixes.Fix(sig, id)
	if !ok {
		what := "no remembered fix for " + sig
		if id != "" {
			what = "no remembered fix " + id + " for " + sig
		}
		return fixmem.Fix{}, fmt.Errorf("%s: %w (see `razar fixes show %s`)", what, razar.ErrNotFound, sig)
	}
	r := &bus.AuditRecord{Event: bus.EventFixPinned, Component: f.Component, Signature: sig, Fix: f.ID, Actor: actor, Status: "pinned",
		Message: "a permanent rule: tried first for this signature, kept when it fails"}
	if err := o.recordFix(ctx, r, ""); err != nil {
		return fixmem.Fix{}, err
	}
	if err := o.savePinned(ctx); err != nil {
		return fixmem.Fix{}, fmt.Errorf("pinned on the audit stream, but not kept in %s, so it ages out with the stream: %w (pin it again)", bus.KVBucket, err)
	}
	f.Pinned, f.PinnedBy = true, actor
	return f, nil
}

// RegisterFixes adds the fix memory's verbs to l: fixes (list, or show
// one signature; every role), fix_forget and fix_pin (operators).
func (o *Orchestrator) RegisterFixes(l *bus.Lifecycle) {
	operator := func(req *bus.LifecycleRequest, verb string) error {
		if req.Who == nil || req.Who.Role != auth.Operator {
			return fmt.Errorf("%w: %s changes what RAZAR applies on its own: an operator identity decides (razar --creds state/identities/operator.creds)", bus.ErrForbidden, verb)
		}
		if !fixmem.ValidSignature(req.Signature) {
			return fmt.Errorf("%w: signature %q: want sig-<16 hex digits>, as `razar fixes list` prints", razar.ErrBadPayload, req.Signature)
		}
		return nil
	}
	l.Handle(bus.VerbFixes, func(_ context.Context, _ string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if o.fixes == nil {
			return nil, errors.New("the fix memory is off (RAZAR_FIX_MEMORY=off)")
		}
		var v any = o.fixes.List()
		msg := fmt.Sprintf("%d signatures remembered", o.fixes.Len())
		if req.Signature != "" {
			fixes := o.fixes.Show(req.Signature)
			if len(fixes) == 0 {
				return nil, fmt.Errorf("no remembered fix for %s: %w (see `razar fixes list`)", req.Signature, razar.ErrNotFound)
			}
			v, msg = fixes, fmt.Sprintf("%d fixes for %s", len(fixes), req.Signature)
		}
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return &bus.LifecycleReply{Message: msg, Data: data}, nil
	})
	l.Handle(bus.VerbFixForget, func(ctx context.Context, _ string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if err := operator(req, "forgetting a fix"); err != nil {
			return nil, err
		}
		n, err := o.ForgetFix(ctx, req.Signature, req.ActorName())
		if err != nil {
			return nil, err
		}
		return &bus.LifecycleReply{Message: fmt.Sprintf("%s forgotten (%d fixes): its next occurrence climbs the ladder", req.Signature, n)}, nil
	})
	l.Handle(bus.VerbFixPin, func(ctx context.Context, _ string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if err := operator(req, "pinning a fix"); err != nil {
			return nil, err
		}
		f, err := o.PinFix(ctx, req.Signature, req.Fix, req.ActorName())
		if err != nil {
			return nil, err
		}
		return &bus.LifecycleReply{Message: fmt.Sprintf("fix %s of %s pinned: a permanent rule, tried first", f.ID, req.Signature)}, nil
	})
}
