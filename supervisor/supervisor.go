package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/backoff"
	"github.com/razar/razar/internal/clock"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/internal/logrot"
	"github.com/razar/razar/internal/probe"
	"github.com/razar/razar/jetstream"
)

// HaltMessage is the critical alert of a halted boot, exactly as operators grep for it.
const HaltMessage = "Boot sequence halted; configuration rolled back to safe defaults"

// ErrBootHalted is returned by Boot when a component could not be healed.
var ErrBootHalted = errors.New(HaltMessage)

// ErrQuarantined is returned for a component whose incident did not heal it.
var ErrQuarantined = errors.New("component quarantined")

// ErrAborted is returned for a component whose incident an operator
// aborted (`razar abort`): the operator took the incident, so a boot cycle
// quarantines the component and goes on rather than halt.
var ErrAborted = errors.New("incident aborted by an operator")

// ErrNotHalted is returned by Resume when no halted boot cycle waits.
var ErrNotHalted = errors.New("no halted boot cycle to resume")

// ErrHeld is returned by a start the supervisor gave up because an
// operator stopped the component: an operator's stop wins over every
// automatic start.
var ErrHeld = errors.New("stopped by an operator")

// Reopener is an Escalator that reopens an incident whose heal did not
// hold: Reopen returns the incident it reopened (or ended, when the
// component never stays healed) for a failure of component, or "" when
// the component's last heal is not that recent.
type Reopener interface {
	Reopen(ctx context.Context, component, failure string) (id string, err error)
}

// Escalator is what the supervisor needs of the repair ladder. The
// orchestrator satisfies it; the supervisor calls nothing else of it.
type Escalator interface {
	// Escalate opens an incident for component (or returns the open one,
	// isNew false) and starts it up the ladder.
	Escalate(ctx context.Context, component, failure, cycle string) (id string, isNew bool, err error)
	// Wait blocks until incident id has ended, and returns its final record.
	Wait(ctx context.Context, id string) (*bus.IncidentRecord, error)
	// Abort ends the component's open incident as aborted by actor.
	Abort(ctx context.Context, component, actor string) (string, error)
	// OpenIncident returns the incident open for component and the rung
	// holding its pending attempt now ("" between attempts), or "".
	OpenIncident(component string) (id, rung string)
	// NextAttempt is when the open incident of component starts its next
	// attempt while it waits out a --long-task backoff; zero otherwise.
	NextAttempt(component string) time.Time
	// Resumed waits until the incidents stored before a restart are picked up.
	Resumed(ctx context.Context) error
}

// Alerter raises warning and critical alerts.
type Alerter interface {
	// RaiseNamed raises an alert named name (its Alertmanager alertname).
	RaiseNamed(ctx context.Context, name string, sev bus.Severity, component, incident, msg string)
	// Resolve ends the component's firing alerts (of incident, when set;
	// of the given names, when any).
	Resolve(ctx context.Context, component, incident string, names ...string)
	// ResolveNamed resolves one alert even if an earlier run raised it.
	ResolveNamed(ctx context.Context, name string, sev bus.Severity, component, incident string)
}

// Config configures a Supervisor. Home is required.
type Config struct {
	// Home is the RAZAR home: logs/, quarantine/, config/ and state/ live under it.
	Home string
	// StoreError, when set, says why the record store cannot be written
	// (nil while it can): the mission is not healthy meanwhile.
	StoreError func() error
	// Retries is --retries: local restarts of a crash loop before it is
	// escalated. A crash counts until the component has run stably for
	// StableAfter.
	Retries int
	// Backoff paces local restarts: 1 s doubling to 60 s by default, with Jitter.
	Backoff backoff.Backoff
	// Jitter adds up to this fraction of each backoff at random. Default
	// 0.2; negative disables it.
	Jitter float64
	// ProbeInterval is RAZAR_HEALTH_PROBE_INTERVAL. Default 30 s.
	ProbeInterval time.Duration
	// StartGrace is how long a component must stay up before its first
	// probe, when boot_config gives no start_grace. Default 1 s.
	StartGrace time.Duration
	// StopGrace is SIGTERM to SIGKILL. Default 5 s.
	StopGrace time.Duration
	// StableAfter is the healthy run after which a crash starts a new
	// restart budget and backoff, as Kubernetes' CrashLoopBackOff. Default 10 min.
	StableAfter time.Duration
	// LogMaxBytes bounds each logs/components/<name>.log (copy-truncate
	// rotation to <name>.log.1). Default 10 MiB.
	LogMaxBytes int64
	// HandshakeWait is how long the boot's handshake waits for Crown to
	// answer (its subscription may still be starting). Default 5 s.
	HandshakeWait time.Duration
	// Clock drives every wait: start graces, backoffs, probe ticks. Default clock.Real.
	Clock clock.Clock
	// Host names this host in the components' heartbeats. Default the hostname.
	Host string
	// Alerts receives the boot-halt alert. Required.
	Alerts Alerter
	// Redact scrubs secrets from every text the supervisor stores or logs.
	// Default razar.ScrubShapes: the shapes of secrets are always scrubbed.
	Redact func(string) string
	Log    zerolog.Logger
}

