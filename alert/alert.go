package alert

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/backoff"
	"github.com/razar/razar/jetstream"
)

// Sinks are the optional external receivers of alerts.
type Sinks struct {
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
	// Resend is how often a firing alert is sent to Alertmanager again,
	// so it does not expire while its cause lasts (and RAZAR with it).
	// Default 1 min; each send asks Alertmanager to keep it 4 times that.
	Resend time.Duration
	// Runbook is the base URL of docs/RUNBOOK.md; each alert links to
	// its section (#<alertname, lower case>). Default DefaultRunbook.
	Runbook string
	// Host names the machine in every alert: the host label (RAZAR_HOST,
	// by default the hostname), so two RAZARs never share an alert.
	Host string
	// Home is the RAZAR home's identity, the razar_home label: two homes
	// on one host are two alert sources too.
	Home string
	// StatusURL is the status page each alert links to (generatorURL).
	StatusURL string
	// StateFile, when set, keeps the open alerts across restarts (written
	// atomically at each raise and resolve), so the next run's Reconcile
	// can resolve those whose cause ended while RAZAR was stopped.
	StateFile string
}

// DefaultRunbook is where alerts link when RAZAR_RUNBOOK_URL is unset.
const DefaultRunbook = "https://github.com/razar/razar/blob/main/docs/RUNBOOK.md"

// updateEvery throttles external updates of one firing alert: a burst of
// warnings for one incident is one alert, its text updated at most this often.
const updateEvery = 30 * time.Second

// Alerter raises warning and critical alerts: a log line with a severity
// field, a message on razar.alert.<severity>, an audit record, and the
// optional webhook and Alertmanager. External deliveries run in the
// background with bounded retries; Close waits for them.
type Alerter struct {
	// Redact, when set, scrubs secrets from every alert's text; unset, the
	// shapes of secrets are scrubbed all the same (razar.ScrubShapes).
	Redact func(string) string

	store *jetstream.Store
	log   zerolog.Logger
	sinks Sinks
	wg    sync.WaitGroup

	mu     sync.Mutex
	active map[string]*firing // by fingerprint
	saveMu sync.Mutex         // orders the writes of StateFile
	stop   chan struct{}      // closed by Close: ends the resender
	once   sync.Once
}

// firing is one alert between its first raise and its resolve.
type firing struct {
	msg  bus.AlertMsg
	sent time.Time // last external delivery
}

// New returns an Alerter publishing through store.
func New(store *jetstream.Store, log zerolog.Logger) *Alerter {
	return &Alerter{store: store, log: log, active: map[string]*firing{}, stop: make(chan struct{}),
		sinks: Sinks{Runbook: DefaultRunbook}}
}

// WithSinks adds external receivers. Call before the first Raise.
func (a *Alerter) WithSinks(s Sinks) *Alerter {
	if s.Timeout <= 0 {
		s.Timeout = 5 * time.Second
	}
	if s.Tries <= 0 {
		s.Tries = 3
	}
	if s.Client == nil {
		s.Client = &http.Client{Timeout: s.Timeout}
	}
	if s.Resend <= 0 {
		s.Resend = time.Minute
	}
	if s.Runbook == "" {
		s.Runbook = DefaultRunbook
	}
	a.sinks = s
	if s.Alertmanager != "" {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.resend() }()
	}
	return a
}

// Close stops re-sending and waits for deliveries in flight.
func (a *Alerter) Close() {
	a.once.Do(func() { close(a.stop) })
	a.wg.Wait()
}

// Firing lists the alerts raised and not yet resolved.
func (a *Alerter) Firing() []bus.AlertMsg {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]bus.AlertMsg, 0, len(a.active))
	for _, f := range a.active {
		out = append(out, f.msg)
	}
	return out
}

// resend posts every firing alert to Alertmanager again each Resend, so
// none expires while its cause lasts.
func (a *Alerter) resend() {
	t := time.NewTicker(a.sinks.Resend)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			var batch []amAlert
			a.mu.Lock()
			for _, f := range a.active {
				batch = append(batch, a.toAM(&f.msg, time.Time{}))
			}
			a.mu.Unlock()
			if len(batch) > 0 {
				body, _ := json.Marshal(batch)
				a.deliver("alertmanager", a.amURL(), body)
			}
		}
	}
}

