package agents

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// seenRequest is what the fake http agent saw.
type seenRequest struct {
	Method, Auth, ContentType string
	Body                      []byte
}

// agentServer is a fake http agent: it records every request and answers
// with reply(w, r, n), n counting requests from 1.
type agentServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seenRequest
}

func newAgentServer(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, n int)) *agentServer {
	t.Helper()
	as := &agentServer{}
	as.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		as.mu.Lock()
		as.reqs = append(as.reqs, seenRequest{Method: r.Method, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body})
		n := len(as.reqs)
		as.mu.Unlock()
		reply(w, r, n)
	}))
	t.Cleanup(as.Close)
	return as
}

func (as *agentServer) requests() []seenRequest {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]seenRequest(nil), as.reqs...)
}

func (as *agentServer) host() string {
	u, _ := url.Parse(as.URL)
	return u.Host
}

// reply is a reply func that always answers status with body.
func reply(status int, body string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func newTestHTTP(t *testing.T, as *agentServer, mod func(*HTTPConfig)) *HTTPAgent {
	t.Helper()
	cfg := HTTPConfig{Name: "airstar", Endpoint: as.URL + "/repair", Token: testToken}
	if mod != nil {
		mod(&cfg)
	}
	h, err := NewHTTP(cfg)
	if err != nil {
		t.Fatalf("NewHTTP = %v", err)
	}
	return h
}

func TestHTTPRepairRequest(t *testing.T) {
	as := newAgentServer(t, reply(http.StatusOK, `{"status":"fixed","summary":"freed the port","diff":"--- a/x\n+++ b/x\n","confidence":0.9}`))
	task := openAITask()
	task.Rung = "airstar"

	fix, err := repairWithin(t, newTestHTTP(t, as, nil), task, 2*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	want := razar.Fix{Status: razar.StatusFixed, Summary: "freed the port", Diff: "--- a/x\n+++ b/x\n"}
	if !reflect.DeepEqual(fix, want) {
		t.Errorf("Repair = %+v, want %+v", fix, want)
	}

	reqs := as.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.ContentType != "application/json" {
		t.Errorf("request = %s with Content-Type %q, want POST application/json", r.Method, r.ContentType)
	}
	if r.Auth != "Bearer "+testToken {
		t.Errorf("Authorization = %q, want the bearer token", r.Auth)
	}
	var esc bus.Escalation
	if err := bus.Decode(r.Body, &esc); err != nil {
		t.Fatalf("body is not a valid escalation: %v\n%s", err, r.Body)
	}
	got := esc.Task()
	if got.Incident != task.Incident || got.Component != task.Component || got.Error != task.Error ||
		got.Attempt != task.Attempt || got.Pass != task.Pass || got.Rung != "airstar" || got.Workdir != "services/router" {
		t.Errorf("escalation task = %+v, want %+v", got, task)
	}
	if esc.Deadline.IsZero() || esc.Deadline.After(task.Deadline) {
		t.Errorf("deadline = %v, want the attempt's (no later than %v)", esc.Deadline, task.Deadline)
	}
	if len(esc.Context) != 2 || esc.Context[1].Reason != "health check still failing" || esc.Context[1].Diff != task.History[1].Diff {
		t.Errorf("context = %+v, want the two earlier attempts", esc.Context)
	}
}

func TestHTTPRepairNoToken(t *testing.T) {
	as := newAgentServer(t, reply(http.StatusOK, `{"status":"no_fix"}`))
	task := openAITask()
	task.History = nil
	if _, err := repairWithin(t, newTestHTTP(t, as, func(c *HTTPConfig) { c.Token = "" }), task, 2*time.Second); err != nil {
		t.Fatalf("Repair = %v", err)
	}
	r := as.requests()[0]
	if r.Auth != "" {
		t.Errorf("Authorization = %q, want none", r.Auth)
	}
	if !strings.Contains(string(r.Body), `"context":[]`) {
		t.Errorf("body = %s, want \"context\":[]", r.Body)
	}
}

func TestHTTPRepairAnswers(t *testing.T) {
	long := strings.Repeat("g", 200)
	tests := []struct {
		name    string
		status  int
		body    string
		want    razar.Fix
		wantErr []string
		notErr  string
	}{
		{name: "no_fix", status: 200, body: `{"status":"no_fix","summary":"nothing"}`,
			want: razar.Fix{Status: razar.StatusNoFix, Summary: "nothing"}},
		{name: "candidates", status: 200, body: `{"status":"fixed","summary":"s","candidates":[{"summary":"a","diff":"da"},{"diff":"db"}]}`,
			want: razar.Fix{Status: razar.StatusFixed, Summary: "s", Candidates: []razar.Candidate{{Summary: "a", Diff: "da"}, {Diff: "db"}}}},
		{name: "a whole bus result", status: 200, body: `{"v":1,"incident":"inc-1","attempt":3,"rung":"airstar","status":"error","error":"model overloaded","host":"gpu-1"}`,
			want: razar.Fix{Status: razar.StatusError, Summary: "model overloaded"}},
		{name: "202 is fine", status: 202, body: "\n{\"status\":\"no_fix\"}\n",
			want: razar.Fix{Status: razar.StatusNoFix}},
		{name: "garbage", status: 200, body: "<html>oops</html>",
			wantErr: []string{`http agent airstar: reply is not JSON: "<html>oops</html>"`}},
		{name: "long garbage is cut", status: 200, body: long,
			wantErr: []string{`reply is not JSON: "` + long[:80] + `..."`}, notErr: long[:81]},
		{name: "not an object", status: 200, body: `["fixed"]`,
			wantErr: []string{`http agent airstar: reply is not a JSON object: "[\"fixed\"]"`}},
		{name: "field of the wrong kind", status: 200, body: `{"status":"fixed","candidates":"all of them"}`,
			wantErr: []string{`http agent airstar: reply field "candidates" is a JSON string of the wrong kind`}},
		{name: "invalid status", status: 200, body: `{"status":"ok"}`,
			wantErr: []string{`http agent airstar: reply status "ok" is not fixed, no_fix or error`}},
		{name: "empty", status: 200, body: "",
			wantErr: []string{"http agent airstar: empty reply"}},
		{name: "400 is not retried", status: 400, body: `{"detail":"incident missing"}`,
			wantErr: []string{`http agent airstar: HTTP 400 Bad Request from `, `: "incident missing"`}},
		{name: "404 plain text", status: 404, body: "no such route\nmore",
			wantErr: []string{`HTTP 404 Not Found from `, `: "no such route"`}, notErr: "more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := newAgentServer(t, reply(tt.status, tt.body))
			fix, err := repairWithin(t, newTestHTTP(t, as, nil), openAITask(), 2*time.Second)
			if n := len(as.requests()); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Repair = %v", err)
				}
				if !reflect.DeepEqual(fix, tt.want) {
					t.Errorf("Repair = %+v, want %+v", fix, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Repair = %+v, nil; want an error holding %q", fix, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Repair error = %q, want it to hold %q", err, w)
				}
			}
			if tt.notErr != "" && strings.Contains(err.Error(), tt.notErr) {
				t.Errorf("Repair error = %q, want it not to hold %q", err, tt.notErr)
			}
		})
	}
}

