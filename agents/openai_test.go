package agents

import (
	"context"
	"encoding/json"
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
)

// chatRequest is what the fake chat-completions server saw.
type chatRequest struct {
	Method, Path, Auth string
	Model              string
	Messages           []chatMessage
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chatServer is a fake OpenAI-compatible endpoint: it records every request
// and answers with reply(w, r, n), n counting requests from 1.
type chatServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []chatRequest
}

func newChatServer(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, n int)) *chatServer {
	t.Helper()
	cs := &chatServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var doc struct {
			Model    string        `json:"model"`
			Messages []chatMessage `json:"messages"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Errorf("request body is not JSON: %v\n%s", err, body)
		}
		cs.mu.Lock()
		cs.reqs = append(cs.reqs, chatRequest{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Model: doc.Model, Messages: doc.Messages})
		n := len(cs.reqs)
		cs.mu.Unlock()
		reply(w, r, n)
	}))
	t.Cleanup(cs.Close)
	return cs
}

// requests returns a copy of what the server saw so far.
func (cs *chatServer) requests() []chatRequest {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]chatRequest(nil), cs.reqs...)
}

// endpoint is the server's base URL as an operator would write it.
func (cs *chatServer) endpoint() string { return cs.URL + "/v1" }

func (cs *chatServer) host() string {
	u, _ := url.Parse(cs.URL)
	return u.Host
}

// chatCompletion is a real chat-completions response carrying content.
func chatCompletion(content, finish string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": content},
			"finish_reason": finish,
		}},
		"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
	})
	return b
}

func writeChat(w http.ResponseWriter, content string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(chatCompletion(content, "stop"))
}

// answer is a reply func that always answers content.
func answer(content string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) { writeChat(w, content) }
}

// failWith is a reply func that answers status with an OpenAI-style error body.
func failWith(status int, msg string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
		_, _ = w.Write(b)
	}
}

// blockUntilGone is a reply func that answers only once the client has gone.
func blockUntilGone(t *testing.T) func(http.ResponseWriter, *http.Request, int) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	return func(_ http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
}

func openAITask() razar.Task {
	task := execTask()
	task.Workdir = "services/router"
	task.History[1].Diff = "--- a/router.conf\n+++ b/router.conf\n@@ -1 +1 @@\n-port=8101\n+port=<auto>\n"
	return task
}

const testToken = "sk-test-planted-9f3c1e7a5b2d4c6e8f0a"

func newTestOpenAI(t *testing.T, cs *chatServer, mod func(*OpenAIConfig)) *OpenAI {
	t.Helper()
	cfg := OpenAIConfig{Name: "k2", Endpoint: cs.endpoint(), Model: "kimi-k2", Token: testToken, Role: "You are K2 Coder, RAZAR's repair rung."}
	if mod != nil {
		mod(&cfg)
	}
	o, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatalf("NewOpenAI = %v", err)
	}
	return o
}

// repairWithin runs Repair under a ctx timeout and fails the test if it has
// not returned well after that (the "returned" check; no timing asserted).
func repairWithin(t *testing.T, a razar.Agent, task razar.Task, timeout time.Duration) (razar.Fix, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	type out struct {
		fix razar.Fix
		err error
	}
	done := make(chan out, 1)
	go func() {
		fix, err := a.Repair(ctx, task)
		done <- out{fix, err}
	}()
	select {
	case o := <-done:
		return o.fix, o.err
	case <-time.After(timeout + 5*time.Second):
		t.Fatalf("Repair did not return within %v of its %v deadline", 5*time.Second, timeout)
		return razar.Fix{}, nil
	}
}

func TestOpenAIRepairRequest(t *testing.T) {
	diff := "--- a/router.conf\n+++ b/router.conf\n@@ -1 +1 @@\n-port=8101\n+port=8102\n"
	reply, _ := json.Marshal(map[string]string{"status": "fixed", "summary": "moved to a free port", "diff": diff})
	cs := newChatServer(t, answer(string(reply)))
	o := newTestOpenAI(t, cs, nil)
	task := openAITask()

	fix, err := repairWithin(t, o, task, 2*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	want := razar.Fix{Status: razar.StatusFixed, Summary: "moved to a free port", Diff: diff}
	fix = withoutUsage(t, fix) // the fake server reports 1 and 1
	if !reflect.DeepEqual(fix, want) {
		t.Errorf("Repair = %+v, want %+v", fix, want)
	}

	reqs := cs.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v1/chat/completions" {
		t.Errorf("request = %s %s, want POST /v1/chat/completions", r.Method, r.Path)
	}
	if r.Auth != "Bearer "+testToken {
		t.Errorf("Authorization = %q, want the bearer token", r.Auth)
	}
	if r.Model != "kimi-k2" {
		t.Errorf("model = %q, want kimi-k2", r.Model)
	}
	if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.Messages[1].Role != "user" {
		t.Fatalf("messages = %+v, want system then user", r.Messages)
	}
	sys, user := r.Messages[0].Content, r.Messages[1].Content
	for _, w := range []string{"You are K2 Coder, RAZAR's repair rung.", "ONLY one JSON object", `"status": "fixed|no_fix|error"`, `"diff"`, "unified diff", "workdir"} {
		if !strings.Contains(sys, w) {
			t.Errorf("system prompt lacks %q:\n%s", w, sys)
		}
	}
	if strings.Contains(sys, "candidates") {
		t.Errorf("system prompt asks for candidates without Candidates > 1:\n%s", sys)
	}
	for _, w := range []string{
		"component: crown_router", "workdir: services/router", "attempt: 3 (pass 1)",
		"listen tcp :8101: bind: address already in use",
		`{"attempt":1,"rung":"crown","outcome":"no_fix","summary":"triage: port in use"}`,
		`"reason":"health check still failing"`,
		`"diff":"--- a/router.conf\n+++ b/router.conf\n@@ -1 +1 @@\n-port=8101\n+port=<auto>\n"`, // compact, < unescaped
	} {
		if !strings.Contains(user, w) {
			t.Errorf("user message lacks %q:\n%s", w, user)
		}
	}
	// The history is compact JSON: pull it out and decode it.
	i := strings.Index(user, "[")
	var hist []map[string]any
	if i < 0 || json.Unmarshal([]byte(user[i:]), &hist) != nil || len(hist) != 2 {
		t.Errorf("user message holds no two-attempt JSON history:\n%s", user)
	} else if hist[1]["rung"] != "kimicho" || hist[1]["outcome"] != "rejected" {
		t.Errorf("history[1] = %v", hist[1])
	}
}

func TestOpenAIRepairNoToken(t *testing.T) {
	// The official client's NewClient would pick these up; the backend must not.
	t.Setenv("OPENAI_API_KEY", "sk-from-the-environment")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	cs := newChatServer(t, answer(`{"status":"no_fix","summary":"nothing to do"}`))
	o := newTestOpenAI(t, cs, func(c *OpenAIConfig) { c.Token = ""; c.Model = ""; c.Role = "" })

	fix, err := repairWithin(t, o, openAITask(), 2*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	if fix.Status != razar.StatusNoFix {
		t.Errorf("Repair = %+v", fix)
	}
	reqs := cs.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	if reqs[0].Auth != "" {
		t.Errorf("Authorization = %q, want none", reqs[0].Auth)
	}
	if reqs[0].Model != "default" {
		t.Errorf("model = %q, want default", reqs[0].Model)
	}
	if sys := reqs[0].Messages[0].Content; !strings.HasPrefix(sys, "Answer with ONLY") {
		t.Errorf("system prompt without a role = %q", sys)
	}
}

func TestOpenAIRepairAnswers(t *testing.T) {
	long := strings.Repeat("y", 200)
	tests := []struct {
		name    string
		content string
		finish  string
		want    razar.Fix
		wantErr []string
		notErr  string
	}{
		{name: "bare object", content: `{"status":"no_fix","summary":"cannot reproduce"}`,
			want: razar.Fix{Status: razar.StatusNoFix, Summary: "cannot reproduce"}},
		{name: "fenced json", content: "Here is my answer:\n```json\n{\n  \"status\": \"fixed\",\n  \"summary\": \"fenced\",\n  \"diff\": \"--- a/x\\n+++ b/x\\n\"\n}\n```\nGood luck!",
			want: razar.Fix{Status: razar.StatusFixed, Summary: "fenced", Diff: "--- a/x\n+++ b/x\n"}},
		{name: "prose around the object", content: `I looked at it. {"status":"error","summary":"no access"} That is all.`,
			want: razar.Fix{Status: razar.StatusError, Summary: "no access"}},
		{name: "not JSON", content: "I am sorry, I cannot help with that.",
			wantErr: []string{`openai agent k2: reply is not JSON: "I am sorry, I cannot help with that."`}},
		{name: "long prose is cut", content: long,
			wantErr: []string{`reply is not JSON: "` + long[:80] + `..."`}, notErr: long[:81]},
		{name: "invalid status", content: `{"status":"done","summary":"x"}`,
			wantErr: []string{`openai agent k2: reply status "done" is not fixed, no_fix or error`}},
		{name: "no status", content: `{"summary":"x"}`,
			wantErr: []string{`openai agent k2: reply has no "status"`}},
		{name: "empty content", content: "  ",
			wantErr: []string{"openai agent k2: empty reply"}},
		{name: "cut off at the token limit", content: `{"status":"fixed","summary":"trunc`, finish: "length",
			wantErr: []string{"reply is not JSON", `finish_reason "length"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			finish := tt.finish
			if finish == "" {
				finish = "stop"
			}
			cs := newChatServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(chatCompletion(tt.content, finish))
			})
			fix, err := repairWithin(t, newTestOpenAI(t, cs, nil), openAITask(), 2*time.Second)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Repair = %v", err)
				}
				fix = withoutUsage(t, fix) // the fake server reports 1 and 1
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
			if n := len(cs.requests()); n != 1 {
				t.Errorf("server saw %d requests; an unusable answer is not retried", n)
			}
		})
	}
}

func TestOpenAIRepairCandidates(t *testing.T) {
	cands := []razar.Candidate{
		{Summary: "free the port", Diff: "--- a/a\n+++ b/a\n"},
		{Summary: "change the port", Diff: "--- a/b\n+++ b/b\n"},
		{Summary: "restart the holder", Diff: "--- a/c\n+++ b/c\n"},
	}
	reply, _ := json.Marshal(map[string]any{"status": "fixed", "summary": "port clash", "candidates": cands})
	cs := newChatServer(t, answer("```json\n"+string(reply)+"\n```"))
	o := newTestOpenAI(t, cs, func(c *OpenAIConfig) { c.Name = "rstar"; c.Candidates = 3 })

	fix, err := repairWithin(t, o, openAITask(), 2*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	want := razar.Fix{Status: razar.StatusFixed, Summary: "port clash", Candidates: cands}
	fix = withoutUsage(t, fix) // the fake server reports 1 and 1
	if !reflect.DeepEqual(fix, want) {
		t.Errorf("Repair = %+v, want %+v", fix, want)
	}
	sys := cs.requests()[0].Messages[0].Content
	for _, w := range []string{`"candidates": [{"summary": "...", "diff": "..."}`, "exactly 3 alternative repairs"} {
		if !strings.Contains(sys, w) {
			t.Errorf("system prompt lacks %q:\n%s", w, sys)
		}
	}
}

func TestOpenAIRepairRetries(t *testing.T) {
	tests := []struct {
		name  string
		first func(w http.ResponseWriter)
	}{
		{name: "429 with Retry-After", first: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"message":"rate limited"}}`)
		}},
		{name: "500", first: func(w http.ResponseWriter) {
			http.Error(w, "upstream exploded", http.StatusInternalServerError)
		}},
		{name: "503 without a body", first: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newChatServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					tt.first(w)
					return
				}
				writeChat(w, `{"status":"fixed","summary":"second time lucky"}`)
			})
			fix, err := repairWithin(t, newTestOpenAI(t, cs, nil), openAITask(), 2*time.Second)
			if err != nil {
				t.Fatalf("Repair = %v", err)
			}
			if fix.Summary != "second time lucky" {
				t.Errorf("Repair = %+v", fix)
			}
			if n := len(cs.requests()); n != 2 {
				t.Errorf("server saw %d requests, want 2 (one retry)", n)
			}
		})
	}
}

