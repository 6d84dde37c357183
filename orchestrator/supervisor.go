package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// Component statuses, as logs/razar_state.json and `razar status` show them.
const (
	StatusBooting     = "booting"
	StatusHealthy     = "healthy"
	StatusRestarting  = "restarting"
	StatusEscalated   = "escalated"
	StatusQuarantined = "quarantined"
	StatusStopped     = "stopped"
	StatusFailed      = "failed"
)

// HaltMessage is the critical alert of a halted boot, exactly as operators grep for it.
const HaltMessage = "Boot sequence halted; configuration rolled back to safe defaults"

// SystemComponent is the component token of audit records about RAZAR
// itself (snapshots, halts). It cannot collide with a component name.
const SystemComponent = "_razar"

// ErrBootHalted is returned by Boot when a component could not be healed.
var ErrBootHalted = errors.New(HaltMessage)

// ErrQuarantined is returned for a component whose incident failed.
var ErrQuarantined = errors.New("component quarantined")

// SupervisorConfig configures a Supervisor. Home and Components are required.
type SupervisorConfig struct {
	// Home is the RAZAR home: logs/, quarantine/ and config/ live under it.
	Home string
	// Components returns the boot config with workdirs resolved.
	Components func() (*razar.BootConfig, error)
	// Retries is --retries: local restarts before the first escalation.
	Retries int
	// Backoff paces local restarts: 1 s doubling to 60 s by default, with Jitter.
	Backoff Backoff
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
	// ResetAfter is the healthy run after which restart backoff starts over. Default 10 min.
	ResetAfter time.Duration
	// Sleep waits d or until ctx ends, reporting whether d passed; tests
	// inject a clock here. Default a real timer.
	Sleep func(ctx context.Context, d time.Duration) bool
	// LogMaxMB bounds each logs/components/<name>.log; one rotated copy,
	// <name>.log.1, is kept. Default 10.
	LogMaxMB int
	Alerts   *Alerter
	Log      zerolog.Logger
}

