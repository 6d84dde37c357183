package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir"
)

// alertsFile is the form of Sinks.StateFile: the alerts open when it
// was written, so the next run can settle them.
type alertsFile struct {
	V      int            `json:"v"`
	Alerts []bus.AlertMsg `json:"alerts"`
}

// save writes the open alerts to StateFile, atomically; a write that fails
// is logged (the alerts themselves went out).
func (a *Alerter) save() {
	if a.sinks.StateFile == "" {
		return
	}
	a.saveMu.Lock()
	defer a.saveMu.Unlock()
	open := a.Firing()
	sort.Slice(open, func(i, j int) bool { return open[i].Fingerprint < open[j].Fingerprint })
	data, err := json.MarshalIndent(alertsFile{V: 1, Alerts: open}, "", "  ")
	if err == nil {
		err = homedir.WriteAtomic(a.sinks.StateFile, append(data, '\n'), 0o640)
	}
	if err != nil {
		a.log.Error().Err(err).Str("file", a.sinks.StateFile).Msg("could not keep the open alerts; the next boot cannot resolve them")
	}
}

// Reconcile settles the alerts an earlier run left open (Sinks.StateFile):
// each one whose cause lasts (lasts reports true) is firing again, re-sent
// and resolved like any other; each one whose cause ended while RAZAR was
// stopped (a quarantine released offline, an incident ended) is resolved
// wherever it went, under the labels it was raised with. Call it once as
// RAZAR starts, before its boot cycle. It returns how many were kept and
// resolved; the error names a StateFile it could not read (set aside as
// <file>.bad, so the next write starts clean).
func (a *Alerter) Reconcile(ctx context.Context, lasts func(bus.AlertMsg) bool) (kept, resolved int, err error) {
	if a.sinks.StateFile == "" {
		return 0, 0, nil
	}
	data, err := os.ReadFile(a.sinks.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", a.sinks.StateFile, err)
	}
	var f alertsFile
	if err := json.Unmarshal(data, &f); err != nil {
		_ = os.Rename(a.sinks.StateFile, a.sinks.StateFile+".bad")
		return 0, 0, fmt.Errorf("%s is not the open-alerts file RAZAR writes (%v); set aside as %s.bad, its alerts resolve only by hand in Alertmanager", a.sinks.StateFile, err, a.sinks.StateFile)
	}
	var gone []bus.AlertMsg
	a.mu.Lock()
	for _, m := range f.Alerts {
		if m.Fingerprint == "" || m.Name == "" {
			continue
		}
		if _, ok := a.active[m.Fingerprint]; ok {
			continue
		}
		if lasts(m) {
			m.Status = "firing"
			a.active[m.Fingerprint] = &firing{msg: m}
			kept++
			continue
		}
		gone = append(gone, m)
	}
	a.mu.Unlock()
	for _, m := range gone {
		m.Status, m.Time = "resolved", time.Now().UTC()
		a.log.Info().Str("alert", m.Name).Str("component", m.Component).Str("incident", m.Incident).Str("fingerprint", m.Fingerprint).
			Msg("alert resolved: its cause ended while RAZAR was stopped")
		a.publish(ctx, &m)
		a.toSinks(&m, m.Time)
		resolved++
	}
	// The kept ones reach Alertmanager again at once: an alert RAZAR did
	// not re-send while it was stopped may be near its endsAt.
	if a.sinks.Alertmanager != "" && kept > 0 {
		var batch []amAlert
		a.mu.Lock()
		for _, f := range a.active {
			batch = append(batch, a.toAM(&f.msg, time.Time{}))
		}
		a.mu.Unlock()
		body, _ := json.Marshal(batch)
		a.deliver("alertmanager", a.amURL(), body)
	}
	a.save()
	return kept, resolved, nil
}