func TestOpenAIRepairServerErrorUntilDeadline(t *testing.T) {
	cs := newChatServer(t, failWith(http.StatusInternalServerError, "still broken"))
	_, err := repairWithin(t, newTestOpenAI(t, cs, nil), openAITask(), time.Second)
	if err == nil {
		t.Fatal("Repair = nil error, want the 500")
	}
	for _, w := range []string{"openai agent k2: ", "HTTP 500 Internal Server Error from " + cs.host(), `"still broken"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Repair error = %q, want it to hold %q", err, w)
		}
	}
	// Usually it gives up when the next retry could not start in time; on a
	// loaded machine the deadline may pass mid-request instead.
	if !strings.Contains(err.Error(), "gave up after") && !strings.Contains(err.Error(), "timed out after") {
		t.Errorf("Repair error = %q, want it to say why it stopped", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusInternalServerError {
		t.Errorf("Repair error = %v, want it to match a *StatusError 500", err)
	}
	if n := len(cs.requests()); n < 2 {
		t.Errorf("server saw %d requests, want retries", n)
	}
}

func TestOpenAIRepairRetriesBounded(t *testing.T) {
	cs := newChatServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Retry-After-Ms", "0")
		w.WriteHeader(http.StatusBadGateway)
	})
	o := newTestOpenAI(t, cs, func(c *OpenAIConfig) { c.MaxRetries = 2 })
	_, err := repairWithin(t, o, openAITask(), 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "HTTP 502 Bad Gateway") || !strings.Contains(err.Error(), "gave up after 3 tries") {
		t.Fatalf("Repair = %v, want a 502 after 3 tries", err)
	}
	if n := len(cs.requests()); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}
}

func TestOpenAIRepairRetryAfterPastDeadline(t *testing.T) {
	cs := newChatServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	_, err := repairWithin(t, newTestOpenAI(t, cs, nil), openAITask(), 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "HTTP 429 Too Many Requests") || !strings.Contains(err.Error(), "past the deadline") {
		t.Fatalf("Repair = %v, want a 429 given up on", err)
	}
	if n := len(cs.requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestOpenAIRepairDeadline(t *testing.T) {
	cs := newChatServer(t, blockUntilGone(t))
	_, err := repairWithin(t, newTestOpenAI(t, cs, nil), openAITask(), 300*time.Millisecond)
	if err == nil {
		t.Fatal("Repair = nil error, want a timeout")
	}
	if !strings.Contains(err.Error(), "openai agent k2: timed out after ") {
		t.Errorf("Repair error = %q, want it to say it timed out", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Repair error = %v, want it to match context.DeadlineExceeded", err)
	}
}

func TestOpenAIRepairTaskDeadline(t *testing.T) {
	cs := newChatServer(t, blockUntilGone(t))
	task := openAITask()
	task.Deadline = time.Now().Add(300 * time.Millisecond)
	done := make(chan error, 1)
	go func() {
		_, err := newTestOpenAI(t, cs, nil).Repair(t.Context(), task) // no ctx deadline
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("Repair = %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Repair did not return after the task's deadline")
	}
}

func TestOpenAIRepairCancelled(t *testing.T) {
	cs := newChatServer(t, blockUntilGone(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := newTestOpenAI(t, cs, nil).Repair(ctx, openAITask())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Repair = %v, want context.Canceled", err)
	}
}

func TestOpenAIRepairReplyTooLarge(t *testing.T) {
	big := `{"status":"fixed","summary":"` + strings.Repeat("z", 4096) + `"}`
	tests := []struct {
		name  string
		reply func(w http.ResponseWriter, _ *http.Request, _ int)
	}{
		{name: "declared length", reply: answer(big)},
		{name: "chunked", reply: func(w http.ResponseWriter, _ *http.Request, _ int) {
			w.Header().Set("Content-Type", "application/json")
			body := chatCompletion(big, "stop")
			for len(body) > 0 { // flushing forces chunked encoding
				n := min(len(body), 512)
				_, _ = w.Write(body[:n])
				w.(http.Flusher).Flush()
				body = body[n:]
			}
		}},
		{name: "error body", reply: failWith(http.StatusInternalServerError, strings.Repeat("e", 4096))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newChatServer(t, tt.reply)
			o := newTestOpenAI(t, cs, func(c *OpenAIConfig) { c.MaxReplyBytes = 1024 })
			_, err := repairWithin(t, o, openAITask(), 2*time.Second)
			if err == nil || err.Error() != "openai agent k2: reply over 1024 bytes" {
				t.Fatalf("Repair = %v, want reply over 1024 bytes", err)
			}
			if n := len(cs.requests()); n != 1 {
				t.Errorf("server saw %d requests; an oversized reply is not retried", n)
			}
		})
	}
}

func TestOpenAIRepairDefaultReplyBound(t *testing.T) {
	chunk := []byte(strings.Repeat("z", 64<<10))
	cs := newChatServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"`)
		for range DefaultMaxReplyBytes/len(chunk) + 1 { // stops when the client hangs up
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `"}`)
	})
	_, err := repairWithin(t, newTestOpenAI(t, cs, nil), openAITask(), 2*time.Second)
	if err == nil || !strings.HasSuffix(err.Error(), "reply over 1048576 bytes") {
		t.Fatalf("Repair = %v, want reply over 1048576 bytes", err)
	}
}