// Supervisor owns the host: it boots components in priority order, keeps
// them up, restarts what fails with backoff, hands crash loops and
// components that will not start to the ladder through its Escalator, and
// quarantines what the ladder cannot heal. An operator's stop holds over all
// of it.
//
// Each component's process, status and recovery are guarded by mu; each
// component's (re)starts are serialised by its op lock. Recoveries, exit
// watchers and incident followers run in goroutines the supervisor owns and
// Close (or Detach) waits for.
type Supervisor struct {
	cfg   Config
	store *jetstream.Store
	esc   Escalator
	log   zerolog.Logger
	rot   *logrot.Rotator
	// markKey signs the start markers in the components' logs; nil when
	// it could not be made (every marker then reads as the component's).
	markKey []byte

	mu    sync.Mutex
	comps map[string]*comp
	order []string // names in boot order
	cycle string
	// haltedCycle is the boot cycle that halted and has not gone on since
	// (Resume, a new Boot, or every component up again).
	haltedCycle string
	closed      bool

	stateMu sync.Mutex // serialises writes of logs/razar_state.json
	states  stateWriter

	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

type comp struct {
	op          sync.Mutex // serialises (re)starts: supervision, operators and fix verification
	spec        config.Component
	proc        *process
	status      string
	held        bool // an operator stopped it: nothing starts it but `razar start`
	incident    string
	restarts    int       // local restarts since RAZAR started
	crashes     int       // restarts of the current crash loop
	healthy     time.Time // healthy since; zero while not healthy
	nextRestart time.Time
	backoff     time.Duration
	lastExit    string
	lastProbe   time.Time
	// probesPassed and probesFailed count health checks since RAZAR started.
	probesPassed, probesFailed int
	lastError                  string // as it came: the status view scrubs it (bus.ComponentView.Scrub)
	wantUp                     bool
	recovering                 bool
	cancelRecov                context.CancelFunc
}

// New returns a supervisor for the components of boot that asks esc for
// repairs. Errors wrap razar.ErrInvalidConfig.
func New(store *jetstream.Store, esc Escalator, boot *config.BootConfig, cfg Config) (*Supervisor, error) {
	if store == nil || esc == nil || boot == nil {
		return nil, fmt.Errorf("%w: supervisor: store, escalator and boot config are required", razar.ErrInvalidConfig)
	}
	if cfg.Home == "" || cfg.Alerts == nil {
		return nil, fmt.Errorf("%w: supervisor: Home and Alerts are required", razar.ErrInvalidConfig)
	}
	if cfg.Retries < 0 {
		return nil, fmt.Errorf("%w: --retries must not be negative", razar.ErrInvalidConfig)
	}
	if cfg.Backoff == (backoff.Backoff{}) {
		cfg.Backoff = backoff.Backoff{Base: time.Second, Max: time.Minute}
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.2
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = 30 * time.Second
	}
	if cfg.StartGrace <= 0 {
		cfg.StartGrace = time.Second
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 5 * time.Second
	}
	if cfg.StableAfter <= 0 {
		cfg.StableAfter = 10 * time.Minute
	}
	if cfg.LogMaxBytes <= 0 {
		cfg.LogMaxBytes = 10 << 20
	}
	if cfg.HandshakeWait <= 0 {
		cfg.HandshakeWait = 5 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Redact == nil {
		cfg.Redact = razar.ScrubShapes
	}
	if cfg.Host == "" {
		cfg.Host, _ = os.Hostname()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{cfg: cfg, store: store, esc: esc, log: cfg.Log, comps: map[string]*comp{}, ctx: ctx, cancel: cancel,
		rot: logrot.NewRotator(cfg.LogMaxBytes, 5*time.Second)}
	var err error
	if s.markKey, err = logrot.EnsureMarkKey(razar.Home(cfg.Home).LogMarkKey()); err != nil {
		s.log.Warn().Err(err).Msg("start markers in the components' logs cannot be told from a component's copies")
	}
	s.setComponents(boot.Components)
	s.loadQuarantines()
	s.loadHolds()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.rot.Run(ctx) }()
	return s, nil
}

// setComponents adds the components of a boot config it does not know and
// updates the specs of those it does; the boot order follows the config.
func (s *Supervisor) setComponents(specs []config.Component) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order = s.order[:0]
	for _, c := range specs {
		s.order = append(s.order, c.Name)
		if old, ok := s.comps[c.Name]; ok {
			old.spec = c
			continue
		}
		s.comps[c.Name] = &comp{spec: c, status: bus.StatusStopped}
		s.rot.Add(s.componentLog(c.Name))
	}
}

// Boot runs one boot cycle: snapshot the roster, then bring up components by
// priority (lower first; one priority's components together), adopting
// those an earlier RAZAR left running, each healed locally or up the
// ladder. A component an operator stopped stays stopped and the cycle goes
// on; so does the cycle when an operator aborts a component's incident
// (the component is quarantined). It returns ErrBootHalted, after stopping
// what the cycle started and restoring the roster, when a component could
// not be healed; Resume takes the cycle on from there.
func (s *Supervisor) Boot(ctx context.Context) error {
	// A new cycle: the last one's halt page is over (it is raised again
	// if this cycle halts too).
	s.cfg.Alerts.ResolveNamed(ctx, "RazarBootHalted", bus.SeverityCritical, bus.SystemComponent, "")
	s.mu.Lock()
	s.cycle = "boot-" + s.cfg.Clock.Now().UTC().Format("20060102-150405")
	s.haltedCycle = ""
	s.mu.Unlock()
	if err := s.runCycle(ctx); err != nil {
		return err
	}
	s.log.Info().Msg("boot cycle complete")
	return nil
}

// Resume takes a halted boot cycle on from where it stopped: every
// component the halt left down (and those released from quarantine since)
// is brought up in priority order, as Boot does; what runs or an operator
// stopped is left alone. It refuses, changing nothing, while a component is
// still quarantined (release it first) and returns ErrNotHalted when no
// halted cycle waits. The cycle runs in the background; done, if not nil,
// gets its end (nil, or ErrBootHalted when it halted again). The halt's
// page is resolved when the cycle completes.
func (s *Supervisor) Resume(ctx context.Context, done func(error)) (string, error) {
	s.mu.Lock()
	if s.haltedCycle == "" || s.closed {
		s.mu.Unlock()
		return "", ErrNotHalted
	}
	var quarantined []string
	for _, name := range s.order {
		if s.comps[name].status == bus.StatusQuarantined {
			quarantined = append(quarantined, name)
		}
	}
	if len(quarantined) > 0 {
		s.mu.Unlock()
		var rel []string
		for _, q := range quarantined {
			rel = append(rel, "`razar release "+q+"`")
		}
		return "", fmt.Errorf("%s still quarantined: fix it, then %s, then `razar resume`: %w",
			strings.Join(quarantined, ", "), strings.Join(rel, ", "), ErrQuarantined)
	}
	cycle := s.haltedCycle
	s.cycle, s.haltedCycle = cycle, ""
	s.wg.Add(1) // under mu: shutdown sets closed under it before it waits
	s.mu.Unlock()
	s.log.Info().Str("cycle", cycle).Msg("resuming the halted boot cycle")
	go func() {
		defer s.wg.Done()
		err := s.runCycle(s.ctx)
		switch {
		case err == nil:
			s.cfg.Alerts.ResolveNamed(context.WithoutCancel(ctx), "RazarBootHalted", bus.SeverityCritical, bus.SystemComponent, "")
			s.log.Info().Str("cycle", cycle).Msg("resumed boot cycle complete")
		case errors.Is(err, ErrBootHalted):
			s.log.Error().Str("cycle", cycle).Msg(HaltMessage + "; fix it, then `razar release <component>` and `razar resume`")
		case s.ctx.Err() == nil:
			s.log.Error().Err(err).Str("cycle", cycle).Msg("resumed boot cycle failed")
		}
		if done != nil {
			done(err)
		}
	}()
	return cycle, nil
}

// runCycle brings up the components of the cycle s.cycle names in priority
// order, leaving alone those that run and those an operator holds, and
// halts when one cannot be healed.
func (s *Supervisor) runCycle(ctx context.Context) error {
	specs := s.markWaiting()
	s.writeState()
	s.stopRemoved(ctx)
	if err := s.snapshotRoster(ctx); err != nil {
		return err
	}
	s.handshake(ctx)
	// An incident resumed from before a restart owns its component: wait
	// until they are picked up, so bringUp follows rather than fights them.
	if err := s.esc.Resumed(ctx); err != nil {
		return err
	}

	groups, prios := byPriority(specs)
	var started []string
	for _, p := range prios {
		if err := s.bringUpGroup(ctx, groups[p], &started); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.cycle = "" // repairs after boot are each a cycle of their own
	s.mu.Unlock()
	s.writeState()
	return nil
}

// markWaiting returns the components' specs in roster order and marks the
// stopped ones not held as waiting for the cycle.
func (s *Supervisor) markWaiting() []config.Component {
	s.mu.Lock()
	defer s.mu.Unlock()
	var specs []config.Component
	for _, name := range s.order {
		c := s.comps[name]
		specs = append(specs, c.spec)
		if c.status == bus.StatusStopped && !c.held {
			c.status = bus.StatusWaiting
		}
	}
	return specs
}

// byPriority groups specs by priority, keeping their order in each group,
// and returns the priorities in ascending order.
func byPriority(specs []config.Component) (map[int][]config.Component, []int) {
	groups := map[int][]config.Component{}
	var prios []int
	for _, c := range specs {
		if _, ok := groups[c.Priority]; !ok {
			prios = append(prios, c.Priority)
		}
		groups[c.Priority] = append(groups[c.Priority], c)
	}
	sort.Ints(prios)
	return groups, prios
}

// bringUpGroup brings up the components of one priority not up already,
// in parallel, adding their names to started. A component that cannot be
// brought up halts the boot (ErrBootHalted); one whose incident an
// operator aborted stays quarantined and the boot goes on.
func (s *Supervisor) bringUpGroup(ctx context.Context, group []config.Component, started *[]string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(group))
	for i, c := range group {
		if s.isUp(c.Name) {
			continue // running already: an operator started it since a halt
		}
		*started = append(*started, c.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.bringUp(ctx, c.Name)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for i, err := range errs {
		if errors.Is(err, ErrAborted) {
			// The operator took the incident: the component stays
			// quarantined and the cycle goes on.
			s.log.Warn().Str("component", group[i].Name).Msg("incident aborted by an operator: component quarantined, boot goes on")
			continue
		}
		if err != nil {
			s.log.Error().Err(err).Str("component", group[i].Name).Msg("component could not be brought up")
			s.halt(ctx, *started)
			return ErrBootHalted
		}
	}
	return nil
}

// isUp reports whether a component's process runs and it is healthy.
func (s *Supervisor) isUp(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.comps[name]
	return c != nil && c.status == bus.StatusHealthy && c.proc != nil && c.proc.running()
}

// bringUp starts one component at boot, healing it if it will not stay up.
// A component an operator holds stopped is left alone.
func (s *Supervisor) bringUp(ctx context.Context, name string) error {
	s.mu.Lock()
	c := s.comps[name]
	if c.held {
		s.mu.Unlock()
		s.log.Info().Str("component", name).Msg("left stopped: an operator stopped it (`razar start` brings it up)")
		return nil
	}
	if c.status == bus.StatusQuarantined {
		s.mu.Unlock()
		return fmt.Errorf("%s is quarantined from an earlier incident (%s): fix it, then `razar release %s`: %w", name, c.incident, name, ErrQuarantined)
	}
	c.wantUp = true
	s.mu.Unlock()
	if id, _ := s.esc.OpenIncident(name); id != "" {
		s.log.Info().Str("component", name).Str("incident", id).Msg("component has an open incident from before the restart; following it")
		return s.unlessHeld(name, s.follow(ctx, name, id))
	}
	if s.tryAdopt(ctx, name) {
		return nil
	}
	err := s.startAndCheck(ctx, name)
	if err == nil || errors.Is(err, ErrHeld) {
		return nil
	}
	return s.unlessHeld(name, s.recoverSync(ctx, name, err.Error()))
}

// unlessHeld turns an error that came from an operator's stop into nil: the
// component is down because an operator wants it down.
func (s *Supervisor) unlessHeld(name string, err error) error {
	if err == nil {
		return nil
	}
	s.mu.Lock()
	h := s.comps[name] != nil && s.comps[name].held
	s.mu.Unlock()
	if h || errors.Is(err, ErrHeld) {
		return nil
	}
	return err
}

// startAndCheck (re)launches a component and waits its start grace: it
// counts as started only if it is still running and its probe passes. It
// returns ErrHeld, launching nothing, when an operator holds the component
// stopped, and when an operator's stop arrives while it waits.
func (s *Supervisor) startAndCheck(ctx context.Context, name string) error {
	s.mu.Lock()
	c := s.comps[name]
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("component %q: %w", name, razar.ErrNotFound)
	}
	c.op.Lock()
	defer c.op.Unlock()

	s.stopPrevious(name, c)
	p, spec, err := s.launchComp(name, c)
	if err != nil {
		return err
	}
	return s.awaitHealthy(ctx, name, c, p, spec)
}

// stopPrevious stops c's process, or one a previous RAZAR left behind.
func (s *Supervisor) stopPrevious(name string, c *comp) {
	s.mu.Lock()
	old := c.proc
	c.proc = nil
	s.mu.Unlock()
	if old != nil {
		old.stop(s.cfg.StopGrace)
	} else {
		s.stopLeftBehind(name, c.spec)
	}
}

// launchComp starts c's process unless c is held or the supervisor closed
// (ErrHeld), records it as booting and watches for its exit. It returns the
// spec it was started with.
func (s *Supervisor) launchComp(name string, c *comp) (*process, config.Component, error) {
	s.mu.Lock()
	// Checked and launched under one lock: a stop either comes first and
	// nothing starts, or comes after and finds the process to stop.
	if c.held || s.closed {
		s.mu.Unlock()
		return nil, config.Component{}, ErrHeld
	}
	spec := c.spec
	p, err := launch(spec, s.componentLog(name), logrot.StartMarker(s.markKey, name, s.cfg.Clock.Now()))
	if err != nil {
		c.status, c.lastError, c.healthy = bus.StatusFailed, err.Error(), time.Time{}
		s.mu.Unlock()
		s.writeState()
		return nil, config.Component{}, err
	}
	c.proc, c.status, c.healthy = p, bus.StatusBooting, time.Time{}
	s.mu.Unlock()
	s.writePidFile(spec, p)
	s.writeState()
	s.log.Info().Str("component", name).Int("pid", p.id.PID).Msg("component started")
	s.watchExit(name, p)
	return p, spec, nil
}

// awaitHealthy waits out p's start grace, probes it, and records c healthy
// if p still runs and is still c's process. spec is what p runs.
func (s *Supervisor) awaitHealthy(ctx context.Context, name string, c *comp, p *process, spec config.Component) error {
	grace := time.Duration(spec.StartGrace)
	if grace <= 0 {
		grace = s.cfg.StartGrace
	}
	select {
	case <-p.exited:
		return s.startFailed(name, fmt.Errorf("%s %s during its start grace%s", name, p.exitText(), s.lastOutput(name, p)))
	case <-ctx.Done():
		return ctx.Err()
	case <-s.cfg.Clock.After(grace):
	}
	if err := s.probe(ctx, spec); err != nil {
		return s.startFailed(name, fmt.Errorf("%s health check failed: %w", name, err))
	}
	if !p.running() {
		return s.startFailed(name, fmt.Errorf("%s %s%s", name, p.exitText(), s.lastOutput(name, p)))
	}
	s.mu.Lock()
	if c.proc != p { // an operator's stop took it while it was probed
		s.mu.Unlock()
		return ErrHeld
	}
	now := s.cfg.Clock.Now()
	c.status, c.lastError, c.healthy, c.lastProbe, c.nextRestart, c.backoff = bus.StatusHealthy, "", now, now, time.Time{}, 0
	s.mu.Unlock()
	s.writeState()
	s.heartbeat(name, bus.StatusHealthy, p.id.PID)
	s.log.Info().Str("component", name).Int("pid", p.id.PID).Msg("component healthy")
	return nil
}

// startFailed records why a start failed, unless an operator's stop is the
// reason, which is ErrHeld.
func (s *Supervisor) startFailed(name string, err error) error {
	s.mu.Lock()
	c := s.comps[name]
	if c.held {
		s.mu.Unlock()
		return ErrHeld
	}
	c.status, c.lastError, c.healthy = bus.StatusFailed, err.Error(), time.Time{}
	s.mu.Unlock()
	s.writeState()
	return err
}

func (s *Supervisor) probe(ctx context.Context, spec config.Component) error {
	if spec.HealthCheck == nil {
		return nil // no probe: running through its grace is healthy
	}
	err := probe.Component(ctx, spec)
	if ctx.Err() == nil {
		s.mu.Lock()
		if c := s.comps[spec.Name]; c != nil {
			if err == nil {
				c.probesPassed++
			} else {
				c.probesFailed++
			}
		}
		s.mu.Unlock()
	}
	return err
}

// recoverSync heals a failed component: restart it with backoff while its
// crash loop is within --retries, then escalate it up the ladder and follow
// the incident. A crash counts toward the loop until the component has run
// stably for StableAfter. It returns nil when the component is healthy
// again, ErrHeld when an operator stopped it, else an error wrapping
// ErrQuarantined.
func (s *Supervisor) recoverSync(ctx context.Context, name, reason string) error {
	if id, _ := s.esc.OpenIncident(name); id != "" {
		return s.follow(ctx, name, id) // the ladder is already on it
	}
	for {
		s.mu.Lock()
		c := s.comps[name]
		if c.held {
			s.mu.Unlock()
			return ErrHeld
		}
		now := s.cfg.Clock.Now()
		if !c.healthy.IsZero() && now.Sub(c.healthy) >= s.cfg.StableAfter {
			c.crashes = 0 // it ran stably: this is a new failure, not the same loop
		}
		c.healthy = time.Time{}
		if c.crashes >= s.cfg.Retries {
			n := c.crashes
			s.mu.Unlock()
			if n > 0 {
				reason = fmt.Sprintf("%s (crash loop: %s did not keep it up)", reason, plural(n, "restart"))
			}
			return s.escalate(ctx, name, reason)
		}
		c.crashes++
		c.restarts++
		n := c.crashes
		d := s.cfg.Backoff.Jittered(s.cfg.Backoff.For(n), s.cfg.Jitter)
		c.status, c.lastError = bus.StatusRestarting, reason
		c.nextRestart, c.backoff = now.Add(d), d
		s.mu.Unlock()
		s.writeState()
		s.log.Warn().Str("component", name).Int("restart", n).Int("of", s.cfg.Retries).Stringer("backoff", d.Round(time.Millisecond)).
			Str("reason", cut.FirstLine(reason)).Msg("restarting component")
		if !clock.Sleep(ctx, s.cfg.Clock, d) {
			return ctx.Err()
		}
		err := s.startAndCheck(ctx, name)
		if err == nil || errors.Is(err, ErrHeld) {
			return err
		}
		reason = err.Error()
	}
}

// escalate hands a component the supervisor could not restore to the ladder
// and follows the incident.
func (s *Supervisor) escalate(ctx context.Context, name, reason string) error {
	s.setStatus(name, bus.StatusEscalated, reason)
	s.mu.Lock()
	cycle := s.cycle
	p := s.comps[name].proc
	s.mu.Unlock()
	failure := reason
	if tail := s.rawOutput(name, p); tail != "" {
		failure += "\n--- last output of " + name + " ---\n" + tail
	}
	// A failure the supervisor saw soon after a heal is that incident's
	// fix not holding: reopened, not a new incident (an operator's
	// `razar escalate` always opens one).
	var id string
	var err error
	if r, ok := s.esc.(Reopener); ok {
		id, err = r.Reopen(ctx, name, failure)
	}
	if id == "" && err == nil {
		id, _, err = s.esc.Escalate(ctx, name, failure, cycle)
	}
	if err != nil {
		s.setStatus(name, bus.StatusFailed, err.Error())
		return fmt.Errorf("escalate %s: %w", name, err)
	}
	return s.follow(ctx, name, id)
}

// follow waits for a component's incident to end: healed, the component is
// running again; failed or aborted, it is quarantined, unless an operator
// stopped it meanwhile.
func (s *Supervisor) follow(ctx context.Context, name, id string) error {
	s.mu.Lock()
	c := s.comps[name]
	c.incident = id
	c.status = bus.StatusEscalated
	s.mu.Unlock()
	s.writeState()
	rec, err := s.esc.Wait(ctx, id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	held := c.held
	s.mu.Unlock()
	if held {
		s.mu.Lock()
		c.incident = ""
		s.mu.Unlock()
		s.setStatus(name, bus.StatusStopped, "")
		return ErrHeld
	}
	if rec.State == razar.IncidentHealed {
		s.mu.Lock()
		healthy := c.status == bus.StatusHealthy && c.proc != nil && c.proc.running()
		c.crashes = 0 // the fix is new code: a new crash is a new loop
		s.mu.Unlock()
		if !healthy { // the fix held for the orchestrator; make sure the process runs
			if err := s.startAndCheck(ctx, name); err != nil {
				if errors.Is(err, ErrHeld) {
					return err
				}
				return s.quarantine(ctx, name, rec, "healed by the ladder but would not start again: "+err.Error())
			}
		}
		return nil
	}
	err = s.quarantine(ctx, name, rec, rec.Reason)
	if rec.State == razar.IncidentAborted {
		return fmt.Errorf("%w (%w)", err, ErrAborted)
	}
	return err
}

// Verify is the orchestrator's check that a fix holds: relaunch the
// component and see it through its start grace and probe. A component an
// operator holds stopped is not started, and the fix is not verified.
func (s *Supervisor) Verify(ctx context.Context, c config.Component) error {
	s.mu.Lock()
	cc, managed := s.comps[c.Name]
	if managed {
		cc.spec = c // the orchestrator's view is the one the fix was made against
	}
	s.mu.Unlock()
	if !managed {
		return fmt.Errorf("component %q is not supervised here: %w", c.Name, razar.ErrNotFound)
	}
	err := s.startAndCheck(ctx, c.Name)
	if errors.Is(err, ErrHeld) {
		return fmt.Errorf("%s is stopped by an operator, so the fix was not started (`razar start %s` lets it run)", c.Name, c.Name)
	}
	return err
}

// watchExit notices the exit of p and starts the component's recovery when
// it should be up. The goroutine is the supervisor's.
func (s *Supervisor) watchExit(name string, p *process) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-p.exited:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		c := s.comps[name]
		mine := c != nil && c.proc == p
		should := mine && c.wantUp && !c.held && c.status == bus.StatusHealthy && !c.recovering
		if mine {
			c.lastExit = p.exitText()
		}
		s.mu.Unlock()
		if !mine {
			return
		}
		s.log.Warn().Str("component", name).Int("pid", p.id.PID).Str("exit", p.exitText()).Msg("component exited")
		if should {
			s.startRecovery(name, fmt.Sprintf("%s %s%s", name, p.exitText(), s.lastOutput(name, p)))
		}
	}()
}

// startRecovery runs recoverSync in a goroutine the supervisor owns, again
// while the process dies right after each restart (watchExit stands aside
// while a recovery runs, so the recovery itself must notice).
func (s *Supervisor) startRecovery(name, reason string) {
	s.mu.Lock()
	c := s.comps[name]
	s.mu.Unlock()
	if c == nil {
		return
	}
	var err error
	var died *process // the process that died right after a restart
	s.owned(c, func(ctx context.Context) {
		if died != nil {
			reason = fmt.Sprintf("%s %s right after its restart%s", name, died.exitText(), s.lastOutput(name, died))
		}
		err = s.recoverSync(ctx, name, reason)
		// A quarantine was logged where it happened; a hold is an operator's choice.
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrHeld) && !errors.Is(err, ErrQuarantined) {
			s.log.Error().Err(err).Str("component", name).Msg("recovery failed")
		}
	}, func(ctx context.Context) bool {
		p := c.proc
		if err == nil && ctx.Err() == nil && c.wantUp && !c.held && c.status == bus.StatusHealthy && p != nil && !p.running() {
			c.lastExit, died = p.exitText(), p
			return true
		}
		return false
	})
}

