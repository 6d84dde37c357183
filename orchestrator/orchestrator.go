package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/internal/clock"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/internal/probe"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/patch"
)

// Defaults of CONTRACT section 3.
const (
	DefaultThreshold     = 9 // RAZAR_RSTAR_THRESHOLD
	DefaultWarnThreshold = 3 // RAZAR_ESCALATION_WARNING_THRESHOLD
)

// Config configures an Orchestrator. Roster and Components are required.
type Config struct {
	// Roster returns the current agent roster, read when an incident opens.
	Roster func() (*config.Roster, error)
	// Components returns the current boot config, for health checks.
	Components func() (*config.BootConfig, error)
	// Threshold is RAZAR_RSTAR_THRESHOLD (T). Use DefaultThreshold for the default.
	Threshold int
	// WarnThreshold is RAZAR_ESCALATION_WARNING_THRESHOLD (W); 0 disables.
	WarnThreshold int
	// RemoteAttempts is --remote-attempts: attempts per turn. Default 1.
	RemoteAttempts int
	// LongTask is --long-task.
	LongTask bool
	// TokenBudget is RAZAR_TOKEN_BUDGET: the model tokens one incident may
	// spend before its ladder ends; 0 sets none.
	TokenBudget int64
	// Backoff paces --long-task attempts past the normal ladder.
	Backoff Backoff
	// VerifyWindow is how long a fix has to make the health check pass. Default 10 s.
	VerifyWindow time.Duration
	// SettleWindow is RAZAR_SETTLE_WINDOW: a component failing again this
	// soon after its incident healed reopens that incident (the fix did not
	// hold) instead of opening a new one. Default DefaultSettleWindow;
	// negative turns reopening off.
	SettleWindow time.Duration
	// MaxReopens is how often an incident is reopened; the failure after
	// that ends it failed, which quarantines the component, so the paid
	// rungs a component that never stays healed costs are bounded.
	// Default DefaultMaxReopens.
	MaxReopens int
	// ApprovalWindow is how long a validated patch of a component with
	// "approval": "manual" waits for `razar approve` (RAZAR_APPROVAL_WINDOW);
	// zero: the attempt's timeout.
	ApprovalWindow time.Duration
	// Retention is how long an ended incident stays in RAZAR_STATE
	// (RAZAR_INCIDENT_RETENTION); its records stay on the stream. Zero
	// keeps them until the bucket's own limits; default in cmd: 30 days.
	Retention time.Duration
	// Verify checks that a component is healthy after a fix; default runs its
	// health_check with Probe, retrying within VerifyWindow.
	Verify func(ctx context.Context, c config.Component) error
	// Display names a rung in records; default the roster's display name.
	Display func(agent string) string
	// Ended, when set, is called once an incident's run is over and
	// OpenIncident no longer names it, so whoever shows open incidents
	// (logs/razar_state.json) rewrites its view then.
	Ended func(component, id string)
	// Metrics, when set, are updated; see NewMetrics.
	Metrics *Metrics
	// FixMetrics, when set, count the fix memory's hits, misses and heals;
	// see NewFixMetrics.
	FixMetrics *FixMetrics
	// NoFixMemory turns the fix memory off (RAZAR_FIX_MEMORY=off): every
	// incident climbs the ladder from its first rung (docs/FIXES.md).
	NoFixMemory bool
	// FixMemoryNewFiles is RAZAR_FIX_MEMORY_NEW_FILES: a remembered fix
	// that adds files or executable bits is replayed only once an operator
	// approves it (NewFilesApprove, the default) or never (NewFilesNever).
	FixMemoryNewFiles NewFilesPolicy
	// Alerts receives warning and critical alerts (package alert's
	// Alerter); default logs them only.
	Alerts Alerter
	// Home is the RAZAR home; patch backups go under its state/patches.
	Home string
	// ValidateTimeout bounds a component's validate command. Default 2 min.
	ValidateTimeout time.Duration
	// Sandbox is where validate commands run (patch.Sandbox: the zero
	// value is the strict sandbox, which refuses a patch rather than run
	// it with less isolation; RAZAR_SANDBOX, RAZAR_SANDBOX_UID and
	// RAZAR_SANDBOX_READONLY set it).
	Sandbox patch.Sandbox
	// Clock drives the orchestrator's own waits: the approval window of a
	// held patch, --long-task backoffs, Wait's re-reads. Attempt deadlines
	// are wall-clock times, stored for every process to read. Default clock.Real.
	Clock clock.Clock
	// ContextBytes is the byte budget of the file texts each escalation
	// shows a rung (RAZAR_CONTEXT_BYTES); 0: workspace.DefaultBudget. A
	// component's context.max_bytes wins over it.
	ContextBytes int
	// ContextCalls is a rung's call budget for its context tools per
	// attempt (RAZAR_CONTEXT_CALLS); 0: DefaultContextCalls.
	ContextCalls int
	// Redactor, when set, returns the current secrets to scrub from every
	// text the orchestrator stores, sends to a rung, records or logs. The
	// shapes of secrets are scrubbed with or without it.
	Redactor func() *razar.Redactor
	Log      zerolog.Logger
}

