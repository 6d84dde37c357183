package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/jetstream"
)

// Loader builds a rung's backend from the current roster and environment. It
// is called at start and again on every razar.agents.reload; an error means
// the rung cannot run: it reports itself not ready (so the orchestrator
// skips it), and answers any attempt that still reaches it with status error.
type Loader func(ctx context.Context) (razar.Agent, error)

// Config configures one rung's runtime.
type Config struct {
	Name    string // required: the rung's roster name
	Display string // defaults to Name
	// Load builds the backend. Required.
	Load Loader
	// Redactor, when set, is called with Load (at start and on every reload)
	// for the secrets to scrub from what the backend sees and what this
	// rung publishes.
	Redactor func() (*razar.Redactor, error)
	// Probe, when set, answers readiness probes on razar.agents.probe.<name>
	// (razar rotate-keys, razar agents check): whether this process could
	// run with a candidate roster, or the roster as it is now. Unset, a
	// probe is answered with the readiness of what was last loaded.
	Probe Prober
	// Handshake, when set, answers the mission brief on
	// razar.handshake.<name> at the start of every boot cycle (Crown).
	Handshake func(ctx context.Context, brief *bus.MissionBrief) *bus.HandshakeAck
	// Workers is how many attempts this process works at once. Default 2.
	Workers int
	// AckWait is how long the server waits before redelivering an attempt
	// whose process went silent. Default jetstream.DefaultAckWait.
	AckWait time.Duration
	// Heartbeat is the interval of razar.heartbeat.<name>. Default 10 s.
	Heartbeat time.Duration
	// Host names this process in results and heartbeats. Default hostname:pid.
	Host string
	Log  zerolog.Logger
}

func (c *Config) valid() error {
	if err := razar.ValidName(c.Name); err != nil {
		return fmt.Errorf("%w: agent name: %v", razar.ErrInvalidConfig, err)
	}
	if c.Load == nil {
		return fmt.Errorf("%w: agent %s: no backend loader", razar.ErrInvalidConfig, c.Name)
	}
	if c.Display == "" {
		c.Display = c.Name
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.AckWait <= 0 {
		c.AckWait = jetstream.DefaultAckWait
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 10 * time.Second
	}
	if c.Host == "" {
		h, _ := os.Hostname()
		c.Host = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	return nil
}

// Runtime is one rung process: it pulls attempts from the rung's durable
// consumer, calls the backend, and publishes the result.
type Runtime struct {
	cfg   Config
	store *jetstream.Store
	log   zerolog.Logger

	mu       sync.Mutex
	backend  razar.Agent
	loadErr  error
	redactor *razar.Redactor
}

// New validates cfg and returns a runtime; Run starts it.
func New(store *jetstream.Store, cfg Config) (*Runtime, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: agent runtime: no store", razar.ErrInvalidConfig)
	}
	if err := cfg.valid(); err != nil {
		return nil, err
	}
	return &Runtime{cfg: cfg, store: store, log: cfg.Log.With().Str("agent", cfg.Name).Logger()}, nil
}

// Run works attempts until ctx ends, then waits for the attempts in hand to
// finish (their contexts are cancelled) and returns nil. It returns an error
// only when it cannot start.
func (r *Runtime) Run(ctx context.Context) error {
	nc := r.store.Conn()
	// Probes are answered from before the first status record, so a tool
	// that sees this process's agent.<name> can ask it at once.
	stopProbe, err := bus.Serve(nc, bus.ProbeSubject(r.cfg.Name), func(m *bus.Request) {
		if data, err := bus.Encode(r.probe(ctx, m.Data)); err == nil {
			_ = m.Respond(data)
		}
	})
	if err != nil {
		return fmt.Errorf("agent %s: %w", r.cfg.Name, err)
	}
	defer stopProbe()
	r.reload(ctx)
	stopReload, err := bus.Serve(nc, bus.AgentsReload, func(*bus.Request) {
		r.log.Debug().Msg("reload requested: dropping cached config and credentials")
		r.reload(ctx)
	})
	if err != nil {
		return fmt.Errorf("agent %s: %w", r.cfg.Name, err)
	}
	defer stopReload()
	if r.cfg.Handshake != nil {
		stop, err := bus.Serve(nc, bus.HandshakeSubject(r.cfg.Name), func(m *bus.Request) { r.handshake(ctx, m) })
		if err != nil {
			return fmt.Errorf("agent %s: %w", r.cfg.Name, err)
		}
		defer stop()
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.heartbeats(ctx)
	}()
	defer wg.Wait()

	err = r.store.Consume(ctx, jetstream.ConsumerConfig{
		Durable: bus.ConsumerName(r.cfg.Name),
		Filter:  bus.EscalateSubject(r.cfg.Name),
		AckWait: r.cfg.AckWait,
		Workers: r.cfg.Workers,
	}, r.handle)
	if err != nil {
		return fmt.Errorf("agent %s: %w", r.cfg.Name, err)
	}
	return nil
}

// handshake acknowledges one mission brief with what the rung's
// Handshake answers.
func (r *Runtime) handshake(ctx context.Context, m *bus.Request) {
	var brief bus.MissionBrief
	if err := bus.Decode(m.Data, &brief); err != nil {
		r.log.Warn().Err(err).Msg("dropped a malformed mission brief")
		return
	}
	ack := r.cfg.Handshake(ctx, &brief)
	ack.Agent = r.cfg.Name
	if data, err := bus.Encode(ack); err == nil {
		_ = m.Respond(data)
	}
	r.log.Info().Str("cycle", brief.Cycle).Int("components", len(brief.Components)).Msg("mission brief acknowledged")
}

// Ready reports nil when the rung can run, else why not.
func (r *Runtime) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadErr
}

