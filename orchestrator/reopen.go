package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/jetstream"
)

// A heal that does not hold is not a new incident: when a component fails
// again within the settle window of its incident's heal, that incident is
// opened again and goes on up the ladder from where it was (its attempts
// counted as before); after MaxReopens reopenings the next failure ends it
// failed, and the supervisor quarantines the component with its alert.
// Only the failures the supervisor sees reopen (Reopen); an operator's
// `razar escalate` opens a new incident as before. Without this, a
// component that fails right after each heal opens
// incident after incident, each calling the paid rungs again.

// Defaults of Config.SettleWindow and Config.MaxReopens.
const (
	DefaultSettleWindow = 5 * time.Minute
	DefaultMaxReopens   = 3
)

// Reopen opens again the incident of component that healed within the
// settle window, with the new failure, and starts it; or ends it failed
// when it was reopened MaxReopens times already. It returns "" when there
// is no such incident (Escalate then opens a new one), and the id of the
// one open when there is one. The supervisor calls it for the failures it
// sees; an operator's `razar escalate` always opens a new incident.
func (o *Orchestrator) Reopen(ctx context.Context, component, failure string) (string, error) {
	if o.cfg.SettleWindow < 0 || razar.ValidName(component) != nil {
		return "", nil
	}
	if id, _ := o.OpenIncident(component); id != "" {
		return id, nil
	}
	recs, err := o.store.Incidents(ctx, nil)
	if err != nil {
		return "", nil // a new incident, as before: reopening is an economy
	}
	var last *bus.IncidentRecord
	for _, r := range recs {
		if r.Component == component && r.State == razar.IncidentHealed && (last == nil || r.Updated.After(last.Updated)) {
			last = r
		}
	}
	if last == nil || time.Since(last.Updated) > o.cfg.SettleWindow {
		return "", nil
	}
	for tries := 0; tries < 10; tries++ {
		rec, rev, err := o.store.Incident(ctx, last.ID)
		if err != nil {
			return "", err
		}
		if rec.State != razar.IncidentHealed {
			if rec.State == razar.IncidentOpen {
				o.start(rec.ID, component, false)
				return rec.ID, nil
			}
			return "", nil // ended otherwise meanwhile: a new incident
		}
		healed := rec.Reason
		rec.State, rec.Reason, rec.Pending = razar.IncidentOpen, "", nil
		rec.Reopened++
		rec.Error = failure
		rec.Scrub(o.redact)
		if _, err := o.store.UpdateIncident(ctx, rec, rev); errors.Is(err, jetstream.ErrConflict) {
			continue
		} else if err != nil {
			return "", err
		}
		why := fmt.Sprintf("the fix did not hold: %s failed again %s after the incident healed (%s); reopening %d of %d",
			component, time.Since(last.Updated).Round(time.Second), healed, rec.Reopened, o.cfg.MaxReopens)
		o.audit(ctx, &bus.AuditRecord{Event: bus.EventReopened, Component: component, Incident: rec.ID, Error: rec.Error, Reason: why},
			bus.AuditMsgID(bus.EventReopened, rec.ID, rec.Reopened))
		if rec.Reopened > o.cfg.MaxReopens {
			reason := fmt.Sprintf("its fixes never held: %s failed again within %s of each heal, %d times; quarantined so no more rungs are paid for it (fix it by hand, then `razar release %s`)",
				component, o.cfg.SettleWindow, rec.Reopened, component)
			o.log.Error().Str("component", component).Str("incident", rec.ID).Int("reopened", rec.Reopened).Msg(reason)
			return rec.ID, o.finish(ctx, rec.ID, razar.IncidentFailed, reason)
		}
		o.log.Warn().Str("component", component).Str("incident", rec.ID).Int("reopened", rec.Reopened).Str("error", cut.FirstLine(rec.Error)).Msg(why)
		if !o.start(rec.ID, component, false) {
			return rec.ID, fmt.Errorf("orchestrator is not running; the incident will resume when it starts")
		}
		return rec.ID, nil
	}
	return "", nil
}
