package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/internal/homedir"
)

// errUnknown is the one error for a component not in boot_config.json.
func errUnknown(name string) error {
	return fmt.Errorf("%q: %w (fix: check config/boot_config.json, or `razar status` for the list)", name, razar.ErrUnknownComponent)
}

// Stop stops a component and holds it down, whatever phase it is in
// (starting, probing, waiting out a restart backoff or its boot-order turn,
// mid-incident), until an operator starts it: nothing automatic starts it
// again. An incident open on it is aborted by actor.
func (s *Supervisor) Stop(ctx context.Context, name, actor string) error {
	return s.stop(ctx, name, actor, true)
}

// stop is Stop; record keeps the hold across RAZAR restarts (a component a
// reload removes is gone, not held).
func (s *Supervisor) stop(ctx context.Context, name, actor string, record bool) error {
	s.mu.Lock()
	c, ok := s.comps[name]
	if !ok {
		s.mu.Unlock()
		return errUnknown(name)
	}
	c.held, c.wantUp = true, false
	if c.cancelRecov != nil {
		c.cancelRecov()
	}
	p := c.proc
	c.proc = nil
	quarantined := c.status == bus.StatusQuarantined
	s.mu.Unlock()
	if id, _ := s.esc.OpenIncident(name); id != "" {
		if _, err := s.esc.Abort(ctx, name, "stopped by "+actor); err != nil && !errors.Is(err, razar.ErrNotFound) {
			s.log.Warn().Err(err).Str("component", name).Str("incident", id).Msg("could not abort the incident of a stopped component")
		}
	}
	if p != nil {
		p.stop(s.cfg.StopGrace)
	}
	s.removePidFile(name)
	if record {
		s.writeHold(name, actor)
	} else {
		s.removeHold(name)
	}
	if !quarantined {
		s.mu.Lock()
		c.incident, c.nextRestart, c.backoff = "", time.Time{}, 0
		s.mu.Unlock()
		s.setStatus(name, bus.StatusStopped, "")
	}
	s.log.Info().Str("component", name).Str("actor", actor).Msg("component stopped; it stays down until `razar start " + name + "`")
	s.endHaltIfUp(ctx)
	return nil
}

// Start lifts an operator's stop and starts the component, waiting until it
// is healthy. A quarantined component must be released first; one the
// ladder is repairing is refused.
func (s *Supervisor) Start(ctx context.Context, name string) error {
	s.mu.Lock()
	c, ok := s.comps[name]
	if !ok {
		s.mu.Unlock()
		return errUnknown(name)
	}
	if c.status == bus.StatusQuarantined {
		s.mu.Unlock()
		return fmt.Errorf("%s is quarantined (incident %s): release it first with `razar release %s`", name, c.incident, name)
	}
	if c.recovering {
		s.mu.Unlock()
		return fmt.Errorf("%s is being repaired (status %s): wait, or `razar stop %s`", name, c.status, name)
	}
	c.held, c.wantUp, c.crashes = false, true, 0
	s.mu.Unlock()
	s.removeHold(name)
	s.cfg.Alerts.ResolveNamed(ctx, AlertRollbackHeld, bus.SeverityWarning, name, "")
	err := s.startAndCheck(ctx, name)
	if errors.Is(err, ErrHeld) {
		return fmt.Errorf("%s was stopped again while it started", name)
	}
	if err == nil {
		s.endHaltIfUp(ctx)
	}
	return err
}

// Restart stops and starts a component. Its stop is not kept across a
// RAZAR restart: a RAZAR killed between the two starts the component at
// its next boot rather than holding it down.
func (s *Supervisor) Restart(ctx context.Context, name, actor string) error {
	if err := s.stop(ctx, name, actor, false); err != nil {
		return err
	}
	return s.Start(ctx, name)
}

// AlertRollbackHeld is the warning alert of a component held stopped
// because the code a rollback-patch restored failed its health check.
const AlertRollbackHeld = "RazarRollbackHeld"

