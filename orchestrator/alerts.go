package orchestrator

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
)

// Alerter raises and resolves the alerts of incidents: a warning when an
// incident climbs past RAZAR_ESCALATION_WARNING_THRESHOLD, a page when it
// fails, a human rung's page, a patch waiting for approval. The host passes
// package alert's Alerter, which logs, publishes, audits and delivers them.
type Alerter interface {
	// RaiseNamed raises an alert of component (and incident) with the
	// alertname name; "" derives it from sev and incident.
	RaiseNamed(ctx context.Context, name string, sev bus.Severity, component, incident, msg string)
	// Resolve ends the firing alerts of component: those of incident when
	// it is set, of the given names when any.
	Resolve(ctx context.Context, component, incident string, names ...string)
}

// logAlerts is the Alerter of an orchestrator given none: each alert is a
// log line, with its severity, and goes nowhere else.
type logAlerts struct {
	log    zerolog.Logger
	redact func(string) string
}

var _ Alerter = logAlerts{}

// RaiseNamed implements Alerter.
func (l logAlerts) RaiseNamed(_ context.Context, name string, sev bus.Severity, component, incident, msg string) {
	ev := l.log.Warn()
	if sev == bus.SeverityCritical {
		ev = l.log.Error()
	}
	ev.Str("severity", string(sev)).Str("alert", name).Str("component", component).Str("incident", incident).Msg(l.redact(msg))
}

// Resolve implements Alerter.
func (logAlerts) Resolve(context.Context, string, string, ...string) {}