// Supervise probes healthy components every ProbeInterval until ctx ends;
// a failed probe starts the same restart-then-escalate path as an exit.
func (s *Supervisor) Supervise(ctx context.Context) {
	for clock.Sleep(ctx, s.cfg.Clock, s.cfg.ProbeInterval) {
		for _, spec := range s.dueForProbe() {
			if !s.probeHealthy(ctx, spec) {
				return
			}
		}
		s.writeState()
	}
}

// probedPeriodically says whether c is one the periodic probe watches: a
// healthy component meant to be up, not held and not being recovered.
func (c *comp) probedPeriodically() bool {
	return c.wantUp && !c.held && c.status == bus.StatusHealthy && !c.recovering
}

// dueForProbe returns the specs of the components probed this round, in
// roster order.
func (s *Supervisor) dueForProbe() []config.Component {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []config.Component
	for _, name := range s.order {
		c := s.comps[name]
		if c.probedPeriodically() {
			due = append(due, c.spec)
		}
	}
	return due
}

// probeHealthy probes one component: a pass is a heartbeat, a failure
// starts its recovery, unless it changed state meanwhile. It returns false
// once ctx has ended.
func (s *Supervisor) probeHealthy(ctx context.Context, spec config.Component) bool {
	err := s.probe(ctx, spec)
	if ctx.Err() != nil {
		return false
	}
	s.mu.Lock()
	c := s.comps[spec.Name]
	still := c != nil && c.probedPeriodically()
	if c != nil {
		c.lastProbe = s.cfg.Clock.Now()
	}
	s.mu.Unlock()
	if err == nil && still {
		s.heartbeat(spec.Name, bus.StatusHealthy, 0)
	}
	if err != nil && still {
		s.log.Warn().Err(err).Str("component", spec.Name).Msg("periodic health check failed")
		s.startRecovery(spec.Name, fmt.Sprintf("%s health check failed: %v", spec.Name, err))
	}
	return true
}

