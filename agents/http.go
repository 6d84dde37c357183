package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// HTTPConfig configures the http backend.
type HTTPConfig struct {
	// Name is the agent's roster name. Required.
	Name string
	// Endpoint is the URL the escalation is POSTed to. Required, http or https.
	Endpoint string
	// Token is sent as "Authorization: Bearer <Token>"; empty sends none.
	// It never appears in an error.
	Token string
	// MaxReplyBytes bounds a response body. Default DefaultMaxReplyBytes.
	MaxReplyBytes int64
	// HTTPClient makes the requests; default one on http.DefaultTransport.
	// It is copied, never changed.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of a 429, a 5xx or a connection error
	// within one attempt. 0 means DefaultMaxRetries; negative means none.
	MaxRetries int
}

// HTTPAgent is the http backend: it POSTs the escalation JSON (bus.Escalation)
// to an operator's service once per attempt and reads the result JSON from
// the response. It holds no state between attempts and is safe for
// concurrent use.
type HTTPAgent struct {
	r        *remote
	endpoint string
	token    string
}

var _ razar.Agent = (*HTTPAgent)(nil)

// NewHTTP returns the http backend described by cfg. A missing name or
// endpoint, an endpoint that is not an http(s) URL, or a negative
// MaxReplyBytes fails with an error wrapping razar.ErrInvalidConfig; no
// error holds the token.
func NewHTTP(cfg HTTPConfig) (*HTTPAgent, error) {
	r, u, err := newRemote("http agent", cfg.Name, cfg.Endpoint, cfg.Token, cfg.MaxReplyBytes, cfg.HTTPClient, cfg.MaxRetries)
	if err != nil {
		return nil, err
	}
	return &HTTPAgent{r: r, endpoint: u.String(), token: cfg.Token}, nil
}

// Repair POSTs the escalation (bus.Escalation, encoded with bus.Encode; its
// deadline is ctx's) with Content-Type application/json and, when a token is
// set, Authorization: Bearer <token>. A 2xx answer's body must be one JSON
// object {"status": "fixed"|"no_fix"|"error", "summary": ..., "diff": ...,
// "candidates": [{"summary": ..., "diff": ...}]}; other fields are ignored,
// so a whole bus.Result is fine (its "error" becomes the summary when that
// is empty).
//
// With no deadline on ctx, t.Deadline applies, else config.DefaultAgentTimeout.
// A 429, a 5xx or a connection error is retried (200 ms, doubling, or the
// server's Retry-After) while a retry can start before the deadline.
//
// Every error names the agent and never holds the token. Repair fails when
// the deadline passes ("timed out after ...", matching
// context.DeadlineExceeded) or ctx is cancelled (matching context.Canceled);
// on a non-2xx status it gave up on (a *StatusError: "HTTP 401 Unauthorized
// from <host>"); on a connection error it gave up on; when the body exceeds
// MaxReplyBytes ("reply over N bytes"); and when the body is not a valid
// reply (what was wrong, quoting at most 80 characters).
func (h *HTTPAgent) Repair(ctx context.Context, t razar.Task) (razar.Fix, error) {
	ctx, cancel, limit := attemptContext(ctx, t)
	defer cancel()
	dl, _ := ctx.Deadline()
	esc := bus.EscalationOf(t, dl)
	payload, err := bus.Encode(esc)
	if err != nil {
		return razar.Fix{}, h.r.fail(err)
	}
	var fix razar.Fix
	err = h.r.retry(ctx, limit, func(ctx context.Context) error {
		var err error
		fix, err = h.once(ctx, payload)
		return err
	})
	if err != nil {
		return razar.Fix{}, h.r.fail(err)
	}
	return fix, nil
}

// once is one POST and the parse of its answer.
func (h *HTTPAgent) once(ctx context.Context, payload []byte) (razar.Fix, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint, bytes.NewReader(payload))
	if err != nil {
		return razar.Fix{}, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	res, err := h.r.client.Do(req)
	if err != nil {
		return razar.Fix{}, h.r.transportErr(ctx, err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return razar.Fix{}, h.r.statusErr(res)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return razar.Fix{}, h.r.readErr(ctx, err)
	}
	return parseHTTPReply(body)
}

// parseHTTPReply decodes a 2xx body. The error says what was wrong with it;
// it never panics.
func parseHTTPReply(body []byte) (razar.Fix, error) {
	text := bytes.TrimSpace(body)
	if len(text) == 0 {
		return razar.Fix{}, errors.New(`empty reply (want {"status": "fixed"|"no_fix"|"error", ...})`)
	}
	var r remoteReply
	if err := json.Unmarshal(text, &r); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case !json.Valid(text):
			return razar.Fix{}, fmt.Errorf("reply is not JSON: %s", quoteCut(string(text)))
		case errors.As(err, &te) && te.Field != "":
			return razar.Fix{}, fmt.Errorf("reply field %q is a JSON %s of the wrong kind", te.Field, te.Value)
		}
		return razar.Fix{}, fmt.Errorf("reply is not a JSON object: %s", quoteCut(string(text)))
	}
	if err := statusProblem(r.Status); err != nil {
		return razar.Fix{}, err
	}
	return r.fix(0), nil
}
