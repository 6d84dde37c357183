package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// AlertSinks are the optional external receivers of alerts.
type AlertSinks struct {
	// Webhook receives each alert as a JSON POST (RAZAR_ALERT_WEBHOOK).
	Webhook string
	// Alertmanager is the base URL of an Alertmanager; alerts go to its v2
	// API, /api/v2/alerts (RAZAR_ALERTMANAGER_URL).
	Alertmanager string
	// Timeout bounds one delivery try. Default 5 s.
	Timeout time.Duration
	// Tries bounds the tries per alert and sink. Default 3.
	Tries int
	// Client is the HTTP client; default one with Timeout.
	Client *http.Client
}

// Alerter raises warning and critical alerts: a log line with a severity
// field, a message on razar.alert.<severity>, an audit record, and the
// optional webhook and Alertmanager. External deliveries run in the
// background with bounded retries; Close waits for them.
type Alerter struct {
	// Redact, when set, scrubs secrets from every alert's text.
	Redact func(string) string

	store *jetstream.Store
	log   zerolog.Logger
	sinks AlertSinks
	wg    sync.WaitGroup
}

// NewAlerter returns an Alerter publishing through store.
func NewAlerter(store *jetstream.Store, log zerolog.Logger) *Alerter {
	return &Alerter{store: store, log: log}
}

// WithSinks adds external receivers. Call before the first Raise.
func (a *Alerter) WithSinks(s AlertSinks) *Alerter {
	if s.Timeout <= 0 {
		s.Timeout = 5 * time.Second
	}
	if s.Tries <= 0 {
		s.Tries = 3
	}
	if s.Client == nil {
		s.Client = &http.Client{Timeout: s.Timeout}
	}
	a.sinks = s
	return a
}

// Close waits for deliveries in flight.
func (a *Alerter) Close() { a.wg.Wait() }

// Raise sends one alert. It never fails: a delivery error is logged.
func (a *Alerter) Raise(ctx context.Context, sev bus.Severity, component, incident, msg string) {
	a.RaiseNamed(ctx, "", sev, component, incident, msg)
}

// RaiseNamed is Raise with the alertname Alertmanager routes on; "" derives
// it (RazarBootHalted, RazarIncidentFailed, RazarEscalationWarning, RazarAlert).
func (a *Alerter) RaiseNamed(ctx context.Context, name string, sev bus.Severity, component, incident, msg string) {
	if a.Redact != nil {
		msg = a.Redact(msg)
	}
	ev := a.log.Warn()
	if sev == bus.SeverityCritical {
		ev = a.log.Error()
	}
	ev.Str("severity", string(sev)).Str("component", component).Str("incident", incident).Msg(msg)
	m := &bus.AlertMsg{Severity: sev, Message: msg, Component: component, Incident: incident, Time: time.Now().UTC()}
	if data, err := bus.Encode(m); err == nil {
		if err := a.store.Conn().Publish(bus.AlertSubject(sev), data); err != nil {
			a.log.Error().Err(err).Msg("could not publish alert")
		}
	}
	if component != "" {
		rec := &bus.AuditRecord{Event: bus.EventAlert, Component: component, Incident: incident, Severity: string(sev), Message: msg}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := a.store.Audit(pctx, rec, ""); err != nil {
			a.log.Error().Err(err).Msg("could not record alert")
		}
		cancel()
	}
	if a.sinks.Webhook != "" {
		body, _ := json.Marshal(m)
		a.deliver("webhook", a.sinks.Webhook, body)
	}
	if a.sinks.Alertmanager != "" {
		body, _ := json.Marshal([]amAlert{toAM(m, name)})
		a.deliver("alertmanager", strings.TrimSuffix(a.sinks.Alertmanager, "/")+"/api/v2/alerts", body)
	}
}

// amAlert is one alert of Alertmanager's v2 API (postableAlert).
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
}

func toAM(m *bus.AlertMsg, name string) amAlert {
	labels := map[string]string{"alertname": "RazarAlert", "severity": string(m.Severity), "service": "razar"}
	if m.Component != "" {
		labels["component"] = m.Component
	}
	if m.Incident != "" {
		labels["incident"] = m.Incident
	}
	if m.Severity == bus.SeverityWarning {
		labels["alertname"] = "RazarEscalationWarning"
	} else if m.Incident != "" {
		labels["alertname"] = "RazarIncidentFailed"
	}
	if name != "" {
		labels["alertname"] = name
	}
	return amAlert{Labels: labels, Annotations: map[string]string{"summary": m.Message}, StartsAt: m.Time}
}

// deliver POSTs body to url in the background, retrying with backoff.
func (a *Alerter) deliver(sink, url string, body []byte) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		var last error
		for try := 1; try <= a.sinks.Tries; try++ {
			if last = a.post(url, body); last == nil {
				return
			}
			if try < a.sinks.Tries {
				time.Sleep(time.Duration(try) * 200 * time.Millisecond)
			}
		}
		a.log.Error().Err(last).Str("sink", sink).Int("tries", a.sinks.Tries).Msg("alert not delivered")
	}()
}

func (a *Alerter) post(url string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.sinks.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.sinks.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", req.URL.Host, resp.Status)
	}
	return nil
}