// Close stops every recovery and every component process (SIGTERM, then
// SIGKILL after StopGrace) and waits for them. Idempotent.
func (s *Supervisor) Close() { s.shutdown(true) }

// Detach stops supervising and leaves every component running, its pid
// file in place, for the next `razar boot` on this home to adopt: a clean
// exit for an upgrade of RAZAR. Idempotent; Close after Detach stops nothing.
func (s *Supervisor) Detach() { s.shutdown(false) }

func (s *Supervisor) shutdown(stop bool) {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return
	}
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	var procs []*process
	var names []string
	for name, c := range s.comps {
		c.wantUp = false
		if c.proc != nil && stop {
			procs = append(procs, c.proc)
			names = append(names, name)
			c.proc = nil
			if c.status != bus.StatusQuarantined {
				c.status = bus.StatusStopped
			}
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(s.cfg.StopGrace)
			s.removePidFile(names[i])
		}()
	}
	wg.Wait()
	if !stop {
		s.log.Info().Msg("detached: the components keep running; the next `razar boot` here adopts them")
	}
	s.finalState()
}

func (s *Supervisor) setStatus(name, status, detail string) {
	s.mu.Lock()
	if c := s.comps[name]; c != nil {
		c.status = status
		if status != bus.StatusHealthy {
			c.healthy = time.Time{}
		}
		if detail != "" && status != bus.StatusHealthy {
			c.lastError = detail
		}
	}
	s.mu.Unlock()
	s.writeState()
}