func (a *Alerter) amURL() string {
	return strings.TrimSuffix(a.sinks.Alertmanager, "/") + "/api/v2/alerts"
}

// alertName derives the alertname Alertmanager routes on.
func alertName(name string, sev bus.Severity, incident string) string {
	switch {
	case name != "":
		return name
	case sev == bus.SeverityWarning:
		return "RazarEscalationWarning"
	case incident != "":
		return "RazarIncidentFailed"
	}
	return "RazarAlert"
}

// fingerprint names one alert of one RAZAR: its host and home are part of
// it, so two RAZARs' alerts of one cause are two alerts.
func fingerprint(name, component, incident, host, home string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + component + "\x00" + incident + "\x00" + host + "\x00" + home))
	return hex.EncodeToString(sum[:8])
}

// stamp puts this RAZAR's identity and status page on m.
func (a *Alerter) stamp(m *bus.AlertMsg) {
	m.Host, m.Home, m.GeneratorURL = a.sinks.Host, a.sinks.Home, a.sinks.StatusURL
	m.Fingerprint = fingerprint(m.Name, m.Component, m.Incident, m.Host, m.Home)
}

// ResolveNamed resolves alert name of component (and incident) wherever
// it may fire, even one an earlier run raised: `razar boot` resolves the
// last run's boot halt as its cycle starts.
func (a *Alerter) ResolveNamed(ctx context.Context, name string, sev bus.Severity, component, incident string) {
	m := bus.AlertMsg{Severity: sev, Component: component, Incident: incident, Time: time.Now().UTC(), Name: name,
		Status: "resolved", Runbook: a.sinks.Runbook + "#" + strings.ToLower(name), Message: name + " resolved"}
	a.stamp(&m)
	a.mu.Lock()
	_, known := a.active[m.Fingerprint]
	a.mu.Unlock()
	if known {
		a.Resolve(ctx, component, incident, name)
		return
	}
	if a.sinks.Alertmanager != "" {
		body, _ := json.Marshal([]amAlert{a.toAM(&m, m.Time)})
		a.deliver("alertmanager", a.amURL(), body)
	}
}

// Resolve ends the firing alerts of component: those of incident when it
// is set, else all of the component's; names, when given, narrow it to
// those alertnames. Each goes out as resolved wherever it went firing.
func (a *Alerter) Resolve(ctx context.Context, component, incident string, names ...string) {
	a.mu.Lock()
	var done []bus.AlertMsg
	for fp, f := range a.active {
		if f.msg.Component != component || (incident != "" && f.msg.Incident != incident) {
			continue
		}
		if len(names) > 0 && !slices.Contains(names, f.msg.Name) {
			continue
		}
		delete(a.active, fp)
		done = append(done, f.msg)
	}
	a.mu.Unlock()
	if len(done) > 0 {
		a.save()
	}
	for _, m := range done {
		m.Status, m.Time = "resolved", time.Now().UTC()
		a.log.Info().Str("alert", m.Name).Str("component", m.Component).Str("incident", m.Incident).Str("fingerprint", m.Fingerprint).Msg("alert resolved")
		a.publish(ctx, &m)
		a.toSinks(&m, m.Time)
	}
}

// Raise sends one alert. It never fails: a delivery error is logged.
func (a *Alerter) Raise(ctx context.Context, sev bus.Severity, component, incident, msg string) {
	a.RaiseNamed(ctx, "", sev, component, incident, msg)
}