// RestartRestored restarts a component whose files rollback-patch just
// restored (patch id, by actor). The rollback is done whatever follows:
// when the restored code starts healthy it is supervised as before;
// when it fails its start or health check it is held stopped with that
// reason (status, page, a warning alert, kept across RAZAR restarts),
// never left failed, until `razar start` resumes supervision. Errors:
// only an unknown component, or ctx ending.
func (s *Supervisor) RestartRestored(ctx context.Context, name, actor, id string) (string, error) {
	if err := s.stop(ctx, name, actor, false); err != nil {
		return "", err
	}
	err := s.Start(ctx, name)
	if err == nil {
		return "restarted and healthy", nil
	}
	if ctx.Err() != nil {
		return "", err
	}
	reason := fmt.Sprintf("held stopped: the code restored by the rollback of patch %s did not start healthy: %v; fix it, then `razar start %s`", id, err, name)
	if serr := s.stop(ctx, name, actor, true); serr != nil {
		return "", serr
	}
	s.writeHoldReason(name, actor, reason)
	s.setStatus(name, bus.StatusStopped, reason)
	s.cfg.Alerts.RaiseNamed(ctx, AlertRollbackHeld, bus.SeverityWarning, name, "", reason)
	s.log.Warn().Str("component", name).Str("patch", id).Str("actor", actor).Msg(reason)
	return reason, nil
}

