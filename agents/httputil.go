package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/backoff"
)

// Defaults of the remote backends (OpenAI and HTTP).
const (
	// DefaultMaxReplyBytes bounds a remote agent's reply body when its config
	// sets no bound.
	DefaultMaxReplyBytes = 1 << 20
	// DefaultMaxRetries is how many times a remote backend retries a 429, a
	// 5xx or a connection error within one attempt when its config says nothing.
	DefaultMaxRetries = 4

	// remoteErrorBody is how much of a non-2xx body is read for its message.
	remoteErrorBody = 4 << 10
)

// remoteBackoff paces a remote backend's retries: 200 ms before the first,
// each later wait twice as long, up to 10 s. A Retry-After header replaces it.
var remoteBackoff = backoff.Backoff{Base: 200 * time.Millisecond, Max: 10 * time.Second}

// StatusError is a remote agent's answer with an HTTP status other than 2xx.
// It names the endpoint's host, never the URL's credentials or the token.
type StatusError struct {
	Code   int    // the HTTP status code
	Host   string // the endpoint's host[:port]
	Detail string // the server's message, quoted, cut and redacted; may be empty

	retryAfter    time.Duration // from Retry-After or Retry-After-Ms
	hasRetryAfter bool
}

func (e *StatusError) Error() string {
	s := "HTTP " + strconv.Itoa(e.Code)
	if text := http.StatusText(e.Code); text != "" {
		s += " " + text
	}
	s += " from " + e.Host
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Temporary reports whether the status is worth retrying: 429 and 5xx.
func (e *StatusError) Temporary() bool {
	return e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// replyTooLargeError is a reply body longer than the backend's bound.
type replyTooLargeError struct{ max int64 }

func (e *replyTooLargeError) Error() string { return fmt.Sprintf("reply over %d bytes", e.max) }

// connError is a request that got no HTTP answer (refused, reset, DNS, ...).
// It is retried.
type connError struct {
	host string
	err  error
}

func (e *connError) Error() string { return "request to " + e.host + ": " + e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

// remote is what the OpenAI and HTTP backends share: the size-bounded
// client, the retry policy and the token's redactor. It is immutable after
// construction and safe for concurrent use.
type remote struct {
	kind       string // "openai agent", "http agent": the prefix of every error
	name       string
	host       string // the endpoint's host[:port], for errors
	client     *http.Client
	maxReply   int64
	maxRetries int
	red        *razar.Redactor // the token
}

// newRemote validates the settings both backends share. Errors wrap
// razar.ErrInvalidConfig and never hold the token.
func newRemote(kind, name, endpoint, token string, maxReply int64, client *http.Client, maxRetries int) (*remote, *url.URL, error) {
	red, err := razar.NewRedactor([]string{token}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s %s: %v", razar.ErrInvalidConfig, kind, name, err)
	}
	bad := func(format string, args ...any) error {
		msg := red.Redact(fmt.Sprintf(format, args...))
		return fmt.Errorf("%w: %s %s: %s", razar.ErrInvalidConfig, kind, name, msg)
	}
	if name == "" {
		return nil, nil, fmt.Errorf("%w: %s: no name", razar.ErrInvalidConfig, kind)
	}
	if err := razar.ValidName(name); err != nil {
		return nil, nil, bad("name: %v", err)
	}
	if endpoint == "" {
		return nil, nil, bad("no endpoint (fix: set \"endpoint\" in the roster, e.g. http://127.0.0.1:8000/v1)")
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := quoteCut(endpoint)
		if err == nil {
			shown = quoteCut(u.Redacted())
		}
		return nil, nil, bad("endpoint %s is not an http(s) URL (fix: use e.g. http://127.0.0.1:8000/v1)", shown)
	}
	if maxReply < 0 {
		return nil, nil, bad("max reply bytes %d is negative", maxReply)
	}
	if maxReply == 0 {
		maxReply = DefaultMaxReplyBytes
	}
	switch {
	case maxRetries == 0:
		maxRetries = DefaultMaxRetries
	case maxRetries < 0:
		maxRetries = 0
	}
	return &remote{
		kind:       kind,
		name:       name,
		host:       u.Host,
		client:     boundedClient(client, maxReply),
		maxReply:   maxReply,
		maxRetries: maxRetries,
		red:        red,
	}, u, nil
}

// boundedClient returns a copy of c (http.DefaultTransport when nil) whose
// responses fail to read past max bytes and whose redirects carry the
// credentials only to the endpoint's own origin. c itself is not changed.
func boundedClient(c *http.Client, max int64) *http.Client {
	var bc http.Client
	if c != nil {
		bc = *c
	}
	next := bc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	bc.Transport = &boundedTransport{next: next, max: max}
	bc.CheckRedirect = sameOriginCredentials(bc.CheckRedirect)
	return &bc
}

// credentialHeaders are the request headers that carry a rung's key.
var credentialHeaders = []string{"Authorization", "Api-Key", "X-Api-Key", "Cookie"}

// sameOriginCredentials returns a CheckRedirect that drops the credential
// headers from a redirect whose scheme, host or port differ from the first
// request's, then defers to next (Go's default policy when nil). Go itself
// drops Authorization only for another host: it would send the key to
// another port of the same host, or from https to plain http.
func sameOriginCredentials(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && origin(req.URL) != origin(via[0].URL) {
			for _, h := range credentialHeaders {
				req.Header.Del(h)
			}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// origin is a URL's scheme, host and port, the port made explicit.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// boundedTransport bounds every response body it returns.
type boundedTransport struct {
	next http.RoundTripper
	max  int64
}

// RoundTrip implements http.RoundTripper.
func (t *boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err != nil || res.Body == nil {
		return res, err
	}
	b := &boundedBody{rc: res.Body, left: t.max, max: t.max}
	if res.ContentLength > t.max {
		b.left = -1 // declared too long: fail at once, read nothing
	}
	res.Body = b
	return res, nil
}

// boundedBody fails with *replyTooLargeError once more than max bytes
// arrive; what it returned before that is all within the bound.
type boundedBody struct {
	rc   io.ReadCloser
	left int64 // bytes still allowed; -1 once over
	max  int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, &replyTooLargeError{b.max}
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte more than allowed shows the overflow
	}
	n, err := b.rc.Read(p)
	if int64(n) <= b.left {
		b.left -= int64(n)
		return n, err
	}
	n, b.left = int(b.left), -1
	return n, &replyTooLargeError{b.max}
}

func (b *boundedBody) Close() error { return b.rc.Close() }

// attemptContext gives ctx the attempt's deadline when it has none: the
// task's, else config.DefaultAgentTimeout from now. limit is the time left,
// for "timed out after ..." errors.
func attemptContext(ctx context.Context, t razar.Task) (_ context.Context, cancel context.CancelFunc, limit time.Duration) {
	cancel = func() {}
	if _, ok := ctx.Deadline(); !ok {
		deadline := t.Deadline
		if deadline.IsZero() {
			deadline = time.Now().Add(config.DefaultAgentTimeout)
		}
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	dl, _ := ctx.Deadline()
	return ctx, cancel, max(time.Until(dl), 0).Round(time.Millisecond)
}

// retry calls try until it succeeds, fails for good, or retrying could only
// end past ctx's deadline. A *StatusError that is Temporary and a *connError
// are retried, waiting 200 ms, then twice as long each time, or what the
// server's Retry-After asks; everything else is final. At most r.maxRetries
// retries follow the first try.
//
// The error, without the "<kind> <name>: " prefix, is the last try's with
// why retrying stopped, or, when ctx ended first, a timeout (matching
// context.DeadlineExceeded, "timed out after <limit>") or ctx's error, with
// the last try's error for context.
func (r *remote) retry(ctx context.Context, limit time.Duration, try func(context.Context) error) error {
	var last error
	for tries := 1; ; tries++ {
		err := try(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return r.ctxErr(ctx, limit, last, tries-1)
		}
		last = err
		var se *StatusError
		isStatus := errors.As(err, &se)
		var ce *connError
		if !(isStatus && se.Temporary()) && !errors.As(err, &ce) {
			if tries > 1 {
				return fmt.Errorf("%w (try %d)", err, tries)
			}
			return err
		}
		if tries > r.maxRetries {
			return fmt.Errorf("%w (gave up after %s)", err, triesText(tries))
		}
		wait := remoteBackoff.For(tries)
		if isStatus && se.hasRetryAfter {
			wait = se.retryAfter
		}
		if dl, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(dl) {
			if isStatus && se.hasRetryAfter {
				return fmt.Errorf("%w (gave up after %s: the server asked to wait %s, past the deadline)", err, triesText(tries), wait)
			}
			return fmt.Errorf("%w (gave up after %s: the next would start past the deadline)", err, triesText(tries))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return r.ctxErr(ctx, limit, last, tries)
		case <-timer.C:
		}
	}
}

// ctxErr is the error of an attempt cut off by ctx after tries finished
// tries, the last of which failed with last (nil when none finished).
func (r *remote) ctxErr(ctx context.Context, limit time.Duration, last error, tries int) error {
	var err error = execTimeout(limit)
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = ctx.Err()
	}
	switch {
	case last == nil:
		return err
	case tries == 1:
		return fmt.Errorf("%w; the earlier try: %w", err, last)
	}
	return fmt.Errorf("%w; the last of %d earlier tries: %w", err, tries, last)
}

func triesText(n int) string {
	if n == 1 {
		return "1 try"
	}
	return strconv.Itoa(n) + " tries"
}

// fail prefixes err with the backend's kind and name and makes sure the
// token is nowhere in it. A message that held the token is flattened to its
// redacted text, keeping only whether it matched context.DeadlineExceeded or
// context.Canceled.
func (r *remote) fail(err error) error {
	err = fmt.Errorf("%s %s: %w", r.kind, r.name, err)
	msg := err.Error()
	if red := r.red.Redact(msg); red != msg {
		return &redactedError{msg: red, cause: ctxCause(err)}
	}
	return err
}

func ctxCause(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	}
	return nil
}

// redactedError is an error whose text held a secret.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// transportErr classifies an error of a request that got no response:
// ctx's own, a reply over the bound (final), a connection error (an
// *url.Error from http.Client.Do: retried), or anything else (final).
func (r *remote) transportErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var tl *replyTooLargeError
	if errors.As(err, &tl) {
		return tl
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &connError{host: r.host, err: ue.Err} // ue's text repeats the whole URL
	}
	return err
}

// readErr classifies an error reading a 2xx body.
func (r *remote) readErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var tl *replyTooLargeError
	if errors.As(err, &tl) {
		return tl
	}
	return &connError{host: r.host, err: fmt.Errorf("reading the reply: %w", err)}
}

// statusErr turns a non-2xx response into a *StatusError, with the server's
// message (an OpenAI-style {"error": {"message": ...}}, {"error": "..."},
// {"message": ...} or the body's first line) quoted and redacted. It reads
// at most remoteErrorBody bytes of the body and does not close it.
func (r *remote) statusErr(res *http.Response) *StatusError {
	e := &StatusError{Code: res.StatusCode, Host: r.host}
	e.retryAfter, e.hasRetryAfter = parseRetryAfter(res.Header, time.Now())
	if res.Body == nil {
		return e
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, remoteErrorBody))
	if msg := errorMessage(body); msg != "" {
		e.Detail = quoteCut(r.red.Redact(msg))
	}
	return e
}