// Orchestrator runs incidents. Create it with New, start it with Run.
type Orchestrator struct {
	cfg   Config
	store *jetstream.Store
	log   zerolog.Logger

	mu      sync.Mutex
	running map[string]*runner // incident id -> its goroutine
	wg      sync.WaitGroup
	ctx     context.Context          // set by Run; incidents opened later run under it
	ended   map[string]chan struct{} // incident -> closed when its goroutine ends, for Wait

	patches  *patch.Pipeline            // the patch store's states: stage, validate, hold, promote, resume
	humans   humans                     // the pages of human rungs waiting for an answer
	resumed  chan struct{}              // closed once Run has resumed the stored open incidents
	results  *results                   // routes the rungs' answers to the waiting attempts
	cycles   map[string]int             // boot cycle -> escalations so far, under mu
	declared map[string]bool            // rungs whose consumer this orchestrator declared, under mu
	recent   map[string][]razar.Attempt // incident -> its newest full attempts, under mu
	lines    map[string][]razar.Attempt // incident -> every finished attempt's summary (keepLine), under mu
	fixes    *fixmem.Memory             // the fix memory; nil when off
	pinMu    sync.Mutex                 // one write of PinnedKey at a time
	desk     desk                       // the pending attempts' context tools (tools.go)
}

type runner struct {
	component string
	rung      string    // the rung holding the pending attempt; "" between attempts
	next      time.Time // when the next attempt starts, during a --long-task backoff
	cancel    context.CancelFunc
}

func (o *Orchestrator) setRung(id, rung string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r, ok := o.running[id]; ok {
		r.rung = rung
	}
}

// setNext records when incident id's next attempt starts (zero: none
// waited for).
func (o *Orchestrator) setNext(id string, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r, ok := o.running[id]; ok {
		r.next = at
	}
}

// NextAttempt is when the open incident of component starts its next
// attempt while it waits out a --long-task backoff; zero otherwise.
func (o *Orchestrator) NextAttempt(component string) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.running {
		if r.component == component {
			return r.next
		}
	}
	return time.Time{}
}

