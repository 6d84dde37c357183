package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// StateFile is logs/razar_state.json, relative to the home.
const StateFile = "logs/razar_state.json"

// View returns the state of every component, or of the one named
// (razar.ErrNotFound when there is no such component).
func (s *Supervisor) View(component string) (*bus.MissionState, error) {
	st := s.view()
	if component == "" || component == bus.AllComponents {
		return st, nil
	}
	var keep []bus.ComponentView
	for _, c := range st.Components {
		if c.Name == component {
			keep = append(keep, c)
		}
	}
	if keep == nil {
		return nil, errUnknown(component)
	}
	st.Components = keep
	return st, nil
}

func (s *Supervisor) view() *bus.MissionState {
	s.mu.Lock()
	st := &bus.MissionState{Updated: time.Now().UTC(), Cycle: s.cycle, Components: []bus.ComponentView{}, Quarantine: []string{}, Incidents: []string{}}
	for name, c := range s.comps {
		v := bus.ComponentView{Name: name, Priority: c.spec.Priority, Chakra: c.spec.Chakra, Status: c.status, Held: c.held,
			Restarts: c.restarts, Crashes: c.crashes, LastExit: c.lastExit, NextRestart: c.nextRestart,
			LastProbe: c.lastProbe, LastError: c.lastError, Incident: c.incident}
		if c.status == bus.StatusHealthy {
			v.Since = c.healthy
		}
		if c.backoff > 0 && c.status == bus.StatusRestarting {
			v.Backoff = c.backoff.Round(time.Millisecond).String()
		} else {
			v.NextRestart = time.Time{}
		}
		if c.proc != nil && c.proc.running() {
			v.PID, v.Adopted = c.proc.id.PID, c.proc.adopted
		}
		if c.status == bus.StatusQuarantined {
			st.Quarantine = append(st.Quarantine, name)
		}
		st.Components = append(st.Components, v)
	}
	halted := s.halted
	s.mu.Unlock()
	for i := range st.Components {
		v := &st.Components[i]
		if id, rung := s.esc.OpenIncident(v.Name); id != "" {
			st.Incidents = append(st.Incidents, id)
			if v.Status == bus.StatusEscalated {
				v.Rung = rung
			}
		}
	}
	st.Health = health(st, halted)
	sort.Slice(st.Components, func(i, j int) bool {
		a, b := st.Components[i], st.Components[j]
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.Name < b.Name
	})
	sort.Strings(st.Quarantine)
	sort.Strings(st.Incidents)
	return st
}

// health is the mission's health: halted while a halted boot's quarantine
// stands, degraded while any component is quarantined, failed or being
// repaired, else healthy. Stopped components are an operator's choice.
func health(st *bus.MissionState, halted bool) string {
	if halted && len(st.Quarantine) > 0 {
		return bus.HealthHalted
	}
	for _, c := range st.Components {
		switch c.Status {
		case bus.StatusQuarantined, bus.StatusFailed, bus.StatusEscalated, bus.StatusRestarting:
			return bus.HealthDegraded
		}
	}
	return bus.HealthHealthy
}

// writeState rewrites logs/razar_state.json atomically and mirrors each
// component into RAZAR_STATE.
func (s *Supervisor) writeState() {
	st := s.view()
	s.stateMu.Lock() // one writer at a time
	defer s.stateMu.Unlock()
	if err := writeStateFile(s.cfg.Home, st); err != nil {
		s.log.Error().Err(err).Msg("could not write " + StateFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range st.Components {
		b, _ := json.Marshal(c)
		if err := s.store.PutRaw(ctx, bus.ComponentKey(c.Name), b); err != nil {
			break
		}
	}
}

func writeStateFile(home string, st *bus.MissionState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(home, StateFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return jetstream.WriteFileAtomic(path, append(data, '\n'), 0o640)
}

// ReadState reads logs/razar_state.json, the last state a RAZAR recorded.
func ReadState(home string) (*bus.MissionState, error) {
	data, err := os.ReadFile(filepath.Join(home, StateFile))
	if err != nil {
		return nil, err
	}
	var st bus.MissionState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", StateFile, err)
	}
	return &st, nil
}