func (r *Runtime) reload(ctx context.Context) {
	b, err := r.cfg.Load(ctx)
	var red *razar.Redactor
	if r.cfg.Redactor != nil {
		var rerr error
		if red, rerr = r.cfg.Redactor(); rerr != nil && err == nil {
			b, err = nil, rerr // a rung that cannot redact must not run
		}
	}
	r.mu.Lock()
	r.backend, r.loadErr, r.redactor = b, err, red
	r.mu.Unlock()
	if err != nil {
		r.log.Warn().Err(err).Msg("rung cannot run; it will be skipped")
	}
	r.publishStatus(ctx)
}

// probe answers one readiness probe. It runs on the probe subscription's
// delivery goroutine and touches nothing the attempts use: the backend it
// may build is dropped.
func (r *Runtime) probe(ctx context.Context, data []byte) *bus.ProbeReply {
	rep := &bus.ProbeReply{Rung: r.cfg.Name, Host: r.cfg.Host, PID: os.Getpid(), Ready: true}
	var req bus.ProbeRequest
	err := bus.Decode(data, &req)
	switch {
	case err != nil:
		err = fmt.Errorf("bad probe request: %w", err)
	case r.cfg.Probe != nil:
		rep.Candidate = len(req.Roster) > 0
		err = r.cfg.Probe(ctx, req.Roster)
	case len(req.Roster) > 0:
		err = errors.New("this rung process cannot check a candidate roster (it was started without a prober)")
	default:
		err = r.Ready()
	}
	if err != nil {
		r.mu.Lock()
		red := r.redactor
		r.mu.Unlock()
		rep.Ready, rep.Reason = false, err.Error()
		rep.Scrub(red.Redact)
	}
	r.log.Debug().Bool("candidate", rep.Candidate).Bool("ready", rep.Ready).Str("reason", rep.Reason).Msg("readiness probe answered")
	return rep
}

func (r *Runtime) publishStatus(ctx context.Context) {
	st := &bus.AgentStatus{Name: r.cfg.Name, Display: r.cfg.Display, Ready: true, Host: r.cfg.Host, Updated: time.Now().UTC()}
	if err := r.Ready(); err != nil {
		st.Ready, st.Reason = false, err.Error()
	}
	// The orchestrator records it in RAZAR_STATE from this heartbeat: a
	// rung's identity may publish its heartbeat, not write the bucket.
	hb := &bus.Heartbeat{Name: r.cfg.Name, Kind_: "agent", Status: "ready", Detail: st.Reason, Host: r.cfg.Host, Time: st.Updated}
	if !st.Ready {
		hb.Status = "unavailable"
	}
	bus.Beat(r.store.Conn(), hb)
}

func (r *Runtime) heartbeats(ctx context.Context) {
	t := time.NewTicker(r.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.publishStatus(ctx)
		}
	}
}