// New validates cfg and returns an orchestrator. Errors wrap razar.ErrInvalidConfig.
func New(store *jetstream.Store, cfg Config) (*Orchestrator, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: orchestrator: no store", razar.ErrInvalidConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	o := &Orchestrator{cfg: cfg, store: store, log: cfg.Log, running: map[string]*runner{}, ended: map[string]chan struct{}{}, resumed: make(chan struct{}),
		results: newResults(cfg.Log), cycles: map[string]int{}, declared: map[string]bool{},
		recent: map[string][]razar.Attempt{}, lines: map[string][]razar.Attempt{}}
	if o.cfg.Clock == nil {
		o.cfg.Clock = clock.Real{}
	}
	if !cfg.NoFixMemory {
		o.fixes = fixmem.New()
	}
	if o.cfg.Verify == nil {
		o.cfg.Verify = o.probeUntilHealthy
	}
	if o.cfg.Alerts == nil {
		o.cfg.Alerts = logAlerts{log: o.log, redact: o.redact}
	}
	if o.cfg.Display == nil {
		o.cfg.Display = o.rosterDisplay
	}
	p, err := patch.New(patch.Config{Home: cfg.Home, Sandbox: cfg.Sandbox, ValidateTimeout: cfg.ValidateTimeout,
		ApprovalWindow: max(cfg.ApprovalWindow, 0), Verify: o.cfg.Verify, Clock: o.cfg.Clock})
	if err != nil {
		return nil, err
	}
	o.patches = p
	return o, nil
}

// withDefaults checks cfg and returns it with the defaults of the fields
// it leaves zero that need no Orchestrator. Errors wrap
// razar.ErrInvalidConfig.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Roster == nil || cfg.Components == nil {
		return cfg, fmt.Errorf("%w: orchestrator: Roster and Components are required", razar.ErrInvalidConfig)
	}
	if cfg.Threshold < 0 || cfg.WarnThreshold < 0 || cfg.RemoteAttempts < 0 {
		return cfg, fmt.Errorf("%w: thresholds and --remote-attempts must not be negative", razar.ErrInvalidConfig)
	}
	if cfg.RemoteAttempts == 0 {
		cfg.RemoteAttempts = 1
	}
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = DefaultLongTaskBackoff
	}
	if cfg.VerifyWindow <= 0 {
		cfg.VerifyWindow = 10 * time.Second
	}
	if cfg.SettleWindow == 0 {
		cfg.SettleWindow = DefaultSettleWindow
	}
	if cfg.MaxReopens <= 0 {
		cfg.MaxReopens = DefaultMaxReopens
	}
	if cfg.ValidateTimeout <= 0 {
		cfg.ValidateTimeout = DefaultValidateTimeout
	}
	switch cfg.FixMemoryNewFiles {
	case "":
		cfg.FixMemoryNewFiles = NewFilesApprove
	case NewFilesApprove, NewFilesNever:
	default:
		return cfg, fmt.Errorf("%w: RAZAR_FIX_MEMORY_NEW_FILES %q: want approve or never", razar.ErrInvalidConfig, cfg.FixMemoryNewFiles)
	}
	return cfg, nil
}

// Thresholds are the settings of the ladder a new incident takes as its
// policy: RAZAR_RSTAR_THRESHOLD, RAZAR_ESCALATION_WARNING_THRESHOLD,
// --remote-attempts and --long-task.
type Thresholds struct {
	Threshold, WarnThreshold, RemoteAttempts int
	LongTask                                 bool
	TokenBudget                              int64 // RAZAR_TOKEN_BUDGET; 0: none
}