// errorMessage is the message of an error body, "" when there is none.
func errorMessage(body []byte) string {
	var doc struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  any             `json:"detail"` // FastAPI
	}
	if json.Unmarshal(body, &doc) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var flat string
		switch {
		case json.Unmarshal(doc.Error, &nested) == nil && nested.Message != "":
			return nested.Message
		case json.Unmarshal(doc.Error, &flat) == nil && flat != "":
			return flat
		case doc.Message != "":
			return doc.Message
		case doc.Detail != nil:
			if s, ok := doc.Detail.(string); ok {
				return s
			}
			b, _ := json.Marshal(doc.Detail)
			return string(b)
		}
	}
	text := strings.TrimSpace(string(body))
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = strings.TrimSpace(text[:i])
	}
	return text
}

// parseRetryAfter reads Retry-After-Ms (milliseconds) or Retry-After
// (seconds or an HTTP date). A negative or past value means retry now.
func parseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || math.IsNaN(s) {
			return 0, false
		}
		if s > 1e9 { // beyond any deadline; avoids overflow
			return time.Duration(1e9) * time.Second, true
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// remoteReply is what a remote agent answers, after any wrapping is
// removed. Unknown fields are ignored, so a whole bus.Result is fine too.
type remoteReply struct {
	Status     razar.Status      `json:"status"`
	Summary    string            `json:"summary"`
	Diff       string            `json:"diff"`
	Candidates []razar.Candidate `json:"candidates"`
	Error      string            `json:"error"` // bus.Result's; the summary when that is empty
}

// fix converts the reply, keeping at most maxCandidates candidates (all
// when 0) and dropping those without a diff.
func (r remoteReply) fix(maxCandidates int) razar.Fix {
	f := razar.Fix{Status: r.Status, Summary: r.Summary, Diff: r.Diff}
	if f.Summary == "" {
		f.Summary = r.Error
	}
	for _, c := range r.Candidates {
		if strings.TrimSpace(c.Diff) == "" {
			continue
		}
		if maxCandidates > 0 && len(f.Candidates) == maxCandidates {
			break
		}
		f.Candidates = append(f.Candidates, c)
	}
	return f
}

// statusProblem says what is wrong with a reply's status, nil when it is valid.
func statusProblem(s razar.Status) error {
	switch {
	case s.Valid():
		return nil
	case s == "":
		return errors.New(`reply has no "status" (want fixed, no_fix or error)`)
	default:
		return fmt.Errorf("reply status %s is not fixed, no_fix or error", quoteCut(string(s)))
	}
}

// shortenedNote says how many earlier attempts of t are one line, and
// where the rest of each is; "" when none is.
func shortenedNote(t razar.Task) string {
	var b strings.Builder
	if len(t.History) > 0 && t.History[0].Number > 1 {
		fmt.Fprintf(&b, "attempts 1 to %d are not listed: the history outgrew its budget; the `attempt` tool returns any of them.\n", t.History[0].Number-1)
	}
	if t.Shortened > 0 {
		fmt.Fprintf(&b, "%d of the %d earlier attempts listed are shortened to one line (\"shortened\": true: no diff text, only its size and sha256); the `attempt` tool returns any of them in full.\n", t.Shortened, len(t.History))
	}
	return b.String()
}