// Release lifts a component's quarantine; it stays stopped until started
// (`razar start`, or `razar resume` for a halted boot cycle).
func (s *Supervisor) Release(ctx context.Context, name string) error {
	s.mu.Lock()
	c, ok := s.comps[name]
	if !ok {
		s.mu.Unlock()
		return errUnknown(name)
	}
	if c.status != bus.StatusQuarantined {
		s.mu.Unlock()
		return fmt.Errorf("%s is not quarantined (status %s)", name, c.status)
	}
	c.status, c.incident, c.lastError = bus.StatusStopped, "", ""
	s.mu.Unlock()
	if err := os.Remove(s.quarantineFile(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", s.quarantineFile(name), err)
	}
	s.writeState()
	// The cause of the component's alerts (its failed incident) is gone.
	// The boot halt's page lasts until the halted cycle's components are
	// up (endHaltIfUp).
	s.cfg.Alerts.Resolve(ctx, name, "")
	s.log.Info().Str("component", name).Msg("quarantine lifted; start it with `razar start " + name + "`")
	return nil
}

// EscalateByHand opens an incident for a component as an operator asked
// (`razar escalate`), and follows it as the supervisor follows its own: a
// heal leaves the component running, anything else quarantines it.
func (s *Supervisor) EscalateByHand(ctx context.Context, name, failure string) (id string, isNew bool, err error) {
	s.mu.Lock()
	c, ok := s.comps[name]
	if !ok {
		s.mu.Unlock()
		return "", false, errUnknown(name)
	}
	if c.status == bus.StatusQuarantined {
		s.mu.Unlock()
		return "", false, fmt.Errorf("%s is quarantined (incident %s): release it first with `razar release %s`", name, c.incident, name)
	}
	if c.held { // no fix could be verified: the stop holds
		s.mu.Unlock()
		return "", false, fmt.Errorf("%s is stopped by an operator, so no fix could be verified: `razar start %s` first", name, name)
	}
	s.mu.Unlock()
	id, isNew, err = s.esc.Escalate(ctx, name, failure, "")
	if err != nil || !isNew {
		return id, isNew, err
	}
	// A recovery of ours that is already running follows what it opened.
	s.owned(c, func(ctx context.Context) {
		if err := s.follow(ctx, name, id); err != nil && ctx.Err() == nil && !errors.Is(err, ErrHeld) {
			s.log.Error().Err(err).Str("component", name).Str("incident", id).Msg("hand-opened incident did not heal")
		}
	}, nil)
	return id, isNew, nil
}

// quarantine stops the component and writes quarantine/<name>.json.
func (s *Supervisor) quarantine(ctx context.Context, name string, rec *bus.IncidentRecord, reason string) error {
	s.mu.Lock()
	c := s.comps[name]
	p := c.proc
	c.wantUp = false
	c.proc = nil
	c.incident = rec.ID
	s.mu.Unlock()
	if p != nil {
		p.stop(s.cfg.StopGrace)
	}
	s.removePidFile(name)
	q := Quarantine{Component: name, Reason: s.cfg.Redact(reason), Incident: rec.ID, State: string(rec.State),
		Attempts: rec.Attempts, Time: time.Now().UTC()}
	data, _ := json.MarshalIndent(q, "", "  ")
	if err := os.MkdirAll(filepath.Dir(s.quarantineFile(name)), 0o750); err == nil {
		err = homedir.WriteAtomic(s.quarantineFile(name), append(data, '\n'), 0o640)
		if err != nil {
			s.log.Error().Err(err).Str("component", name).Msg("could not write the quarantine file")
		}
	}
	s.setStatus(name, bus.StatusQuarantined, reason)
	s.log.Error().Str("component", name).Str("incident", rec.ID).Str("reason", cut.FirstLine(reason)).
		Msg("component quarantined; fix it, then `razar release " + name + "`")
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

func (s *Supervisor) quarantineFile(name string) string { return quarantinePath(s.cfg.Home, name) }

func quarantinePath(home, name string) string {
	return razar.Home(home).QuarantineFile(name)
}

// loadQuarantines marks components that have a quarantine file.
func (s *Supervisor) loadQuarantines() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.comps {
		path := s.quarantineFile(name)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		var q Quarantine
		if err == nil {
			err = json.Unmarshal(data, &q)
		}
		if err != nil {
			// A quarantine an operator did not lift stays: a damaged file
			// is no release. Say why, where status shows it.
			why := fmt.Sprintf("still quarantined: %s is unreadable (%v), and only `razar release %s` lifts a quarantine", razar.Home("").QuarantineFile(name), err, name)
			c.status, c.lastError = bus.StatusQuarantined, why
			s.log.Error().Err(err).Str("component", name).Str("file", path).Msg("quarantine file unreadable; the component stays quarantined until `razar release " + name + "`")
			continue
		}
		c.status, c.incident, c.lastError = bus.StatusQuarantined, q.Incident, q.Reason
	}
}

// endHaltIfUp ends a halted boot cycle once none of its components is
// down (an operator started each, or `razar resume` finished it) and
// resolves the halt's page.
func (s *Supervisor) endHaltIfUp(ctx context.Context) {
	st := s.view()
	if st.Halted == "" || len(st.Problems) > 0 {
		return
	}
	s.mu.Lock()
	was := s.haltedCycle
	if s.haltedCycle == st.Halted {
		s.haltedCycle = ""
	}
	s.mu.Unlock()
	if was != st.Halted {
		return
	}
	s.writeState()
	s.cfg.Alerts.ResolveNamed(ctx, "RazarBootHalted", bus.SeverityCritical, bus.SystemComponent, "")
	s.log.Info().Str("cycle", was).Msg("halted boot cycle is over: every component is up or stopped by an operator")
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
		quarantined := c.status == bus.StatusQuarantined
		s.mu.Unlock()
		if p != nil {
			p.stop(s.cfg.StopGrace)
			s.removePidFile(name)
		}
		if !quarantined {
			s.setStatus(name, bus.StatusStopped, "stopped: boot halted")
		}
	}
	if err := s.restoreRoster(ctx); err != nil {
		s.log.Error().Err(err).Msg("could not restore the roster snapshot")
	}
	s.mu.Lock()
	s.haltedCycle = s.cycle
	s.cycle = ""
	s.mu.Unlock()
	s.writeState()
	s.cfg.Alerts.RaiseNamed(ctx, "RazarBootHalted", bus.SeverityCritical, bus.SystemComponent, "", HaltMessage)
}