// SetThresholds changes the ladder settings of incidents opened from now
// on (a reload); open incidents keep the policy they were opened with.
// Errors wrap razar.ErrInvalidConfig.
func (o *Orchestrator) SetThresholds(t Thresholds) error {
	if t.Threshold < 0 || t.WarnThreshold < 0 || t.RemoteAttempts < 1 || t.TokenBudget < 0 {
		return fmt.Errorf("%w: thresholds must not be negative and --remote-attempts must be 1 or more", razar.ErrInvalidConfig)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cfg.Threshold, o.cfg.WarnThreshold, o.cfg.RemoteAttempts, o.cfg.LongTask = t.Threshold, t.WarnThreshold, t.RemoteAttempts, t.LongTask
	o.cfg.TokenBudget = t.TokenBudget
	return nil
}

// Run resumes every open incident found in the store, then works incidents
// until ctx ends. It returns after every incident goroutine has stopped; the
// incidents stay open in the store for the next orchestrator.
func (o *Orchestrator) Run(ctx context.Context) error {
	o.prepareStaging() // before o.ctx is set, so no incident stages meanwhile
	// The fix memory, before o.ctx is set too: no incident looks it up
	// half replayed.
	o.finishRollbacks(ctx) // what a killed rollback-patch left unfinished
	if o.fixes != nil {
		if err := o.replayFixes(ctx); err != nil && ctx.Err() == nil {
			// Not fatal: the ladder works without it, and learns again.
			o.log.Error().Err(err).Msg("fix memory not replayed from the audit stream; starting empty")
		}
		o.recordRollbacks(ctx) // what was rolled back while RAZAR was stopped
	}
	// The answers' route is up before any attempt waits on it.
	stopResults, err := o.store.Follow(ctx, bus.ResultAll, o.results.deliver)
	if err != nil {
		return err
	}
	defer stopResults()
	// Answers to questions never asked are deleted as they come, so a rung
	// flooding made-up incidents cannot fill RAZAR_RESULTS (results.go).
	stopSweep, err := o.store.Follow(ctx, bus.ResultAll, o.sweepUnasked(ctx))
	if err != nil {
		return err
	}
	defer stopSweep()
	o.mu.Lock()
	o.ctx = ctx
	o.mu.Unlock()
	recs, err := o.store.Incidents(ctx, func(key string, err error) {
		o.log.Error().Err(err).Str("key", key).Msg("unreadable incident record left as is")
	})
	if err != nil {
		return err
	}
	o.countCycles(recs)
	for _, rec := range recs {
		if rec.State == razar.IncidentOpen {
			o.log.Info().Str("incident", rec.ID).Str("component", rec.Component).Int("attempts", len(rec.Attempts)).Msg("resuming open incident")
			o.start(rec.ID, rec.Component, true)
		}
	}
	close(o.resumed)
	if o.cfg.Retention > 0 {
		o.wg.Add(1)
		go func() { defer o.wg.Done(); o.expire(ctx) }()
	}
	<-ctx.Done()
	o.wg.Wait()
	return nil
}

// expire removes ended incidents older than Retention from RAZAR_STATE,
// at start and then every Retention/10 (at most hourly): the bucket holds
// what is open and recent, the stream the whole record.
func (o *Orchestrator) expire(ctx context.Context) {
	every := min(o.cfg.Retention/10, time.Hour)
	for {
		cutoff := time.Now().Add(-o.cfg.Retention)
		recs, err := o.store.Incidents(ctx, nil)
		n := 0
		for _, r := range recs {
			if r.State.Final() && r.Updated.Before(cutoff) {
				if err := o.store.DeleteIncident(ctx, r.ID); err == nil {
					n++
				}
			}
		}
		if err != nil && ctx.Err() == nil {
			o.log.Warn().Err(err).Msg("could not list incidents to expire")
		}
		if n > 0 {
			o.log.Info().Int("incidents", n).Stringer("older_than", o.cfg.Retention).Msg("expired ended incidents from " + bus.KVBucket + "; their records stay on the stream")
		}
		if !clock.Sleep(ctx, o.cfg.Clock, every) {
			return
		}
	}
}

// Resumed waits until Run has picked up the open incidents it found in the
// store, so a caller can tell a component that is already being repaired.
func (o *Orchestrator) Resumed(ctx context.Context) error {
	select {
	case <-o.resumed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// OpenIncident returns the incident this orchestrator is working on for
// component and the rung holding its pending attempt, or "".
func (o *Orchestrator) OpenIncident(component string) (id, rung string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, r := range o.running {
		if r.component == component {
			return id, r.rung
		}
	}
	return "", ""
}

// Escalate opens an incident for component with the failure text, unless one
// is already open for it, and starts it up the ladder. It returns the
// incident id and whether the incident is new. Errors: razar.ErrNotFound for
// a component not in the boot config, razar.ErrInvalidConfig for a bad roster.
func (o *Orchestrator) Escalate(ctx context.Context, component, failure, cycle string) (string, bool, error) {
	if err := razar.ValidName(component); err != nil {
		return "", false, fmt.Errorf("component: %w", err)
	}
	boot, err := o.cfg.Components()
	if err != nil {
		return "", false, err
	}
	comp, err := boot.Component(component)
	if err != nil {
		return "", false, err
	}
	if id, _ := o.OpenIncident(component); id != "" {
		return id, false, nil
	}
	roster, err := o.cfg.Roster()
	if err != nil {
		return "", false, err
	}
	pol := o.policy(roster)
	// Every rung's durable consumer exists before the first attempt, so an
	// attempt for a rung with no process yet waits on the stream for it.
	// Declared once per rung (DeclareRungs does it at start and reload),
	// not per incident.
	if err := o.declare(ctx, roster); err != nil {
		return "", false, err
	}
	now := time.Now().UTC()
	rec := &bus.IncidentRecord{
		ID: newIncidentID(now), Component: component,
		Error: failure, State: razar.IncidentOpen,
		Opened: now, Updated: now, Policy: pol, Workdir: comp.Workdir, Cycle: cycle,
	}
	rec.Scrub(o.redact)
	if err := o.create(ctx, rec, now); err != nil {
		return "", false, err
	}
	o.audit(ctx, &bus.AuditRecord{Event: bus.EventOpened, Component: component, Incident: rec.ID, Error: rec.Error}, bus.AuditMsgID(bus.EventOpened, rec.ID, 0))
	o.log.Warn().Str("component", component).Str("incident", rec.ID).Str("error", cut.FirstLine(rec.Error)).Msg("incident opened: escalating to the repair ladder")
	if !o.start(rec.ID, component, false) {
		return rec.ID, true, errors.New("orchestrator is not running; the incident will resume when it starts")
	}
	return rec.ID, true, nil
}

// policy is the ladder an incident opened now climbs: the thresholds in
// force and roster's rungs.
func (o *Orchestrator) policy(roster *config.Roster) bus.Policy {
	o.mu.Lock()
	pol := bus.Policy{Threshold: o.cfg.Threshold, RemoteAttempts: o.cfg.RemoteAttempts, LongTask: o.cfg.LongTask, WarnThreshold: o.cfg.WarnThreshold,
		TokenBudget: o.cfg.TokenBudget}
	o.mu.Unlock()
	for _, a := range roster.Local() {
		pol.Local = append(pol.Local, a.Name)
	}
	if t, ok := roster.Takeover(); ok {
		pol.Takeover = t.Name
	}
	return pol
}

// create stores rec, a new incident opened at now. The id's random part
// is short, for people to read: at thousands of incidents a second two
// can draw the same one, and the store's create-only put says so. Draw
// again, up to ten times.
func (o *Orchestrator) create(ctx context.Context, rec *bus.IncidentRecord, now time.Time) error {
	for tries := 0; ; tries++ {
		_, err := o.store.CreateIncident(ctx, rec)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrConflict) || tries == 9 {
			return err
		}
		rec.ID = newIncidentID(now)
	}
}

// Abort ends the open incident of component as aborted. It returns the
// incident id, or razar.ErrNotFound when none is open.
func (o *Orchestrator) Abort(ctx context.Context, component, actor string) (string, error) {
	// The incident this orchestrator runs for the component, without
	// listing the bucket; else (opened by another run, not resumed yet)
	// the stored ones.
	var recs []*bus.IncidentRecord
	if id, _ := o.OpenIncident(component); id != "" {
		if r, _, err := o.store.Incident(ctx, id); err == nil {
			recs = []*bus.IncidentRecord{r}
		}
	}
	if len(recs) == 0 {
		var err error
		if recs, err = o.store.Incidents(ctx, nil); err != nil {
			return "", err
		}
	}
	for _, r := range recs {
		if r.Component != component || r.State != razar.IncidentOpen {
			continue
		}
		if err := o.finish(ctx, r.ID, razar.IncidentAborted, "aborted by "+actor); err != nil {
			return "", err
		}
		o.mu.Lock()
		if run, ok := o.running[r.ID]; ok {
			run.cancel()
		}
		o.mu.Unlock()
		return r.ID, nil
	}
	return "", fmt.Errorf("no open incident for %s: %w", component, razar.ErrNotFound)
}

// Wait blocks until incident id has ended or ctx is done, and returns its
// final record; razar.ErrNotFound when there is no such incident. A record
// that cannot be read (the bus restarting, a leader election) is read again
// each second, as the incident's own loop does: an outage of the bus is no
// end of the incident.
func (o *Orchestrator) Wait(ctx context.Context, id string) (*bus.IncidentRecord, error) {
	// Each wait is woken by its own incident's end, not every incident's:
	// a thousand waits would otherwise re-read a thousand records at each.
	o.mu.Lock()
	done, ok := o.ended[id]
	if !ok {
		done = make(chan struct{})
		o.ended[id] = done
	}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		if o.ended[id] == done {
			delete(o.ended, id)
		}
		o.mu.Unlock()
	}()
	for {
		rec, _, err := o.store.Incident(ctx, id)
		if err != nil {
			if errors.Is(err, razar.ErrNotFound) || ctx.Err() != nil {
				return nil, err
			}
			o.log.Warn().Err(err).Str("incident", id).Msg("cannot read the incident while waiting for its end; retrying")
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-o.cfg.Clock.After(time.Second):
			}
			continue
		}
		if rec.State.Final() {
			return rec, nil
		}
		select {
		case <-ctx.Done():
			return rec, ctx.Err()
		case <-done:
			done = nil // ended here, or this orchestrator stopped: poll from now on
		case <-o.cfg.Clock.After(time.Second):
		}
	}
}