func (r *Runtime) handle(ctx context.Context, d *jetstream.Delivery) {
	esc, log, ok := r.admit(ctx, d)
	if !ok {
		return
	}

	r.mu.Lock()
	backend, loadErr, red := r.backend, r.loadErr, r.redactor
	r.mu.Unlock()

	res := &bus.Result{Incident: esc.Incident, Attempt: esc.Attempt, Rung: r.cfg.Name, Host: r.cfg.Host}
	if loadErr != nil {
		res.Status, res.Error = razar.StatusError, fmt.Sprintf("rung cannot run: %v", loadErr)
	} else {
		fix, settled, err := r.attempt(ctx, d, esc, log, backend, red)
		if settled {
			return
		}
		fillResult(res, fix, err, log)
	}
	r.answer(ctx, d, esc, res, red, log)
}

// admit decodes an escalation and decides whether this rung works on it:
// not when it is malformed, addressed to another rung, already expired or
// (redelivered) already answered. Each refusal settles the delivery.
func (r *Runtime) admit(ctx context.Context, d *jetstream.Delivery) (*bus.Escalation, zerolog.Logger, bool) {
	var esc bus.Escalation
	if err := bus.Decode(d.Data, &esc); err != nil {
		r.log.Warn().Err(err).Str("subject", d.Subject).Uint64("seq", d.Seq).Msg("dropped a malformed escalation")
		_ = d.Term()
		return nil, zerolog.Logger{}, false
	}
	log := r.log.With().Str("incident", esc.Incident).Int("attempt", esc.Attempt).Str("component", esc.Component).Logger()
	if esc.Rung != r.cfg.Name {
		log.Warn().Str("rung", esc.Rung).Msg("dropped an escalation addressed to another rung")
		_ = d.Term()
		return nil, log, false
	}
	esc.Deadline = attemptDeadline(esc.Deadline, d.Time, time.Now())
	if !time.Now().Before(esc.Deadline) {
		log.Info().Time("deadline", esc.Deadline).Msg("attempt expired before this rung could take it; not answering")
		_ = d.Ack()
		return nil, log, false
	}
	if d.Delivered > 1 {
		if r.answered(ctx, &esc) {
			log.Info().Uint64("delivered", d.Delivered).Msg("redelivered attempt already answered; acknowledging")
			_ = d.Ack()
			return nil, log, false
		}
	}
	return &esc, log, true
}

// attempt runs the backend on the escalation until its deadline. settled
// reports that the delivery was already settled (shutting down, or past
// the deadline) and there is nothing to answer.
func (r *Runtime) attempt(ctx context.Context, d *jetstream.Delivery, esc *bus.Escalation, log zerolog.Logger, backend razar.Agent, red *razar.Redactor) (fix razar.Fix, settled bool, err error) {
	actx, cancel := context.WithDeadline(ctx, esc.Deadline)
	done := r.keepInProgress(d)
	log.Info().Int("pass", esc.Pass).Msg("attempt started")
	task := red.Task(esc.Task())
	// The rung's context tools for this attempt, on
	// razar.context.<incident>.<rung>, for every backend.
	task.Tools = bus.Tools(r.store.Conn(), esc.Incident, r.cfg.Name)
	fix, err = safeRepair(actx, backend, task)
	expired := actx.Err() != nil
	close(done)
	cancel()
	if ctx.Err() != nil {
		// Shutting down: let another process of this rung take it.
		_ = d.Nak(0)
		return fix, true, err
	}
	if expired {
		// Past the deadline the orchestrator has already counted a timeout;
		// an answer now would only be ignored.
		log.Warn().Time("deadline", esc.Deadline).Msg("attempt ran past its deadline; not answering")
		_ = d.Ack()
		return fix, true, err
	}
	return fix, false, err
}

// keepInProgress keeps the attempt ours while a slow backend works, until
// the returned channel is closed.
func (r *Runtime) keepInProgress(d *jetstream.Delivery) chan struct{} {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(r.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = d.InProgress()
			}
		}
	}()
	return done
}

