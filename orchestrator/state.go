package orchestrator

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// StateFile is logs/razar_state.json, relative to the home.
const StateFile = "logs/razar_state.json"

// ComponentView is one component in logs/razar_state.json and status replies.
type ComponentView struct {
	Name      string    `json:"name"`
	Priority  int       `json:"priority"`
	Status    string    `json:"status"`
	Rung      string    `json:"rung,omitempty"` // the rung working on it while escalated
	PID       int       `json:"pid,omitempty"`
	Restarts  int       `json:"restarts"`
	LastProbe time.Time `json:"last_probe,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Incident  string    `json:"incident,omitempty"`
}

// MissionState is logs/razar_state.json.
type MissionState struct {
	Updated    time.Time       `json:"updated"`
	Health     string          `json:"health"` // healthy, degraded, halted
	Cycle      string          `json:"cycle,omitempty"`
	Components []ComponentView `json:"components"`
	Quarantine []string        `json:"quarantine"`
	Incidents  []string        `json:"open_incidents"`
}

// View returns the state of every component.
func (s *Supervisor) View() MissionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := MissionState{Updated: time.Now().UTC(), Health: "healthy", Cycle: s.cycle, Components: []ComponentView{}, Quarantine: []string{}, Incidents: []string{}}
	for name, c := range s.comps {
		v := ComponentView{Name: name, Priority: c.spec.Priority, Status: c.status, Restarts: c.restarts,
			LastProbe: c.lastProbe, LastError: c.lastError, Incident: c.incident}
		if c.proc != nil && c.proc.running() {
			v.PID = c.proc.pid
		}
		switch c.status {
		case StatusQuarantined:
			st.Quarantine = append(st.Quarantine, name)
			st.Health = "degraded"
		case StatusHealthy:
		case StatusStopped:
		default:
			st.Health = "degraded"
		}
		st.Components = append(st.Components, v)
	}
	for id, r := range s.orch.runningIncidents() {
		st.Incidents = append(st.Incidents, id)
		for i := range st.Components {
			if st.Components[i].Name == r.component && st.Components[i].Status == StatusEscalated {
				st.Components[i].Rung = r.rung
			}
		}
	}
	if s.halted {
		st.Health = "halted"
	}
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

// writeState rewrites logs/razar_state.json atomically and mirrors each
// component into RAZAR_STATE.
func (s *Supervisor) writeState() {
	st := s.View()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return
	}
	s.stateMu.Lock() // one writer at a time
	defer s.stateMu.Unlock()
	if err := jetstream.WriteFileAtomic(filepath.Join(s.cfg.Home, StateFile), append(data, '\n'), 0o644); err != nil {
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
