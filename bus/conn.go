package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
)

// ConnOption sets up a connection Connect makes.
type ConnOption func(*connOptions)

type connOptions struct {
	creds, inbox string
}

// WithCreds connects as the identity in a NATS creds file (a user JWT and
// its nkey seed), such as state/identities/operator.creds.
func WithCreds(path string) ConnOption { return func(o *connOptions) { o.creds = path } }

// WithInboxPrefix makes the connection's reply subjects start with prefix,
// so its permissions can allow its own replies and nobody else's.
func WithInboxPrefix(prefix string) ConnOption { return func(o *connOptions) { o.inbox = prefix } }

// Conn is a connection to the bus, as one identity. It is the only handle
// on NATS the rest of RAZAR has: the nats.go connection stays inside bus
// and jetstream (deps_test keeps nats.go out of every other package).
type Conn struct {
	nc *nats.Conn

	mu     sync.Mutex
	denied map[*deniedWatch]struct{} // requests waiting, told of permission violations
}

// deniedWatch is a request told when the server refuses its publish: the
// server says so only asynchronously, and the request would otherwise
// wait out its whole timeout for a reply that cannot come.
type deniedWatch struct {
	subject string
	cancel  context.CancelCauseFunc
}

// watchDenied cancels ctx with the server's refusal when publishing to
// subject is denied; stop ends the watch.
func (c *Conn) watchDenied(ctx context.Context, subject string) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &deniedWatch{subject: subject, cancel: cancel}
	c.mu.Lock()
	if c.denied == nil {
		c.denied = map[*deniedWatch]struct{}{}
	}
	c.denied[w] = struct{}{}
	c.mu.Unlock()
	return ctx, func() {
		c.mu.Lock()
		delete(c.denied, w)
		c.mu.Unlock()
		cancel(nil)
	}
}

// onError tells the watching requests of a permission violation on their subject.
func (c *Conn) onError(err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return
	}
	// The server's words: Permissions Violation for Publish to "<subject>".
	text := strings.ToLower(err.Error())
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.denied {
		if strings.Contains(text, strings.ToLower(fmt.Sprintf("publish to %q", w.subject))) {
			w.cancel(fmt.Errorf("%w: the server refused this identity's publish to %s", ErrForbidden, w.subject))
		}
	}
}

// Wrap makes a Conn of a nats.go connection, for package jetstream and
// for tests that dial with nats.go themselves.
func Wrap(nc *nats.Conn) *Conn { return &Conn{nc: nc} }

// NATS is the nats.go connection, for package jetstream alone
// (TestNoRawConnOutsideTheBus keeps every other caller out).
func (c *Conn) NATS() *nats.Conn { return c.nc }

// Publish sends data on subject, core NATS, without waiting.
func (c *Conn) Publish(subject string, data []byte) error { return c.nc.Publish(subject, data) }

// Flush waits until the server has processed everything sent so far.
func (c *Conn) Flush() error { return c.nc.Flush() }

// Close closes the connection at once, dropping what is in flight.
func (c *Conn) Close() { c.nc.Close() }

// ConnectedURL is the server the connection is on, credentials redacted.
func (c *Conn) ConnectedURL() string { return RedactURL(c.nc.ConnectedUrl()) }

// Connect dials url as client name, retrying until ctx ends, and logs
// disconnects and reconnects through log. The connection reconnects forever.
// An authorization failure is not retried: the error names the creds file.
func Connect(ctx context.Context, url, name string, log zerolog.Logger, options ...ConnOption) (*Conn, error) {
	var co connOptions
	for _, o := range options {
		o(&co)
	}
	conn := &Conn{}
	opts := append([]nats.Option{nats.Name(name)}, eventHandlers(conn, log)...)
	if co.creds != "" {
		if _, err := os.Stat(co.creds); err != nil {
			return nil, fmt.Errorf("connect to NATS: identity %w (fix: --creds FILE, or run from the RAZAR home whose first boot minted state/identities/)", err)
		}
		opts = append(opts, nats.UserCredentials(co.creds))
	}
	if co.inbox != "" {
		opts = append(opts, nats.CustomInboxPrefix(co.inbox))
	}
	nc, err := dialUntilUp(ctx, url, co.creds, opts)
	if err != nil {
		return nil, err
	}
	conn.nc = nc
	return conn, nil
}

// eventHandlers reconnects for ever and logs the connection's losses,
// returns (with how long the bus was gone) and asynchronous errors, which
// also go to conn.onError.
func eventHandlers(conn *Conn, log zerolog.Logger) []nats.Option {
	// down is when the connection was lost (Unix nanoseconds), 0 while up:
	// the reconnect line says how long the bus was gone.
	var down atomic.Int64
	return []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			down.CompareAndSwap(0, time.Now().UnixNano())
			if err != nil {
				log.Warn().Err(err).Msg("bus disconnected")
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			ev := log.Info().Str("url", RedactURL(c.ConnectedUrl()))
			if since := down.Swap(0); since != 0 {
				ev = ev.Dur("outage", time.Since(time.Unix(0, since)))
			}
			ev.Msg("bus reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn().Err(err).Str("subject", subj).Msg("bus error")
			conn.onError(err)
		}),
	}
}