func TestHTTPRepairRetry(t *testing.T) {
	as := newAgentServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		reply(http.StatusOK, `{"status":"fixed","summary":"after the retry"}`)(w, r, n)
	})
	fix, err := repairWithin(t, newTestHTTP(t, as, nil), openAITask(), 2*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	if fix.Summary != "after the retry" {
		t.Errorf("Repair = %+v", fix)
	}
	reqs := as.requests()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d requests, want 2 (one retry)", len(reqs))
	}
	if string(reqs[0].Body) != string(reqs[1].Body) || reqs[1].Auth != "Bearer "+testToken {
		t.Errorf("the retry differs from the first request:\n%s\n%s", reqs[0].Body, reqs[1].Body)
	}
}

func TestHTTPRepairUnavailableUntilDeadline(t *testing.T) {
	as := newAgentServer(t, reply(http.StatusServiceUnavailable, `{"error":"overloaded"}`))
	_, err := repairWithin(t, newTestHTTP(t, as, nil), openAITask(), time.Second)
	if err == nil {
		t.Fatal("Repair = nil error, want the 503")
	}
	for _, w := range []string{"http agent airstar: ", "HTTP 503 Service Unavailable from " + as.host(), `"overloaded"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Repair error = %q, want it to hold %q", err, w)
		}
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || se.Host != as.host() {
		t.Errorf("Repair error = %#v, want a *StatusError 503 from %s", err, as.host())
	}
}

func TestHTTPRepairReplyTooLarge(t *testing.T) {
	as := newAgentServer(t, reply(http.StatusOK, `{"status":"fixed","summary":"`+strings.Repeat("z", 2000)+`"}`))
	_, err := repairWithin(t, newTestHTTP(t, as, func(c *HTTPConfig) { c.MaxReplyBytes = 1000 }), openAITask(), 2*time.Second)
	if err == nil || err.Error() != "http agent airstar: reply over 1000 bytes" {
		t.Fatalf("Repair = %v, want reply over 1000 bytes", err)
	}
	if n := len(as.requests()); n != 1 {
		t.Errorf("server saw %d requests; an oversized reply is not retried", n)
	}
}

func TestHTTPRepairDeadline(t *testing.T) {
	release := make(chan struct{})
	as := newAgentServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"status":`) // headers and half a body, then nothing
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	_, err := repairWithin(t, newTestHTTP(t, as, nil), openAITask(), 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "http agent airstar: timed out after ") {
		t.Fatalf("Repair = %v, want a timeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Repair error = %v, want it to match context.DeadlineExceeded", err)
	}
}