func TestOpenAIRepairUnauthorized(t *testing.T) {
	cs := newChatServer(t, failWith(http.StatusUnauthorized, "Incorrect API key provided: "+testToken))
	_, err := repairWithin(t, newTestOpenAI(t, cs, nil), openAITask(), 2*time.Second)
	if err == nil {
		t.Fatal("Repair = nil error, want the 401")
	}
	want := `openai agent k2: HTTP 401 Unauthorized from ` + cs.host() + `: "Incorrect API key provided: [REDACTED]"`
	if err.Error() != want {
		t.Errorf("Repair error = %q, want %q", err, want)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("Repair error holds the token: %q", err)
	}
	if n := len(cs.requests()); n != 1 {
		t.Errorf("server saw %d requests; a 401 is not retried", n)
	}
}

func TestOpenAIRepairConnectionRefused(t *testing.T) {
	cs := newChatServer(t, answer(`{"status":"fixed"}`))
	endpoint := cs.endpoint()
	host := cs.host()
	cs.Close() // nothing listens there now
	o, err := NewOpenAI(OpenAIConfig{Name: "k2", Endpoint: endpoint, Token: testToken, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = repairWithin(t, o, openAITask(), 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "request to "+host) || !strings.Contains(err.Error(), "gave up after 2 tries") {
		t.Fatalf("Repair = %v, want a connection error after 2 tries", err)
	}
}

func TestNewOpenAIConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     OpenAIConfig
		wantErr string
	}{
		{name: "ok", cfg: OpenAIConfig{Name: "k2", Endpoint: "https://api.example.com/v1"}},
		{name: "ok, no token, plain http", cfg: OpenAIConfig{Name: "kimicho", Endpoint: "http://127.0.0.1:8000/v1"}},
		{name: "no name", cfg: OpenAIConfig{Endpoint: "http://h/v1"}, wantErr: "openai agent: no name"},
		{name: "bad name", cfg: OpenAIConfig{Name: "K 2", Endpoint: "http://h/v1"}, wantErr: "is not a valid name"},
		{name: "no endpoint", cfg: OpenAIConfig{Name: "k2"}, wantErr: "openai agent k2: no endpoint"},
		{name: "not http", cfg: OpenAIConfig{Name: "k2", Endpoint: "ftp://h/v1"}, wantErr: `endpoint "ftp://h/v1" is not an http(s) URL`},
		{name: "no host", cfg: OpenAIConfig{Name: "k2", Endpoint: "http:///v1"}, wantErr: "is not an http(s) URL"},
		{name: "relative", cfg: OpenAIConfig{Name: "k2", Endpoint: "localhost:8000/v1"}, wantErr: "is not an http(s) URL"},
		{name: "unparsable", cfg: OpenAIConfig{Name: "k2", Endpoint: "http://h/%zz"}, wantErr: "is not an http(s) URL"},
		{name: "token in a bad endpoint", cfg: OpenAIConfig{Name: "k2", Endpoint: "ftp://h/v1?key=" + testToken, Token: testToken}, wantErr: "[REDACTED]"},
		{name: "password in a bad endpoint", cfg: OpenAIConfig{Name: "k2", Endpoint: "ftp://u:hunter2secret@h/v1"}, wantErr: "u:xxxxx@h"},
		{name: "negative reply bound", cfg: OpenAIConfig{Name: "k2", Endpoint: "http://h/v1", MaxReplyBytes: -1}, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := NewOpenAI(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || o == nil {
					t.Fatalf("NewOpenAI = %v, %v", o, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewOpenAI = %v, nil; want an error holding %q", o, tt.wantErr)
			}
			if !errors.Is(err, razar.ErrInvalidConfig) {
				t.Errorf("NewOpenAI error = %v, want razar.ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewOpenAI error = %q, want it to hold %q", err, tt.wantErr)
			}
			for _, secret := range []string{testToken, "hunter2secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("NewOpenAI error holds a secret: %q", err)
				}
			}
		})
	}
}