// dialUntilUp connects, retrying until ctx ends; a URL that does not parse
// and an identity the bus refuses end it at once. Errors show the URL
// without its credentials.
func dialUntilUp(ctx context.Context, url, creds string, opts []nats.Option) (*nats.Conn, error) {
	shown := RedactURL(url)
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			return nc, nil
		}
		var ue *neturl.Error
		if errors.As(err, &ue) {
			// A URL that does not parse never will; its error quotes
			// the URL, credentials and all, so it is not passed on.
			return nil, fmt.Errorf("connect to NATS: %s is not a valid URL (fix: --nats or RAZAR_NATS_URL as nats://HOST:PORT, comma-separated for a cluster)", shown)
		}
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
			who := "without an identity"
			if creds != "" {
				who = "as " + creds
			}
			return nil, fmt.Errorf("connect to NATS at %s %s: %w (fix: use an identity of this bus: --creds state/identities/<role>.creds, or `razar identity add`)", shown, who, err)
		}
		select {
		case <-ctx.Done():
			return nil, &connectError{url: url, shown: shown, err: err}
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// connectError is a failed Connect. Its text names the URL with its
// credentials redacted, and scrubs the URL from the underlying error too.
type connectError struct {
	url, shown string
	err        error
}

func (e *connectError) Error() string {
	msg := e.err.Error()
	if e.shown != e.url {
		for p := range strings.SplitSeq(e.url, ",") {
			if p = strings.TrimSpace(p); p != "" {
				msg = strings.ReplaceAll(msg, p, RedactURL(p))
			}
		}
	}
	return fmt.Sprintf("connect to NATS at %s: %s (is RAZAR running? start it with `razar boot` or pass --nats URL)", e.shown, msg)
}

func (e *connectError) Unwrap() error { return e.err }

// Drain drains nc, waiting at most timeout for it to close.
func Drain(c *Conn, timeout time.Duration) {
	if c == nil || c.nc == nil || c.nc.IsClosed() {
		return
	}
	nc := c.nc
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
func Command(ctx context.Context, c *Conn, verb Verb, component string, req *LifecycleRequest) (*LifecycleReply, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCommandTimeout)
		defer cancel()
	}
	if req == nil {
		req = &LifecycleRequest{}
	}
	// A request travels on core NATS, where every reader of the bus sees
	// it: its texts leave without the shapes of secrets (a seed pasted
	// into `razar escalate --error`).
	scrubbed := *req
	if scrubbed.Record != nil {
		rec := *scrubbed.Record // the caller's record stays as it was
		scrubbed.Record = &rec
	}
	scrubbed.Scrub(razar.ScrubShapes)
	body, err := Encode(&scrubbed)
	if err != nil {
		return nil, err
	}
	subj := LifecycleSubject(verb, component)
	ctx, stop := c.watchDenied(ctx, subj)
	defer stop()
	msg, err := c.nc.RequestWithContext(ctx, subj, body)
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrForbidden) {
		return nil, fmt.Errorf("%s: %w (fix: an operator identity: --creds state/identities/operator.creds)", subj, cause)
	}
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
	// Requester is the Nats-Request-Info header: the identity the server
	// authenticated, set by the server on requests that cross accounts
	// (the lifecycle service). Empty otherwise.
	Requester RequestInfo
	msg       *nats.Msg
}

// RequestInfo is the part of the server's Nats-Request-Info header RAZAR reads.
type RequestInfo struct {
	Account string `json:"acc,omitempty"`
	User    string `json:"user,omitempty"` // the user's public nkey
	JWT     string `json:"jwt,omitempty"`  // the user's JWT, signed by its account
}

// requestInfoHeader is set by nats-server on service imports, replacing
// whatever a client put there.
const requestInfoHeader = "Nats-Request-Info"

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
func Serve(c *Conn, subject string, fn func(*Request)) (stop func(), err error) {
	sub, err := c.nc.Subscribe(subject, func(m *nats.Msg) {
		r := &Request{Subject: m.Subject, Data: m.Data, msg: m}
		if h := m.Header.Get(requestInfoHeader); h != "" {
			_ = json.Unmarshal([]byte(h), &r.Requester)
		}
		fn(r)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", subject, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Beat publishes a heartbeat on razar.heartbeat.<name>, best effort: a
// missed beat is noticed by whoever watches, not by the sender.
func Beat(c *Conn, hb *Heartbeat) {
	if data, err := Encode(hb); err == nil {
		_ = c.nc.Publish(HeartbeatSubject(hb.Name), data)
	}
}