func TestHTTPErrorsNeverHoldTheToken(t *testing.T) {
	echo := func(status int) func(http.ResponseWriter, *http.Request, int) {
		return func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"message":"bad key `+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+`"}`)
		}
	}
	for name, rep := range map[string]func(http.ResponseWriter, *http.Request, int){
		"403 echo": echo(http.StatusForbidden),
		"502 echo": echo(http.StatusBadGateway),
		"garbage echo": func(w http.ResponseWriter, r *http.Request, _ int) {
			_, _ = io.WriteString(w, r.Header.Get("Authorization"))
		},
		"status echo": reply(200, `{"status":"`+testToken+`"}`),
		"slow":        blockUntilGone(t),
	} {
		t.Run(name, func(t *testing.T) {
			as := newAgentServer(t, rep)
			_, err := repairWithin(t, newTestHTTP(t, as, nil), openAITask(), 500*time.Millisecond)
			if err == nil {
				t.Fatal("Repair = nil error, want one")
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), testToken) {
					t.Errorf("an error in the chain holds the token: %q", e)
				}
			}
		})
	}
}

func TestNewHTTPConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     HTTPConfig
		wantErr string
	}{
		{name: "ok", cfg: HTTPConfig{Name: "airstar", Endpoint: "https://fixer.example.com/repair"}},
		{name: "no name", cfg: HTTPConfig{Endpoint: "http://h/"}, wantErr: "http agent: no name"},
		{name: "no endpoint", cfg: HTTPConfig{Name: "airstar", Token: testToken}, wantErr: "http agent airstar: no endpoint"},
		{name: "not http", cfg: HTTPConfig{Name: "airstar", Endpoint: "unix:///run/fixer.sock", Token: testToken}, wantErr: "is not an http(s) URL"},
		{name: "token in a bad endpoint", cfg: HTTPConfig{Name: "airstar", Endpoint: testToken, Token: testToken}, wantErr: `endpoint "[REDACTED]"`},
		{name: "negative reply bound", cfg: HTTPConfig{Name: "airstar", Endpoint: "http://h/", MaxReplyBytes: -5}, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHTTP(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || h == nil {
					t.Fatalf("NewHTTP = %v, %v", h, err)
				}
				return
			}
			if err == nil || !errors.Is(err, razar.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewHTTP = %v; want razar.ErrInvalidConfig holding %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("NewHTTP error holds the token: %q", err)
			}
		})
	}
}

// TestHTTPClientNotChanged checks that the caller's client is copied, not
// given the size-bounding transport.
func TestHTTPClientNotChanged(t *testing.T) {
	c := &http.Client{Timeout: time.Minute}
	if _, err := NewHTTP(HTTPConfig{Name: "airstar", Endpoint: "http://h/", HTTPClient: c}); err != nil {
		t.Fatal(err)
	}
	if c.Transport != nil {
		t.Errorf("the caller's client transport was replaced with %T", c.Transport)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
		ok     bool
	}{
		{name: "none"},
		{name: "seconds", header: map[string]string{"Retry-After": "2"}, want: 2 * time.Second, ok: true},
		{name: "fractional", header: map[string]string{"Retry-After": "0.5"}, want: 500 * time.Millisecond, ok: true},
		{name: "ms wins", header: map[string]string{"Retry-After-Ms": "150", "Retry-After": "9"}, want: 150 * time.Millisecond, ok: true},
		{name: "date", header: map[string]string{"Retry-After": "Thu, 26 Nov 2026 12:00:03 GMT"}, want: 3 * time.Second, ok: true},
		{name: "past date", header: map[string]string{"Retry-After": "Thu, 26 Nov 2026 11:00:00 GMT"}, want: 0, ok: true},
		{name: "huge", header: map[string]string{"Retry-After": "1e300"}, want: 1e9 * time.Second, ok: true},
		{name: "negative", header: map[string]string{"Retry-After": "-1"}},
		{name: "garbage", header: map[string]string{"Retry-After": "soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			got, ok := parseRetryAfter(h, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseRetryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseHTTPReply(f *testing.F) {
	for _, s := range []string{
		`{"status":"fixed","summary":"s","diff":"--- a/x\n+++ b/x\n"}`,
		`{"v":1,"incident":"inc-1","attempt":1,"rung":"r","status":"error","error":"e"}`,
		`{"status":"fixed","candidates":[{"diff":"d"}]}`,
		`{"status":"done"}`,
		`[]`,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fix, err := parseHTTPReply(body)
		if err == nil && !fix.Status.Valid() {
			t.Fatalf("parseHTTPReply(%q) = %+v with an invalid status and no error", body, fix)
		}
		if err != nil && len(err.Error()) > 250 {
			t.Fatalf("parseHTTPReply(%q) error is %d bytes", body, len(err.Error()))
		}
	})
}
