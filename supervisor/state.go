package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir"
)

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
	st := &bus.MissionState{Updated: time.Now().UTC(), Host: s.cfg.Host, Cycle: s.cycle, Halted: s.haltedCycle,
		Components: []bus.ComponentView{}, Quarantine: []string{}, Incidents: []string{}}
	for name, c := range s.comps {
		if c.status == bus.StatusQuarantined {
			st.Quarantine = append(st.Quarantine, name)
		}
		st.Components = append(st.Components, c.viewLocked(name))
	}
	s.mu.Unlock()
	for i := range st.Components {
		s.addIncident(st, &st.Components[i])
	}
	if s.cfg.StoreError != nil {
		if err := s.cfg.StoreError(); err != nil {
			st.Store = err.Error()
		}
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
	st.Assess()
	return st
}

// viewLocked is c's line of the mission state; s.mu is held.
func (c *comp) viewLocked(name string) bus.ComponentView {
	v := bus.ComponentView{Name: name, Priority: c.spec.Priority, Chakra: c.spec.Chakra, Status: c.status, Held: c.held,
		Restarts: c.restarts, Crashes: c.crashes, LastExit: c.lastExit, NextRestart: c.nextRestart,
		LastProbe: c.lastProbe, LastError: c.lastError, Incident: c.incident,
		ProbesPassed: c.probesPassed, ProbesFailed: c.probesFailed}
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
	return v
}

// addIncident scrubs v and adds its open incident, if any, to st; an
// escalated component's line gets the rung working on it and its next try.
func (s *Supervisor) addIncident(st *bus.MissionState, v *bus.ComponentView) {
	v.Scrub(s.cfg.Redact)
	if id, rung := s.esc.OpenIncident(v.Name); id != "" {
		st.Incidents = append(st.Incidents, id)
		if v.Status == bus.StatusEscalated {
			v.Rung = rung
			v.NextAttempt = s.esc.NextAttempt(v.Name)
		}
	}
}

// stateInterval is how often, at most, logs/razar_state.json and the
// components' RAZAR_STATE keys are rewritten: a burst of status changes (a
// boot of 200 components) is written as the latest state, not once per
// change.
const stateInterval = 100 * time.Millisecond

// stateWriter coalesces state writes.
type stateWriter struct {
	mu      sync.Mutex
	last    time.Time         // when the last write began
	timer   *time.Timer       // the trailing write, when one is scheduled
	written map[string][]byte // component -> the value last put in RAZAR_STATE
}

// writeState records a status change: at once when nothing was written in
// the last stateInterval, else in one trailing write that takes the latest
// state. flushState writes now.
// IncidentEnded rewrites logs/razar_state.json once the escalator no
// longer names an incident open: the file lists only open incidents, also
// when the incident ends after the component's own last change.
// After Close it does nothing: the file written at shutdown has the last
// word.
func (s *Supervisor) IncidentEnded() {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if !closed {
		s.writeState()
	}
}

func (s *Supervisor) writeState() {
	w := &s.states
	w.mu.Lock()
	if w.timer != nil {
		w.mu.Unlock()
		return // the scheduled write takes this change too
	}
	if wait := stateInterval - time.Since(w.last); wait > 0 {
		w.timer = time.AfterFunc(wait, func() {
			w.mu.Lock()
			w.timer = nil
			w.last = time.Now()
			w.mu.Unlock()
			s.flushState()
		})
		w.mu.Unlock()
		return
	}
	w.last = time.Now()
	w.mu.Unlock()
	s.flushState()
}

// StoreChanged records that the record store went down or came back
// (Config.StoreError): logs/razar_state.json is rewritten, so what it
// says of the mission's health agrees with `razar status`.
func (s *Supervisor) StoreChanged() { s.writeState() }

// flushState rewrites logs/razar_state.json atomically and puts each
// component whose view changed into RAZAR_STATE.
func (s *Supervisor) flushState() {
	s.stateMu.Lock() // one writer at a time
	defer s.stateMu.Unlock()
	st := s.view()
	if err := writeStateFile(s.cfg.Home, st); err != nil {
		s.log.Error().Err(err).Msg("could not write " + razar.Home("").StateFile())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	w := &s.states
	for _, c := range st.Components {
		b, _ := json.Marshal(c)
		w.mu.Lock()
		same := bytes.Equal(w.written[c.Name], b)
		w.mu.Unlock()
		if same {
			continue
		}
		if err := s.store.PutRaw(ctx, bus.ComponentKey(c.Name), b); err != nil {
			break
		}
		w.mu.Lock()
		if w.written == nil {
			w.written = map[string][]byte{}
		}
		w.written[c.Name] = b
		w.mu.Unlock()
	}
}

// finalState cancels a scheduled write and writes the state now: at
// shutdown, so the file holds the last word.
func (s *Supervisor) finalState() {
	w := &s.states
	w.mu.Lock()
	if w.timer != nil && w.timer.Stop() {
		w.timer = nil
	}
	w.mu.Unlock()
	s.flushState()
}

func writeStateFile(home string, st *bus.MissionState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := razar.Home(home).StateFile()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return homedir.WriteAtomic(path, append(data, '\n'), 0o640)
}

// ReadState reads logs/razar_state.json, the last state a RAZAR recorded.
func ReadState(home string) (*bus.MissionState, error) {
	data, err := os.ReadFile(razar.Home(home).StateFile())
	if err != nil {
		return nil, err
	}
	var st bus.MissionState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", razar.Home("").StateFile(), err)
	}
	return &st, nil
}