// fillResult turns what the backend answered into the result: its usage,
// and its status, summary and patches, or why they cannot be sent.
func fillResult(res *bus.Result, fix razar.Fix, err error, log zerolog.Logger) {
	if fix.Usage != (razar.Usage{}) {
		// What the model spent counts whether or not it answered well.
		u := fix.Usage
		res.Usage = &u
	}
	switch {
	case err != nil:
		res.Status, res.Error = razar.StatusError, err.Error()
	case !fix.Status.Valid():
		res.Status, res.Error = razar.StatusError, fmt.Sprintf("backend answered status %q, want fixed, no_fix or error", fix.Status)
	case len(fix.Diff) > bus.MaxDiffBytes:
		res.Status, res.Summary = razar.StatusError, fix.Summary
		res.Error = fmt.Sprintf("patch of %d bytes is over the %d-byte limit; propose a smaller one", len(fix.Diff), bus.MaxDiffBytes)
	default:
		res.Status, res.Summary, res.Diff = fix.Status, fix.Summary, fix.Diff
		addCandidates(res, fix.Candidates, log)
	}
}

// addCandidates adds the candidate patches that fit: candidates share the
// message with the diff, so they stay under the server's max payload,
// dropping (never cutting) what does not fit.
func addCandidates(res *bus.Result, cands []razar.Candidate, log zerolog.Logger) {
	total := len(res.Diff)
	for _, c := range cands {
		if len(c.Diff) > bus.MaxDiffBytes || total+len(c.Diff) > maxCandidateBytes {
			log.Warn().Int("bytes", len(c.Diff)).Msg("dropped a candidate patch that does not fit in one result")
			continue
		}
		total += len(c.Diff)
		res.Candidates = append(res.Candidates, razar.Candidate{Summary: c.Summary, Diff: c.Diff})
	}
}

// answer scrubs and publishes the result, then settles the delivery.
func (r *Runtime) answer(ctx context.Context, d *jetstream.Delivery, esc *bus.Escalation, res *bus.Result, red *razar.Redactor, log zerolog.Logger) {
	res.Scrub(red.Redact)
	// Until the attempt's deadline (at least 10 s): on a cluster the
	// stream may be electing a leader for longer than 10 s, and an answer
	// not stored means the attempt runs again.
	pctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), latest(esc.Deadline, time.Now().Add(10*time.Second)))
	defer cancel()
	if err := r.store.Publish(pctx, bus.ResultSubject(esc.Incident, r.cfg.Name), bus.ResultMsgID(esc.Incident, esc.Attempt), res); err != nil {
		log.Error().Err(err).Msg("could not publish the result; the attempt will be redelivered")
		_ = d.Nak(time.Second)
		return
	}
	_ = d.Ack()
	log.Info().Str("status", string(res.Status)).Str("summary", cut.FirstLine(res.Summary)).Str("error", res.Error).Msg("attempt answered")
}

// attemptDeadline is when the rung stops working on an attempt whose
// escalation says deadline and was stored at published (the stream's
// time; zero when unknown), at now: the deadline, but never further than
// the attempt's whole time (deadline less published) from now. After the
// wall clock stepped back, a redelivered escalation's deadline lies as far
// in the future as the step; the orchestrator gives up on the attempt
// after its own time, and the rung must not hold a worker past it.
func attemptDeadline(deadline, published, now time.Time) time.Time {
	if published.IsZero() {
		return deadline
	}
	whole := deadline.Sub(published)
	if whole > 0 && deadline.Sub(now) > whole {
		return now.Add(whole)
	}
	return deadline
}

// answered reports whether a result for this attempt (or a later one) is
// already on the stream: a redelivery after a crash between publish and ack.
func (r *Runtime) answered(ctx context.Context, esc *bus.Escalation) bool {
	data, err := r.store.LastResult(ctx, esc.Incident, r.cfg.Name)
	if err != nil || data == nil {
		return false
	}
	var last struct {
		Attempt int `json:"attempt"`
	}
	return json.Unmarshal(data, &last) == nil && last.Attempt >= esc.Attempt
}

// maxCandidateBytes bounds the diffs of one result, all candidates together.
const maxCandidateBytes = 640 << 10

// safeRepair calls the backend and turns a panic into an error: a broken
// backend fails its attempt, never the process.
func safeRepair(ctx context.Context, a razar.Agent, t razar.Task) (fix razar.Fix, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("backend panicked: %v", p)
		}
	}()
	if a == nil {
		return razar.Fix{}, errors.New("no backend")
	}
	return a.Repair(ctx, t)
}

// latest is the later of a and b.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