// RaiseNamed is Raise with the alertname Alertmanager routes on; "" derives
// it (RazarBootHalted, RazarIncidentFailed, RazarEscalationWarning, RazarAlert).
func (a *Alerter) RaiseNamed(ctx context.Context, name string, sev bus.Severity, component, incident, msg string) {
	name = alertName(name, sev, incident)
	now := time.Now().UTC()
	m := bus.AlertMsg{Severity: sev, Message: msg, Component: component, Incident: incident, Time: now,
		Name: name, Status: "firing", Runbook: a.sinks.Runbook + "#" + strings.ToLower(name)}
	redact := a.Redact
	if redact == nil {
		redact = razar.ScrubShapes
	}
	m.Scrub(redact)
	ev := a.log.Warn()
	if sev == bus.SeverityCritical {
		ev = a.log.Error()
	}
	ev.Str("severity", string(sev)).Str("component", component).Str("incident", incident).Msg(m.Message)
	a.stamp(&m)
	fp := m.Fingerprint
	// One alert per cause: a raise of a firing one updates its text, and
	// reaches the external sinks at most every updateEvery.
	a.mu.Lock()
	f, again := a.active[fp]
	if !again {
		f = &firing{}
		a.active[fp] = f
	} else {
		m.Time = f.msg.Time // it started when it first fired
	}
	f.msg = m
	send := !again || now.Sub(f.sent) >= updateEvery
	if send {
		f.sent = now
	}
	a.mu.Unlock()
	if !again {
		a.save()
	}
	a.publish(ctx, &m)
	if !send {
		return
	}
	a.toSinks(&m, time.Time{})
}

// toSinks posts m to the webhook and to Alertmanager, resolved at ended
// when it is set (see toAM).
func (a *Alerter) toSinks(m *bus.AlertMsg, ended time.Time) {
	if a.sinks.Webhook != "" {
		body, _ := json.Marshal(m)
		a.deliver("webhook", a.sinks.Webhook, body)
	}
	if a.sinks.Alertmanager != "" {
		body, _ := json.Marshal([]amAlert{a.toAM(m, ended)})
		a.deliver("alertmanager", a.amURL(), body)
	}
}

// publish puts the alert on razar.alert.<severity> and, for a component,
// on the audit stream.
func (a *Alerter) publish(ctx context.Context, m *bus.AlertMsg) {
	if data, err := bus.Encode(m); err == nil {
		if err := a.store.Conn().Publish(bus.AlertSubject(m.Severity), data); err != nil {
			a.log.Error().Err(err).Msg("could not publish alert")
		}
	}
	if m.Component != "" {
		rec := &bus.AuditRecord{Event: bus.EventAlert, Component: m.Component, Incident: m.Incident, Severity: string(m.Severity),
			Message: m.Message, Status: m.Status, Reason: m.Name}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := a.store.Audit(pctx, rec, ""); err != nil {
			a.log.Error().Err(err).Msg("could not record alert")
		}
		cancel()
	}
}

// amAlert is one alert of Alertmanager's v2 API (postableAlert).
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// toAM is the Alertmanager form of m: resolved at ended when it is set,
// else firing and kept for 4 resend intervals, so an alert RAZAR no longer
// re-sends (RAZAR down) expires, and one it does never does.
func (a *Alerter) toAM(m *bus.AlertMsg, ended time.Time) amAlert {
	labels := map[string]string{"alertname": m.Name, "severity": string(m.Severity), "service": "razar"}
	if m.Host != "" {
		labels["host"] = m.Host
	}
	if m.Home != "" {
		labels["razar_home"] = m.Home
	}
	if m.Component != "" {
		labels["component"] = m.Component
	}
	if m.Incident != "" {
		labels["incident"] = m.Incident
	}
	ends := ended
	if ends.IsZero() {
		resend := a.sinks.Resend
		if resend <= 0 {
			resend = time.Minute
		}
		keep := 4 * resend
		if m.Severity == bus.SeverityCritical {
			// A halted `razar boot --once` exits and re-sends nothing: a
			// page stays a day unless RAZAR resolves it (release, boot).
			keep = max(keep, 24*time.Hour)
		}
		ends = time.Now().UTC().Add(keep)
	}
	return amAlert{Labels: labels, Annotations: map[string]string{"summary": m.Message, "runbook_url": m.Runbook},
		StartsAt: m.Time, EndsAt: ends, GeneratorURL: m.GeneratorURL}
}

// deliveryBackoff paces the retries of one delivery: 200 ms, 400 ms, ...
// up to 5 s (one default Timeout).
var deliveryBackoff = backoff.Backoff{Base: 200 * time.Millisecond, Max: 5 * time.Second}

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
				time.Sleep(deliveryBackoff.For(try))
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