// TestOpenAIErrorsNeverHoldTheToken plants a token, has the server echo it
// in every way it can, and greps every error.
func TestOpenAIErrorsNeverHoldTheToken(t *testing.T) {
	echo := func(status int) func(http.ResponseWriter, *http.Request, int) {
		return func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "you sent "+r.Header.Get("Authorization")+"\n")
		}
	}
	replies := map[string]func(http.ResponseWriter, *http.Request, int){
		"401 echo":        echo(http.StatusUnauthorized),
		"403 json":        failWith(http.StatusForbidden, "key "+testToken+" is revoked"),
		"500 echo":        echo(http.StatusInternalServerError),
		"429 forever":     failWith(http.StatusTooManyRequests, testToken),
		"content echo":    func(w http.ResponseWriter, r *http.Request, _ int) { writeChat(w, r.Header.Get("Authorization")) },
		"bad status echo": answer(`{"status":"` + testToken + `"}`),
		"refusal echo": func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"","refusal":"no, `+testToken+`"},"finish_reason":"stop"}]}`)
		},
		"not a completion": func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, r.Header.Get("Authorization"))
		},
		"oversized": answer(strings.Repeat(testToken, 100)),
		"slow":      blockUntilGone(t),
	}
	for name, reply := range replies {
		t.Run(name, func(t *testing.T) {
			cs := newChatServer(t, reply)
			o := newTestOpenAI(t, cs, func(c *OpenAIConfig) { c.MaxReplyBytes = 2048 })
			_, err := repairWithin(t, o, openAITask(), 500*time.Millisecond)
			if err == nil {
				t.Fatal("Repair = nil error, want one")
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testToken[:12]) {
				t.Errorf("Repair error holds the token: %q", err)
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), testToken) {
					t.Errorf("an error in the chain holds the token: %q", e)
				}
			}
		})
	}
}

func TestParseChatReply(t *testing.T) {
	tests := []struct {
		name       string
		content    string
		candidates int
		want       razar.Fix
		wantErr    string
	}{
		{name: "plain", content: `{"status":"fixed","summary":"s","diff":"d"}`, want: razar.Fix{Status: razar.StatusFixed, Summary: "s", Diff: "d"}},
		{name: "fence without a tag", content: "```\n{\"status\":\"no_fix\"}\n```", want: razar.Fix{Status: razar.StatusNoFix}},
		{name: "unclosed fence", content: "```json\n{\"status\":\"no_fix\",\"summary\":\"u\"}", want: razar.Fix{Status: razar.StatusNoFix, Summary: "u"}},
		{name: "last fenced block wins", content: "```json\n{\"status\":\"no_fix\",\"summary\":\"draft\"}\n```\nbetter:\n```json\n{\"status\":\"fixed\",\"summary\":\"final\"}\n```",
			want: razar.Fix{Status: razar.StatusFixed, Summary: "final"}},
		{name: "last object in prose wins", content: `first {"status":"no_fix","summary":"a"} then {"status":"fixed","summary":"b"} done`,
			want: razar.Fix{Status: razar.StatusFixed, Summary: "b"}},
		{name: "braces in the diff", content: `Sure: {"status":"fixed","summary":"s","diff":"+int main() { return 0; }\n"} ok`,
			want: razar.Fix{Status: razar.StatusFixed, Summary: "s", Diff: "+int main() { return 0; }\n"}},
		{name: "braces in prose before", content: "Use `{}` here, {not json}: {\"status\":\"no_fix\"}", want: razar.Fix{Status: razar.StatusNoFix}},
		{name: "valid beats an earlier bad status", content: `{"status":"nope"} {"status":"no_fix"}`, want: razar.Fix{Status: razar.StatusNoFix}},
		{name: "bus result error as summary", content: `{"status":"error","error":"model overloaded"}`, want: razar.Fix{Status: razar.StatusError, Summary: "model overloaded"}},
		{name: "candidates kept up to N, empty dropped", candidates: 2,
			content: `{"status":"fixed","candidates":[{"summary":"1","diff":"d1"},{"summary":"empty","diff":" "},{"summary":"2","diff":"d2"},{"summary":"3","diff":"d3"}]}`,
			want:    razar.Fix{Status: razar.StatusFixed, Candidates: []razar.Candidate{{Summary: "1", Diff: "d1"}, {Summary: "2", Diff: "d2"}}}},
		{name: "a bare diff is a fix", content: "The key is misspelt.\n--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n-prot=1\n+port=1",
			want: razar.Fix{Status: razar.StatusFixed, Summary: "The key is misspelt.", Diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n-prot=1\n+port=1\n"}},
		{name: "a fenced diff is a fix", content: "Fix:\n```diff\n--- app.conf\n+++ app.conf\n@@ -2 +2 @@\n-prot=1\n+port=1\n```\nDone.",
			want: razar.Fix{Status: razar.StatusFixed, Summary: "Fix", Diff: "--- app.conf\n+++ app.conf\n@@ -2 +2 @@\n-prot=1\n+port=1\n"}},
		{name: "search/replace blocks are a fix", content: "Rename the key:\n```\nconfig/app.conf\n<<<<<<< SEARCH\nprot=1\n=======\nport=1\n>>>>>>> REPLACE\n```",
			want: razar.Fix{Status: razar.StatusFixed, Summary: "Rename the key", Diff: "config/app.conf\n<<<<<<< SEARCH\nprot=1\n=======\nport=1\n>>>>>>> REPLACE\n"}},
		{name: "a JSON reply wins over a diff in prose", content: "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n" + `{"status":"no_fix"}`, want: razar.Fix{Status: razar.StatusNoFix}},
		{name: "diff headers without a hunk are prose", content: "--- a/x\n+++ b/x\n", wantErr: "reply is not JSON"},
		{name: "status wrong type", content: `{"status":1}`, wantErr: `reply is not JSON: "{\"status\":1}"`},
		{name: "array", content: `["fixed"]`, wantErr: `reply is not JSON: "[\"fixed\"]"`},
		{name: "empty", content: "\n", wantErr: "empty reply"},
		{name: "bad status", content: "```json\n{\"status\":\"FIXED\"}\n```", wantErr: `reply status "FIXED" is not fixed, no_fix or error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fix, err := parseChatReply(tt.content, tt.candidates)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("parseChatReply = %+v, %v; want error %q", fix, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(fix, tt.want) {
				t.Fatalf("parseChatReply = %+v, %v; want %+v", fix, err, tt.want)
			}
		})
	}
}

func FuzzParseChatReply(f *testing.F) {
	for _, s := range []string{
		`{"status":"fixed","summary":"freed the port","diff":"--- a/x\n+++ b/x\n"}`,
		"Here:\n```json\n{\"status\":\"no_fix\"}\n```\n",
		`text {"status":"error"} text`,
		`{"status":"fixed","candidates":[{"summary":"a","diff":"d"}]}`,
		"```\n{\n```",
		"{{{{",
		`{"status":"done"}`,
		"",
		"--- a/x\n+++ b/x\n@@ ... @@\n-a\n+b\n",
		"x.conf\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n",
		">>>>>>> REPLACE\n<<<<<<< SEARCH\n",
	} {
		f.Add(s, 0)
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, content string, candidates int) {
		fix, err := parseChatReply(content, candidates)
		if err == nil && !fix.Status.Valid() {
			t.Fatalf("parseChatReply(%q) = %+v with an invalid status and no error", content, fix)
		}
		if candidates > 0 && len(fix.Candidates) > candidates {
			t.Fatalf("parseChatReply(%q, %d) kept %d candidates", content, candidates, len(fix.Candidates))
		}
		if err != nil && len(err.Error()) > 250 {
			t.Fatalf("parseChatReply(%q) error is %d bytes", content, len(err.Error()))
		}
	})
}

// withoutUsage asserts the usage of one fake completion (1 prompt token, 1
// completion token) and returns fix without it.
func withoutUsage(t *testing.T, fix razar.Fix) razar.Fix {
	t.Helper()
	if fix.Usage != (razar.Usage{Prompt: 1, Completion: 1}) {
		t.Errorf("Usage = %+v, want the one completion's 1 + 1 tokens", fix.Usage)
	}
	fix.Usage = razar.Usage{}
	return fix
}