// ReleaseOffline lifts a component's quarantine with RAZAR not running: it
// removes quarantine/<name>.json and updates logs/razar_state.json to match,
// so the next `razar boot` starts the component. Errors: razar.ErrNotFound
// when the component is not quarantined.
func ReleaseOffline(home, name string) error {
	path := quarantinePath(home, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is not quarantined (no %s): %w", name, razar.Home("").QuarantineFile(name), razar.ErrNotFound)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	st, err := ReadState(home)
	if err != nil {
		return nil // no state file to keep in step
	}
	for i := range st.Components {
		if st.Components[i].Name == name {
			st.Components[i].Status, st.Components[i].Incident, st.Components[i].LastError = bus.StatusStopped, "", ""
		}
	}
	st.Quarantine = without(st.Quarantine, name)
	st.Assess()
	st.Updated = time.Now().UTC()
	return writeStateFile(home, st)
}

func without(list []string, s string) []string {
	out := list[:0]
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

// Register adds the supervisor's verbs to l: stop, start, restart, release,
// resume (the halted boot cycle, component bus.AllComponents) and escalate (an incident opened by hand is followed like any other).
func (s *Supervisor) Register(l *bus.Lifecycle) {
	l.Handle(bus.VerbStop, oneComponent(func(ctx context.Context, name string, req *bus.LifecycleRequest) (string, error) {
		return "stopped; it stays down until `razar start " + name + "`", s.Stop(ctx, name, actorOf(req))
	}))
	l.Handle(bus.VerbStart, oneComponent(func(ctx context.Context, name string, _ *bus.LifecycleRequest) (string, error) {
		return "started and healthy", s.Start(ctx, name)
	}))
	l.Handle(bus.VerbRestart, oneComponent(func(ctx context.Context, name string, req *bus.LifecycleRequest) (string, error) {
		if req != nil && req.Patch != "" {
			return s.RestartRestored(ctx, name, actorOf(req), req.Patch)
		}
		return "restarted and healthy", s.Restart(ctx, name, actorOf(req))
	}))
	l.Handle(bus.VerbRelease, oneComponent(s.releaseVerb))
	l.Handle(bus.VerbResume, s.resumeVerb)
	l.Handle(bus.VerbEscalate, s.escalateVerb)
}

// oneComponent makes f, which answers with a message, a handler for a verb
// that takes one component, refusing bus.AllComponents.
func oneComponent(f func(ctx context.Context, name string, req *bus.LifecycleRequest) (string, error)) bus.VerbHandler {
	return func(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if component == bus.AllComponents {
			return nil, bus.ErrAllComponents
		}
		msg, err := f(ctx, component, req)
		if err != nil {
			return nil, err
		}
		return &bus.LifecycleReply{Message: msg}, nil
	}
}

// releaseVerb lifts name's quarantine and says what comes next.
func (s *Supervisor) releaseVerb(ctx context.Context, name string, _ *bus.LifecycleRequest) (string, error) {
	if err := s.Release(ctx, name); err != nil {
		return "", err
	}
	if st := s.view(); st.Health == bus.HealthHalted {
		return "quarantine lifted; next: " + st.Next + " (the halted boot cycle goes on; `razar start " + name + "` starts this one alone)", nil
	}
	return "quarantine lifted; start it with `razar start " + name + "`", nil
}

// resumeVerb takes the halted boot cycle on; it takes no single component.
func (s *Supervisor) resumeVerb(ctx context.Context, component string, _ *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	if component != bus.AllComponents {
		return nil, fmt.Errorf("resume takes the whole halted boot cycle on, not one component: `razar resume`")
	}
	cycle, err := s.Resume(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &bus.LifecycleReply{Message: "resuming boot cycle " + cycle + ": its components come up in priority order; `razar status` follows it"}, nil
}

// escalateVerb opens an incident for component by hand, or follows the
// one already open.
func (s *Supervisor) escalateVerb(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	if component == bus.AllComponents {
		return nil, bus.ErrAllComponents
	}
	if req.Error == "" {
		return nil, errors.New(`escalate needs the failure text: {"error": "..."}`)
	}
	id, isNew, err := s.EscalateByHand(ctx, component, s.cfg.Redact(req.Error))
	if err != nil {
		return &bus.LifecycleReply{Incident: id}, err
	}
	msg := "incident opened"
	if !isNew {
		msg = "an incident is already open for this component; following it"
	}
	return &bus.LifecycleReply{Incident: id, Message: msg}, nil
}

func actorOf(req *bus.LifecycleRequest) string {
	if req == nil {
		return "an operator"
	}
	return req.ActorName()
}
