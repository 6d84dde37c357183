package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// Stop stops a component and keeps it down: supervision will not restart it.
func (s *Supervisor) Stop(ctx context.Context, name string) error {
	s.mu.Lock()
	c, ok := s.comps[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("component %q: %w (fix: check config/boot_config.json)", name, razar.ErrNotFound)
	}
	c.wantUp = false
	if c.cancelRecov != nil {
		c.cancelRecov()
	}
	p := c.proc
	c.proc = nil
	quarantined := c.status == StatusQuarantined
	s.mu.Unlock()
	if p != nil {
		p.stop(s.cfg.StopGrace)
	}
	if !quarantined {
		s.setStatus(name, StatusStopped, "")
	}
	s.log.Info().Str("component", name).Msg("component stopped")
	return nil
}

// Start starts a stopped component and waits until it is healthy. A
// quarantined component must be released first.
func (s *Supervisor) Start(ctx context.Context, name string) error {
	s.mu.Lock()
	c, ok := s.comps[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("component %q: %w (fix: check config/boot_config.json)", name, razar.ErrNotFound)
	}
	if c.status == StatusQuarantined {
		s.mu.Unlock()
		return fmt.Errorf("%s is quarantined (incident %s): release it first with `razar release %s`", name, c.incident, name)
	}
	if c.recovering {
		s.mu.Unlock()
		return fmt.Errorf("%s is being repaired (status %s): wait, or `razar abort %s`", name, c.status, name)
	}
	c.wantUp = true
	s.mu.Unlock()
	return s.startAndCheck(ctx, name)
}

// Restart stops and starts a component.
func (s *Supervisor) Restart(ctx context.Context, name string) error {
	if err := s.Stop(ctx, name); err != nil {
		return err
	}
	return s.Start(ctx, name)
}

// Release lifts a component's quarantine; it stays stopped until started.
func (s *Supervisor) Release(ctx context.Context, name string) error {
	s.mu.Lock()
	c, ok := s.comps[name]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("component %q: %w", name, razar.ErrNotFound)
	}
	if c.status != StatusQuarantined {
		s.mu.Unlock()
		return fmt.Errorf("%s is not quarantined (status %s)", name, c.status)
	}
	c.status = StatusStopped
	c.incident = ""
	s.mu.Unlock()
	if err := os.Remove(s.quarantineFile(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", s.quarantineFile(name), err)
	}
	s.writeState()
	s.log.Info().Str("component", name).Msg("quarantine lifted; start it with `razar start " + name + "`")
	return nil
}

// StatusView is the data of a status reply.
type StatusView struct {
	Mission   *MissionState         `json:"mission,omitempty"`
	Incidents []*bus.IncidentRecord `json:"incidents"`
	Agents    []*bus.AgentStatus    `json:"agents,omitempty"`
}

// Register adds the component verbs (stop, start, restart, release) and a
// status that includes components to l.
func (s *Supervisor) Register(l *Lifecycle) {
	simple := func(f func(context.Context, string) error, msg string) VerbHandler {
		return func(ctx context.Context, component string, _ *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
			if component == bus.AllComponents {
				return nil, errors.New("name one component")
			}
			if err := f(ctx, component); err != nil {
				return nil, err
			}
			return &bus.LifecycleReply{Message: msg}, nil
		}
	}
	l.Handle(bus.VerbStop, simple(s.Stop, "stopped"))
	l.Handle(bus.VerbStart, simple(s.Start, "started and healthy"))
	l.Handle(bus.VerbRestart, simple(s.Restart, "restarted and healthy"))
	l.Handle(bus.VerbRelease, simple(s.Release, "quarantine lifted; start it with `razar start`"))
	orchStatus := s.orch.statusHandler()
	l.Handle(bus.VerbStatus, func(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		rep, err := orchStatus(ctx, component, req)
		if err != nil {
			return rep, err
		}
		var view StatusView
		if err := json.Unmarshal(rep.Data, &view); err != nil {
			return nil, err
		}
		m := s.View()
		if component != bus.AllComponents {
			var keep []ComponentView
			for _, c := range m.Components {
				if c.Name == component {
					keep = append(keep, c)
				}
			}
			if keep == nil {
				return nil, fmt.Errorf("component %q: %w", component, razar.ErrNotFound)
			}
			m.Components = keep
		}
		view.Mission = &m
		rep.Data, err = json.Marshal(view)
		return rep, err
	})
}
