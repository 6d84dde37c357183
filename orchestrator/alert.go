package orchestrator

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// Alerter raises warning and critical alerts: a log line with a severity
// field, a message on razar.alert.<severity>, and an audit record.
type Alerter struct {
	store *jetstream.Store
	log   zerolog.Logger
}

// NewAlerter returns an Alerter publishing through store.
func NewAlerter(store *jetstream.Store, log zerolog.Logger) *Alerter {
	return &Alerter{store: store, log: log}
}

// Raise sends one alert. It never fails: a delivery error is logged.
func (a *Alerter) Raise(ctx context.Context, sev bus.Severity, component, incident, msg string) {
	ev := a.log.Warn()
	if sev == bus.SeverityCritical {
		ev = a.log.Error()
	}
	ev.Str("severity", string(sev)).Str("component", component).Str("incident", incident).Str("alert", msg).Msg(msg)
	m := &bus.AlertMsg{Severity: sev, Message: msg, Component: component, Incident: incident, Time: time.Now().UTC()}
	if data, err := bus.Encode(m); err == nil {
		if err := a.store.Conn().Publish(bus.AlertSubject(sev), data); err != nil {
			a.log.Error().Err(err).Msg("could not publish alert")
		}
	}
	if component != "" {
		rec := &bus.AuditRecord{Event: bus.EventAlert, Component: component, Incident: incident, Severity: string(sev), Message: msg}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := a.store.Audit(pctx, rec, ""); err != nil {
			a.log.Error().Err(err).Msg("could not record alert")
		}
	}
}
