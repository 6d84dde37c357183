package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Connect dials url as client name, retrying until ctx ends, and logs
// disconnects and reconnects through log. The connection reconnects forever.
func Connect(ctx context.Context, url, name string, log zerolog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn().Err(err).Msg("bus disconnected")
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info().Str("url", c.ConnectedUrlRedacted()).Msg("bus reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn().Err(err).Str("subject", subj).Msg("bus error")
		}),
	}
	var lastErr error
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			return nc, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to NATS at %s: %w (is RAZAR running? start it with `razar boot` or pass --nats URL)", url, lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Drain drains nc, waiting at most timeout for it to close.
func Drain(nc *nats.Conn, timeout time.Duration) {
	if nc == nil || nc.IsClosed() {
		return
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	select {
	case <-closed:
	case <-time.After(timeout):
		nc.Close()
	}
}

// ErrNotRunning is returned by Command when no orchestrator answers.
var ErrNotRunning = errors.New("no RAZAR orchestrator answers on the lifecycle bus")

// DefaultCommandTimeout bounds a lifecycle request when ctx has no deadline.
const DefaultCommandTimeout = 10 * time.Second

// Command sends a lifecycle request and decodes the reply. A reply with
// ok=false is returned together with an error holding its message.
func Command(ctx context.Context, nc *nats.Conn, verb Verb, component string, req *LifecycleRequest) (*LifecycleReply, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCommandTimeout)
		defer cancel()
	}
	if req == nil {
		req = &LifecycleRequest{}
	}
	body, err := Encode(req)
	if err != nil {
		return nil, err
	}
	subj := LifecycleSubject(verb, component)
	msg, err := nc.RequestWithContext(ctx, subj, body)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("%s: %w (start it with `razar boot`)", subj, ErrNotRunning)
		}
		return nil, fmt.Errorf("%s: %w", subj, err)
	}
	var rep LifecycleReply
	if err := Decode(msg.Data, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", subj, err)
	}
	if !rep.OK {
		if component == AllComponents {
			return &rep, fmt.Errorf("%s: %s", verb, rep.Error)
		}
		return &rep, fmt.Errorf("%s %s: %s", verb, component, rep.Error)
	}
	return &rep, nil
}

// Request is one core request received by Serve.
type Request struct {
	Subject string
	Data    []byte
	msg     *nats.Msg
}

// Respond answers the request; a request sent without a reply subject
// (a plain publish) is not answered.
func (r *Request) Respond(data []byte) error {
	if r.msg.Reply == "" {
		return nil
	}
	return r.msg.Respond(data)
}

// Serve calls fn for every message on subject until the returned stop is
// called. fn runs on the connection's delivery goroutine: hand long work off.
func Serve(nc *nats.Conn, subject string, fn func(*Request)) (stop func(), err error) {
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		fn(&Request{Subject: m.Subject, Data: m.Data, msg: m})
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", subject, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Beat publishes a heartbeat on razar.heartbeat.<name>, best effort: a
// missed beat is noticed by whoever watches, not by the sender.
func Beat(nc *nats.Conn, hb *Heartbeat) {
	if data, err := Encode(hb); err == nil {
		_ = nc.Publish(HeartbeatSubject(hb.Name), data)
	}
}
