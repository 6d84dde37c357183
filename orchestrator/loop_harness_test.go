package orchestrator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/alert"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/clock"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// loop is the incident loop under test: one Orchestrator on a real
// embedded JetStream server (bustest), driven by a fake clock, repairing
// component "web", whose health check passes once the file "healed" is in
// its workdir. Rungs are stand-ins started with answer: a goroutine on the
// rung's durable consumer that takes each escalation and answers on
// razar.result.<incident>.<rung>, as a rung process does, without the
// agents package. Nothing of the orchestrator is stubbed.
type loop struct {
	t       *testing.T
	env     *bustest.Env
	clk     *clock.Fake
	home    string
	workdir string
	reg     *prometheus.Registry
	metrics *Metrics
	fixm    *FixMetrics
	cfg     Config

	mu       sync.Mutex
	roster   *config.Roster
	boot     *config.BootConfig
	orch     *Orchestrator
	stopOrch func()
	got      map[string][]*bus.Escalation // rung -> the escalations it took
	alertLog []bus.AlertMsg
	endedIDs []string
}

// rungs of a test roster.
func execRung(name string, timeout time.Duration) config.AgentEntry {
	return config.AgentEntry{Name: name, Backend: config.BackendExec, Timeout: razar.Duration(timeout)}
}

func takeoverRung(name string, timeout time.Duration) config.AgentEntry {
	e := execRung(name, timeout)
	e.Takeover = true
	return e
}

func humanRung(name string, timeout, ack time.Duration) config.AgentEntry {
	return config.AgentEntry{Name: name, Backend: config.BackendHuman, Timeout: razar.Duration(timeout), AckTimeout: razar.Duration(ack)}
}

// newLoop starts an orchestrator over roster on a fresh server; tweak, when
// set, changes the Config first.
func newLoop(t *testing.T, roster []config.AgentEntry, tweak func(*Config)) *loop {
	t.Helper()
	l := &loop{t: t, env: bustest.New(t), clk: clock.NewFake(time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)),
		home: t.TempDir(), reg: prometheus.NewRegistry(), got: map[string][]*bus.Escalation{}}
	l.workdir = filepath.Join(l.home, "web")
	if err := os.MkdirAll(l.workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.workdir, "app.conf"), []byte("port=abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l.roster = &config.Roster{Agents: roster}
	l.boot = &config.BootConfig{Components: []config.Component{{
		Name: "web", Command: []string{"true"}, Workdir: l.workdir,
		HealthCheck: &razar.HealthCheck{Command: []string{"test", "-f", "healed"}},
	}}}
	l.metrics, l.fixm = NewMetrics(l.reg), NewFixMetrics(l.reg)
	l.cfg = Config{
		Roster:       func() (*config.Roster, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.roster, nil },
		Components:   func() (*config.BootConfig, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.boot, nil },
		Threshold:    DefaultThreshold,
		Home:         l.home,
		Clock:        l.clk,
		VerifyWindow: time.Second, // a rejected fix waits it out; a healthy one passes at once
		Metrics:      l.metrics,
		FixMetrics:   l.fixm,
		Log:          zerolog.Nop(),
		Alerts:       alert.New(l.env.Store, zerolog.Nop()),
		Ended: func(_, id string) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.endedIDs = append(l.endedIDs, id)
		},
	}
	if tweak != nil {
		tweak(&l.cfg)
	}
	// The alerts the orchestrator raises, as a subscriber of the bus sees them.
	stopAlerts, err := bus.Serve(l.env.NC, bus.AlertAll, func(m *bus.Request) {
		var a bus.AlertMsg
		if bus.Decode(m.Data, &a) == nil {
			l.mu.Lock()
			l.alertLog = append(l.alertLog, a)
			l.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopAlerts)
	l.start()
	return l
}

// start runs an orchestrator on the loop's store, as `razar boot` does:
// rungs declared, their heartbeats watched, open incidents resumed.
func (l *loop) start() {
	l.t.Helper()
	o, err := New(l.env.Store, l.cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := o.DeclareRungs(ctx); err != nil {
		l.t.Fatal(err)
	}
	stopWatch, err := o.WatchRungs(ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done; stopWatch() }) }
	l.t.Cleanup(stop)
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := o.Resumed(rctx); err != nil {
		l.t.Fatalf("orchestrator did not start: %v", err)
	}
	l.mu.Lock()
	l.orch, l.stopOrch = o, stop
	l.mu.Unlock()
}

// restart stops the orchestrator, as a crash leaves things, and starts
// another on the same store.
func (l *loop) restart() {
	l.t.Helper()
	l.stopOrch()
	l.start()
}

func (l *loop) o() *Orchestrator {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.orch
}

// answer starts the stand-in of rung: each escalation it takes is
// acknowledged and given to fn; what fn returns (nil: no answer, the
// attempt times out) is published as the rung's result.
func (l *loop) answer(rung string, fn func(esc *bus.Escalation) *bus.Result) {
	l.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.env.Store.Consume(ctx, jetstream.ConsumerConfig{Durable: bus.ConsumerName(rung), Filter: bus.EscalateSubject(rung)},
			func(ctx context.Context, d *jetstream.Delivery) {
				var esc bus.Escalation
				if err := bus.Decode(d.Data, &esc); err != nil {
					_ = d.Term()
					return
				}
				_ = d.Ack()
				l.mu.Lock()
				l.got[rung] = append(l.got[rung], &esc)
				l.mu.Unlock()
				res := fn(&esc)
				if res == nil {
					return
				}
				if res.Incident == "" {
					res.Incident, res.Attempt, res.Rung = esc.Incident, esc.Attempt, rung
				}
				_ = l.env.Store.Publish(ctx, bus.ResultSubject(esc.Incident, rung), bus.ResultMsgID(esc.Incident, esc.Attempt), res)
			})
	}()
	l.t.Cleanup(func() { cancel(); <-done })
}

