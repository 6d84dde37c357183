package orchestrator

import (
	"context"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
)

// DeclareRungs declares the durable consumer of every rung of the roster,
// so a rung process, which may only attach to its own consumer, finds it
// there. `razar boot` calls it before it starts any rung and after every
// reload; it is idempotent.
func (o *Orchestrator) DeclareRungs(ctx context.Context) error {
	roster, err := o.cfg.Roster()
	if err != nil {
		return err
	}
	o.mu.Lock()
	clear(o.declared) // a reload declares them all again: one may have been deleted
	o.mu.Unlock()
	return o.declare(ctx, roster)
}

// HandBackAttempts hands back for delivery now the attempts every rung's
// consumer delivered to a process that is gone without settling them
// (jetstream.Store.ReleaseUnsettled), so a restart resumes the attempt a
// killed RAZAR's rungs were working on at once, not after the consumer's
// AckWait. Call it only when every rung runs in this process (`--agents
// inproc`) and before any is started: a live `razar agent` process's
// attempt would be run twice. It returns how many it handed back.
func (o *Orchestrator) HandBackAttempts(ctx context.Context) (int, error) {
	roster, err := o.cfg.Roster()
	if err != nil {
		return 0, err
	}
	total := 0
	for _, a := range roster.Agents {
		n, err := o.store.ReleaseUnsettled(ctx, a.Name)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// declare declares the consumers of the roster's rungs this orchestrator
// has not declared yet.
func (o *Orchestrator) declare(ctx context.Context, roster *config.Roster) error {
	for _, a := range roster.Agents {
		o.mu.Lock()
		done := o.declared[a.Name]
		o.mu.Unlock()
		if done {
			continue
		}
		if err := o.store.EnsureAgentConsumer(ctx, a.Name); err != nil {
			return err
		}
		o.mu.Lock()
		o.declared[a.Name] = true
		o.mu.Unlock()
	}
	return nil
}

// WatchRungs records each rung's readiness in bucket RAZAR_STATE (key
// agent.<name>) from its heartbeats, until the returned stop is called. The
// orchestrator is the only writer of the bucket: a rung reports on its own
// heartbeat subject, which only its identity may publish on, and the
// subject, not the body, says which rung it is.
func (o *Orchestrator) WatchRungs(ctx context.Context) (stop func(), err error) {
	// One writer, off the delivery goroutine (a KV write waits for the
	// server), in the order the beats came.
	ctx, cancel := context.WithCancel(ctx)
	puts := make(chan *bus.AgentStatus, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case st := <-puts:
				pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
				if err := o.store.PutAgentStatus(pctx, st); err != nil && ctx.Err() == nil {
					o.log.Warn().Err(err).Str("agent", st.Name).Msg("could not record rung status")
				}
				pcancel()
			}
		}
	}()
	unsub, err := bus.Serve(o.store.Conn(), bus.HeartbeatSubject("*"), func(m *bus.Request) {
		var hb bus.Heartbeat
		if err := bus.Decode(m.Data, &hb); err != nil || hb.Kind_ != "agent" {
			return
		}
		_, toks, _ := bus.ParseSubject(m.Subject)
		if len(toks) != 1 || toks[0] != hb.Name {
			o.log.Warn().Str("subject", m.Subject).Str("name", hb.Name).Msg("ignored a rung heartbeat whose name is not its subject's")
			return
		}
		roster, err := o.cfg.Roster()
		if err != nil {
			return
		}
		e, err := roster.Agent(hb.Name)
		if err != nil {
			return
		}
		st := &bus.AgentStatus{Name: e.Name, Display: e.Display, Ready: hb.Status == "ready", Host: hb.Host, Updated: hb.Time}
		if !st.Ready {
			st.Reason = hb.Detail
			st.Scrub(o.redact)
		}
		if st.Updated.IsZero() || time.Since(st.Updated).Abs() > time.Minute {
			st.Updated = time.Now().UTC()
		}
		select {
		case puts <- st:
		default:
			o.log.Warn().Str("agent", st.Name).Msg("rung status writes are behind; dropped one heartbeat's status")
		}
	})
	if err != nil {
		cancel()
		<-done
		return nil, err
	}
	return func() { unsub(); cancel(); <-done }, nil
}