// Incidents lists stored incidents, newest first.
func (o *Orchestrator) Incidents(ctx context.Context) ([]*bus.IncidentRecord, error) {
	recs, err := o.store.Incidents(ctx, nil)
	if err != nil {
		return nil, err
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Opened.After(recs[j].Opened) })
	return recs, nil
}

// start runs the incident's goroutine unless one runs already. It reports
// false when Run has not been called.
func (o *Orchestrator) start(id, component string, resumed bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ctx == nil || o.ctx.Err() != nil {
		return false
	}
	if _, ok := o.running[id]; ok {
		return true
	}
	ctx, cancel := context.WithCancel(o.ctx)
	o.running[id] = &runner{component: component, cancel: cancel}
	if o.cfg.Metrics != nil {
		o.cfg.Metrics.Open.Inc()
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer cancel()
		o.runIncident(ctx, id, resumed)
		o.mu.Lock()
		delete(o.running, id)
		if ch, ok := o.ended[id]; ok {
			close(ch)
			delete(o.ended, id)
		}
		o.mu.Unlock()
		if o.cfg.Ended != nil {
			o.cfg.Ended(component, id)
		}
		if o.cfg.Metrics != nil {
			o.cfg.Metrics.Open.Dec()
		}
	}()
	return true
}

func (o *Orchestrator) rosterDisplay(agent string) string {
	if r, err := o.cfg.Roster(); err == nil {
		if e, err := r.Agent(agent); err == nil {
			return e.DisplayName()
		}
	}
	return agent
}

// probeUntilHealthy runs the component's health check until it passes or
// VerifyWindow ends, and returns the last failure.
func (o *Orchestrator) probeUntilHealthy(ctx context.Context, c config.Component) error {
	if c.HealthCheck == nil {
		return errors.New("component has no health_check, so no fix can be verified (fix: add one to boot_config.json)")
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.VerifyWindow)
	defer cancel()
	var last error
	for {
		if last = probe.Component(ctx, c); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// redact scrubs secrets from s.
func (o *Orchestrator) redact(s string) string {
	if o.cfg.Redactor == nil {
		return razar.ScrubShapes(s)
	}
	return o.cfg.Redactor().Redact(s)
}

func newIncidentID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "inc-" + t.Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}