// escalations returns the escalations rung has taken so far.
func (l *loop) escalations(rung string) []*bus.Escalation {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*bus.Escalation(nil), l.got[rung]...)
}

// heals is a rung's answer that fixes web (the file its health check
// looks for) and says so.
func (l *loop) heals(summary string) func(*bus.Escalation) *bus.Result {
	return func(*bus.Escalation) *bus.Result {
		if err := os.WriteFile(filepath.Join(l.workdir, "healed"), []byte("ok"), 0o644); err != nil {
			l.t.Error(err)
		}
		return &bus.Result{Status: razar.StatusFixed, Summary: summary}
	}
}

func says(status razar.Status, summary string) func(*bus.Escalation) *bus.Result {
	return func(*bus.Escalation) *bus.Result { return &bus.Result{Status: status, Summary: summary} }
}

func silent(*bus.Escalation) *bus.Result { return nil }

// heartbeat publishes rung's heartbeat, as its process does every few
// seconds, and waits until the orchestrator has recorded it.
func (l *loop) heartbeat(rung string, ready bool, detail string) {
	l.t.Helper()
	hb := &bus.Heartbeat{Name: rung, Kind_: "agent", Status: "ready", Detail: detail, Host: "test", Time: time.Now().UTC()}
	if !ready {
		hb.Status = "unavailable"
	}
	data, err := bus.Encode(hb)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.env.NC.Publish(bus.HeartbeatSubject(rung), data); err != nil {
		l.t.Fatal(err)
	}
	bustest.Eventually(l.t, 10*time.Second, func() bool {
		st, err := l.env.Store.AgentStatus(context.Background(), rung)
		return err == nil && st.Ready == ready && st.Updated.Equal(hb.Time)
	}, "rung %s's heartbeat was not recorded", rung)
}

// escalate opens an incident of web and returns its id.
func (l *loop) escalate(failure string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, opened, err := l.o().Escalate(ctx, "web", failure, "")
	if err != nil || !opened {
		l.t.Fatalf("escalate: %s %v %v", id, opened, err)
	}
	return id
}

// wait waits for incident id's end.
func (l *loop) wait(id string) *bus.IncidentRecord {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec, err := l.o().Wait(ctx, id)
	if err != nil {
		l.t.Fatalf("incident %s did not end: %v", id, err)
	}
	return rec
}

// released waits until incident id's loop has let go of its component
// (Config.Ended). Wait returns once the record is final, which is before
// that: a new incident of the component waits for released, or Escalate
// may still find the ended one open.
func (l *loop) released(id string) {
	l.t.Helper()
	bustest.Eventually(l.t, 5*time.Second, func() bool { return l.ended(id) }, "incident %s's loop never let go of its component", id)
}

// pending waits until incident id's pending attempt is rung's.
func (l *loop) pending(id, rung string) {
	l.t.Helper()
	bustest.Eventually(l.t, 10*time.Second, func() bool {
		rec, _, err := l.env.Store.Incident(context.Background(), id)
		return err == nil && rec.Pending != nil && rec.Pending.Rung == rung
	}, "incident %s's attempt never went to %s", id, rung)
}

// audit returns incident id's audit records, in stream order.
func (l *loop) audit(id string) []bus.AuditRecord {
	l.t.Helper()
	var out []bus.AuditRecord
	err := l.env.Store.Scan(context.Background(), bus.AuditAll, time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err != nil {
			return err
		}
		if id == "" || r.Incident == id {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return out
}

// events is the audit's events as "opened escalation attempt healed".
func events(recs []bus.AuditRecord, only ...bus.Event) string {
	var out []string
	for _, r := range recs {
		if len(only) > 0 && !slices.Contains(only, r.Event) {
			continue
		}
		out = append(out, string(r.Event))
	}
	return strings.Join(out, " ")
}

// attemptsOf is the incident's attempts as "crown:no_fix k2:healed".
func attemptsOf(rec *bus.IncidentRecord) string {
	var out []string
	for _, a := range rec.Attempts {
		out = append(out, a.Rung+":"+string(a.Outcome))
	}
	return strings.Join(out, " ")
}

// alerts returns the alerts seen on the bus named name ("" every one).
func (l *loop) alerts(name string) []bus.AlertMsg {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []bus.AlertMsg
	for _, a := range l.alertLog {
		if name == "" || a.Name == name {
			out = append(out, a)
		}
	}
	return out
}

// alerted waits for an alert with name and status about incident id.
func (l *loop) alerted(name, status, id string) bus.AlertMsg {
	l.t.Helper()
	var got bus.AlertMsg
	bustest.Eventually(l.t, 10*time.Second, func() bool {
		for _, a := range l.alerts(name) {
			if a.Status == status && (id == "" || a.Incident == id) {
				got = a
				return true
			}
		}
		return false
	}, "no %s alert %s for %s", name, status, id)
	return got
}

// ended reports whether Config.Ended was called for id.
func (l *loop) ended(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.endedIDs {
		if e == id {
			return true
		}
	}
	return false
}

// setRoster replaces the roster, as a reload does.
func (l *loop) setRoster(agents ...config.AgentEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.roster = &config.Roster{Agents: agents}
}

// setComponent changes web's entry in the boot config.
func (l *loop) setComponent(f func(*config.Component)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.boot.Components[0]
	f(&c)
	l.boot = &config.BootConfig{Components: []config.Component{c}}
}

func isNotFound(err error) bool { return errors.Is(err, razar.ErrNotFound) }

// value is a counter's or gauge's current value.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	return -1
}