func (s *Supervisor) componentLog(name string) string {
	return razar.Home(s.cfg.Home).ComponentLog(name)
}

// lastOutput quotes what p wrote, never an earlier run's lines, as
// "; last output: ..." on one line (so a status table and a log line show
// the whole of it), or "" when it wrote nothing.
func (s *Supervisor) lastOutput(name string, p *process) string {
	tail := s.output(name, p, 512)
	if tail == "" {
		return ""
	}
	return "; last output: " + strings.ReplaceAll(tail, "\n", " | ")
}

// rawOutput is the last output of p's run as it was written, for the ladder.
func (s *Supervisor) rawOutput(name string, p *process) string { return s.output(name, p, 2048) }

// output is the last n bytes p's run wrote to its log, redacted.
func (s *Supervisor) output(name string, p *process, n int64) string {
	var from int64
	if p != nil {
		from = p.logFrom
	}
	m := logrot.Markers{Key: s.markKey, Name: name}
	return s.cfg.Redact(m.Text(logrot.Tail(s.componentLog(name), from, n)))
}

// heartbeat publishes a component's sign of life on razar.heartbeat.<name>:
// each time a probe finds it healthy (at start, on adoption, and after each
// passing periodic probe), so a component that is not healthy falls silent.
// The chakra service measures its pulse from these.
func (s *Supervisor) heartbeat(name, status string, pid int) {
	hb := &bus.Heartbeat{Name: name, Kind_: "component", Status: status, Host: s.cfg.Host, Time: s.cfg.Clock.Now().UTC()}
	if pid > 0 {
		hb.Detail = fmt.Sprintf("pid %d", pid)
	}
	bus.Beat(s.store.Conn(), hb)
}

// audit records one of RAZAR's own records on the audit stream.
func (s *Supervisor) audit(ctx context.Context, rec *bus.AuditRecord) {
	rec.Scrub(s.cfg.Redact)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.Audit(pctx, rec, ""); err != nil {
		s.log.Error().Err(err).Str("event", string(rec.Event)).Str("component", rec.Component).Msg("could not publish audit record")
	}
}

// plural is "1 restart", "3 restarts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