// Supervisor boots components in priority order, keeps them up, and hands
// what local restarts cannot heal to the orchestrator's ladder.
//
// Each component's process, status and recovery are guarded by the
// supervisor's mutex; recoveries run in goroutines the supervisor owns and
// Close waits for.
type Supervisor struct {
	cfg   SupervisorConfig
	store *jetstream.Store
	orch  *Orchestrator
	log   zerolog.Logger

	mu      sync.Mutex
	stateMu sync.Mutex // serialises writes of logs/razar_state.json
	comps   map[string]*comp
	cycle   string
	halted  bool
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

type comp struct {
	op           sync.Mutex // serialises (re)starts: supervision and fix verification
	spec         razar.Component
	proc         *process
	status       string
	incident     string
	restarts     int
	backoffN     int
	lastProbe    time.Time
	lastError    string
	healthySince time.Time
	wantUp       bool
	recovering   bool
	cancelRecov  context.CancelFunc
	cycleStarted bool
}

// NewSupervisor returns a supervisor that escalates through orch, and makes
// orch verify fixes by relaunching the component.
func NewSupervisor(store *jetstream.Store, orch *Orchestrator, cfg SupervisorConfig) (*Supervisor, error) {
	if store == nil || orch == nil || cfg.Components == nil || cfg.Home == "" {
		return nil, fmt.Errorf("%w: supervisor: store, orchestrator, Components and Home are required", razar.ErrInvalidConfig)
	}
	if cfg.Retries < 0 {
		return nil, fmt.Errorf("%w: --retries must not be negative", razar.ErrInvalidConfig)
	}
	if cfg.Backoff == (Backoff{}) {
		cfg.Backoff = Backoff{Base: time.Second, Max: time.Minute}
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
	if cfg.ResetAfter <= 0 {
		cfg.ResetAfter = 10 * time.Minute
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.LogMaxMB <= 0 {
		cfg.LogMaxMB = 10
	}
	if cfg.Alerts == nil {
		cfg.Alerts = orch.cfg.Alerts
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{cfg: cfg, store: store, orch: orch, log: cfg.Log, comps: map[string]*comp{}, ctx: ctx, cancel: cancel}
	orch.cfg.Verify = s.verify
	return s, nil
}

// Boot runs one boot cycle: snapshot the roster, then start components by
// priority (lower first; one priority's components together), each healed
// locally or up the ladder. It returns ErrBootHalted, after stopping what the
// cycle started and restoring the roster, when a component could not be healed.
func (s *Supervisor) Boot(ctx context.Context) error {
	boot, err := s.cfg.Components()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cycle = "boot-" + time.Now().UTC().Format("20060102-150405")
	s.halted = false
	for _, c := range boot.Components {
		if old, ok := s.comps[c.Name]; ok {
			old.spec = c
			continue
		}
		s.comps[c.Name] = &comp{spec: c, status: StatusStopped}
	}
	s.mu.Unlock()
	if err := s.snapshotRoster(ctx); err != nil {
		return err
	}
	s.loadQuarantines()
	s.handshake(ctx)

	groups := map[int][]razar.Component{}
	var prios []int
	for _, c := range boot.Components {
		if _, ok := groups[c.Priority]; !ok {
			prios = append(prios, c.Priority)
		}
		groups[c.Priority] = append(groups[c.Priority], c)
	}
	sort.Ints(prios)
	var started []string
	for _, p := range prios {
		var wg sync.WaitGroup
		errs := make([]error, len(groups[p]))
		for i, c := range groups[p] {
			started = append(started, c.Name)
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
			if err != nil {
				s.log.Error().Err(err).Str("component", groups[p][i].Name).Msg("component could not be brought up")
				s.halt(ctx, started)
				s.mu.Lock()
				s.cycle = ""
				s.mu.Unlock()
				return ErrBootHalted
			}
		}
	}
	s.mu.Lock()
	s.cycle = "" // repairs after boot are each a cycle of their own
	s.mu.Unlock()
	s.log.Info().Int("components", len(boot.Components)).Msg("boot cycle complete: every component is healthy")
	s.writeState()
	return nil
}

// bringUp starts one component at boot, healing it if it will not stay up.
func (s *Supervisor) bringUp(ctx context.Context, name string) error {
	s.mu.Lock()
	c := s.comps[name]
	if c.status == StatusQuarantined {
		s.mu.Unlock()
		return fmt.Errorf("%s is quarantined from an earlier incident (%s): release it with `razar release %s`: %w", name, c.incident, name, ErrQuarantined)
	}
	c.wantUp = true
	c.cycleStarted = true
	s.mu.Unlock()
	// An incident resumed from before a restart owns the component: follow
	// it rather than start a second repair that would fight it.
	if err := s.orch.Resumed(ctx); err != nil {
		return err
	}
	if id := s.orch.OpenIncident(name); id != "" {
		s.log.Info().Str("component", name).Str("incident", id).Msg("component has an open incident from before the restart; following it")
		return s.follow(ctx, name, id)
	}
	err := s.startAndCheck(ctx, name)
	if err == nil {
		return nil
	}
	return s.recoverSync(ctx, name, err.Error())
}

// startAndCheck (re)launches a component and waits its start grace: it
// counts as started only if it is still running and its probe passes.
func (s *Supervisor) startAndCheck(ctx context.Context, name string) error {
	s.mu.Lock()
	c := s.comps[name]
	if c == nil {
		s.mu.Unlock()
		return fmt.Errorf("component %q: %w", name, razar.ErrNotFound)
	}
	s.mu.Unlock()
	c.op.Lock()
	defer c.op.Unlock()
	s.mu.Lock()
	old := c.proc
	spec := c.spec
	c.proc = nil
	s.mu.Unlock()
	if old != nil {
		old.stop(s.cfg.StopGrace)
	}
	out, err := openBoundedLog(s.componentLog(name), int64(s.cfg.LogMaxMB)<<20)
	if err != nil {
		s.setStatus(name, StatusFailed, err.Error())
		return err
	}
	p, err := launch(spec, out)
	if err != nil {
		s.setStatus(name, StatusFailed, err.Error())
		return err
	}
	s.mu.Lock()
	c.proc = p
	c.status = StatusBooting
	s.mu.Unlock()
	s.writeState()
	s.log.Info().Str("component", name).Int("pid", p.pid).Msg("component started")
	go s.watch(name, p)

	grace := time.Duration(spec.StartGrace)
	if grace <= 0 {
		grace = s.cfg.StartGrace
	}
	select {
	case <-p.exited:
		err := fmt.Errorf("%s %s during its start grace; last output: %s", name, p.exitText(), s.logTail(name, 512))
		s.setStatus(name, StatusFailed, err.Error())
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(grace):
	}
	if err := s.probe(ctx, spec); err != nil {
		err = fmt.Errorf("%s health check failed: %w", name, err)
		s.setStatus(name, StatusFailed, err.Error())
		return err
	}
	if !p.running() {
		err := fmt.Errorf("%s %s", name, p.exitText())
		s.setStatus(name, StatusFailed, err.Error())
		return err
	}
	s.mu.Lock()
	c.status, c.lastError, c.healthySince, c.lastProbe = StatusHealthy, "", time.Now(), time.Now()
	s.mu.Unlock()
	s.writeState()
	s.heartbeat(name, StatusHealthy, p.pid)
	s.log.Info().Str("component", name).Int("pid", p.pid).Msg("component healthy")
	return nil
}

func (s *Supervisor) probe(ctx context.Context, spec razar.Component) error {
	if spec.HealthCheck == nil {
		return nil // no probe: running through its grace is healthy
	}
	return Probe(ctx, *spec.HealthCheck, spec.Workdir, envOf(spec))
}

// recoverSync restarts a failed component up to Retries times with backoff,
// then escalates it up the ladder and waits for the incident. It returns nil
// when the component is healthy again, else ErrQuarantined (wrapped).
func (s *Supervisor) recoverSync(ctx context.Context, name, reason string) error {
	if id := s.orch.OpenIncident(name); id != "" {
		return s.follow(ctx, name, id) // the ladder is already on it
	}
	s.mu.Lock()
	c := s.comps[name]
	if !c.healthySince.IsZero() && time.Since(c.healthySince) >= s.cfg.ResetAfter {
		c.backoffN = 0
	}
	s.mu.Unlock()
	for i := 1; i <= s.cfg.Retries; i++ {
		s.mu.Lock()
		c.backoffN++
		c.restarts++
		n := c.backoffN
		s.mu.Unlock()
		d := s.jittered(s.cfg.Backoff.For(n))
		s.setStatus(name, StatusRestarting, reason)
		s.log.Warn().Str("component", name).Int("retry", i).Int("of", s.cfg.Retries).Dur("backoff", d).Str("reason", firstLine(reason)).Msg("restarting component")
		if !s.cfg.Sleep(ctx, d) {
			return ctx.Err()
		}
		err := s.startAndCheck(ctx, name)
		if err == nil {
			return nil
		}
		reason = err.Error()
	}
	return s.escalate(ctx, name, reason)
}

// escalate hands a component the supervisor could not restore to the ladder
// and follows the incident.
func (s *Supervisor) escalate(ctx context.Context, name, reason string) error {
	s.setStatus(name, StatusEscalated, reason)
	s.mu.Lock()
	cycle := s.cycle
	s.mu.Unlock()
	failure := reason
	if tail := s.logTail(name, 2048); tail != "" && !strings.Contains(reason, tail) {
		failure += "\n--- last output of " + name + " ---\n" + tail
	}
	id, _, err := s.orch.Escalate(ctx, name, failure, cycle)
	if err != nil {
		s.setStatus(name, StatusFailed, err.Error())
		return fmt.Errorf("escalate %s: %w", name, err)
	}
	return s.follow(ctx, name, id)
}

// follow waits for a component's incident to end: healed, the component is
// running again; otherwise it is quarantined.
func (s *Supervisor) follow(ctx context.Context, name, id string) error {
	s.mu.Lock()
	c := s.comps[name]
	c.incident = id
	c.status = StatusEscalated
	s.mu.Unlock()
	s.writeState()
	rec, err := s.orch.Wait(ctx, id)
	if err != nil {
		return err
	}
	if rec.State == razar.IncidentHealed {
		s.mu.Lock()
		healthy := c.status == StatusHealthy
		s.mu.Unlock()
		if !healthy { // the fix held for the orchestrator; make sure the process runs
			if err := s.startAndCheck(ctx, name); err != nil {
				return s.quarantine(ctx, name, rec, "healed by the ladder but would not start again: "+err.Error())
			}
		}
		return nil
	}
	return s.quarantine(ctx, name, rec, rec.Reason)
}

// verify is the orchestrator's check that a fix holds: relaunch the
// component and see it through its start grace and probe.
func (s *Supervisor) verify(ctx context.Context, c razar.Component) error {
	s.mu.Lock()
	_, managed := s.comps[c.Name]
	s.mu.Unlock()
	if !managed {
		return s.orch.probeUntilHealthy(ctx, c)
	}
	return s.startAndCheck(ctx, c.Name)
}

// quarantine stops the component and writes quarantine/<name>.json.
func (s *Supervisor) quarantine(ctx context.Context, name string, rec *bus.IncidentRecord, reason string) error {
	s.mu.Lock()
	c := s.comps[name]
	p := c.proc
	c.wantUp = false
	c.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.stop(s.cfg.StopGrace)
	}
	q := Quarantine{Component: name, Reason: s.orch.redact(reason), Incident: rec.ID, State: string(rec.State),
		Attempts: rec.Attempts, Time: time.Now().UTC()}
	data, _ := json.MarshalIndent(q, "", "  ")
	if err := jetstream.WriteFileAtomic(s.quarantineFile(name), append(data, '\n'), 0o644); err != nil {
		s.log.Error().Err(err).Str("component", name).Msg("could not write the quarantine file")
	}
	s.setStatus(name, StatusQuarantined, reason)
	s.log.Error().Str("component", name).Str("incident", rec.ID).Str("reason", reason).Msg("component quarantined")
	return fmt.Errorf("%s: %s: %w", name, reason, ErrQuarantined)
}

// Quarantine is quarantine/<name>.json.
type Quarantine struct {
	Component string          `json:"component"`
	Reason    string          `json:"reason"`
	Incident  string          `json:"incident"`
	State     string          `json:"state"`
	Attempts  []razar.Attempt `json:"attempts"`
	Time      time.Time       `json:"time"`
}

// halt stops what the cycle started, restores the roster from its snapshot,
// and raises the critical alert.
func (s *Supervisor) halt(ctx context.Context, started []string) {
	for i := len(started) - 1; i >= 0; i-- {
		name := started[i]
		s.mu.Lock()
		c := s.comps[name]
		p := c.proc
		c.proc, c.wantUp = nil, false
		if c.cancelRecov != nil {
			c.cancelRecov()
		}
		quarantined := c.status == StatusQuarantined
		s.mu.Unlock()
		if p != nil {
			p.stop(s.cfg.StopGrace)
		}
		if !quarantined {
			s.setStatus(name, StatusStopped, "stopped: boot halted")
		}
	}
	if err := s.restoreRoster(ctx); err != nil {
		s.log.Error().Err(err).Msg("could not restore the roster snapshot")
	}
	s.mu.Lock()
	s.halted = true
	s.mu.Unlock()
	s.writeState()
	s.cfg.Alerts.Raise(ctx, bus.SeverityCritical, SystemComponent, "", HaltMessage)
}

// watch notices a component's exit and starts its recovery when it should be up.
func (s *Supervisor) watch(name string, p *process) {
	<-p.exited
	s.mu.Lock()
	c := s.comps[name]
	mine := c != nil && c.proc == p
	should := mine && c.wantUp && c.status == StatusHealthy && !c.recovering
	s.mu.Unlock()
	if !mine {
		return
	}
	s.log.Warn().Str("component", name).Int("pid", p.pid).Str("exit", p.exitText()).Msg("component exited")
	if should {
		s.startRecovery(name, fmt.Sprintf("%s %s; last output: %s", name, p.exitText(), s.logTail(name, 512)))
	}
}

// startRecovery runs recoverSync in a goroutine the supervisor owns.
func (s *Supervisor) startRecovery(name, reason string) {
	s.mu.Lock()
	c := s.comps[name]
	if c.recovering || s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c.recovering, c.cancelRecov = true, cancel
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer cancel()
		for {
			if err := s.recoverSync(ctx, name, reason); err != nil && ctx.Err() == nil {
				s.log.Error().Err(err).Str("component", name).Msg("recovery failed")
			}
			s.mu.Lock()
			// The process may have died again after the restart, while this
			// recovery was still marked running and watch stood aside.
			p := c.proc
			again := ctx.Err() == nil && c.wantUp && c.status == StatusHealthy && p != nil && !p.running()
			if !again {
				c.recovering, c.cancelRecov = false, nil
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			reason = fmt.Sprintf("%s %s right after its restart; last output: %s", name, p.exitText(), s.logTail(name, 512))
		}
	}()
}

// Supervise probes healthy components every ProbeInterval until ctx ends;
// a failed probe starts the same restart-then-escalate path as an exit.
func (s *Supervisor) Supervise(ctx context.Context) {
	t := time.NewTicker(s.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		var due []razar.Component
		for _, c := range s.comps {
			if c.wantUp && c.status == StatusHealthy && !c.recovering {
				due = append(due, c.spec)
			}
		}
		s.mu.Unlock()
		for _, spec := range due {
			err := s.probe(ctx, spec)
			if ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			c := s.comps[spec.Name]
			c.lastProbe = time.Now()
			still := c.wantUp && c.status == StatusHealthy && !c.recovering
			s.mu.Unlock()
			if err == nil && still {
				s.heartbeat(spec.Name, StatusHealthy, 0)
			}
			if err != nil && still {
				s.log.Warn().Err(err).Str("component", spec.Name).Msg("periodic health check failed")
				s.startRecovery(spec.Name, fmt.Sprintf("%s health check failed: %v", spec.Name, err))
			}
		}
		s.writeState()
	}
}

// Close stops every recovery and every component process (SIGTERM, then
// SIGKILL after StopGrace) and waits for them. Idempotent.
func (s *Supervisor) Close() {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	var procs []*process
	for _, c := range s.comps {
		c.wantUp = false
		if c.proc != nil {
			procs = append(procs, c.proc)
			c.proc = nil
			c.status = StatusStopped
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(s.cfg.StopGrace) }()
	}
	wg.Wait()
	s.writeState()
}

func (s *Supervisor) jittered(d time.Duration) time.Duration {
	if d <= 0 || s.cfg.Jitter <= 0 {
		return d
	}
	j := time.Duration(rand.Float64() * s.cfg.Jitter * float64(d))
	if s.cfg.Backoff.Max > 0 && d+j > s.cfg.Backoff.Max {
		return s.cfg.Backoff.Max
	}
	return d + j
}

func (s *Supervisor) setStatus(name, status, detail string) {
	s.mu.Lock()
	if c := s.comps[name]; c != nil {
		c.status = status
		if detail != "" && status != StatusHealthy {
			c.lastError = bus.Clip(s.orch.redact(detail), 2048)
		}
	}
	s.mu.Unlock()
	s.writeState()
}

func (s *Supervisor) componentLog(name string) string {
	return filepath.Join(s.cfg.Home, "logs", "components", name+".log")
}

func (s *Supervisor) quarantineFile(name string) string {
	return filepath.Join(s.cfg.Home, "quarantine", name+".json")
}

// logTail returns the last n bytes of a component's log.
func (s *Supervisor) logTail(name string, n int64) string {
	f, err := os.Open(s.componentLog(name))
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
}

// loadQuarantines marks components that have a quarantine file.
func (s *Supervisor) loadQuarantines() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.comps {
		data, err := os.ReadFile(s.quarantineFile(name))
		if err != nil {
			continue
		}
		var q Quarantine
		if json.Unmarshal(data, &q) == nil {
			c.status, c.incident, c.lastError = StatusQuarantined, q.Incident, q.Reason
		}
	}
}

// heartbeat publishes a component's sign of life on razar.heartbeat.<name>.
func (s *Supervisor) heartbeat(name, status string, pid int) {
	hb := &bus.Heartbeat{Name: name, Kind_: "component", Status: status, Time: time.Now().UTC()}
	if pid > 0 {
		hb.Detail = fmt.Sprintf("pid %d", pid)
	}
	bus.Beat(s.store.Conn(), hb)
}
