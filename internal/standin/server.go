// Package standin is a stand-in for a model: a small OpenAI-compatible
// chat-completions server that the demo, the tests and `make bench` put
// behind RAZAR's openai rungs. It is NOT a model. It knows a handful of
// ordinary failures (a config key typo such as prot=8450, a Python block
// line missing its colon, a JSON trailing comma, an unclosed INI section
// header, a YAML line without its colon, an out-of-range port, a shell
// `if` without its `fi`, a path a typo away from one the listing has, a
// missing directory, a script run directly without its executable bit, an
// unset variable) and repairs them the way a model would,
// from what it is sent and nothing else: the file texts in the prompt, and
// what it asks for with the tools RAZAR offers (list, read, search, check).
// It never reads the disk; its diffs are built from the lines it was shown.
//
// It speaks the real API: POST /v1/chat/completions with messages
// (system, user, assistant with tool_calls, tool), tools, and answers with
// choices, tool_calls, finish_reason and usage (counted as bytes / 4,
// roughly what a tokenizer gives for English and code). Like real models,
// it can write a hunk header without line numbers (`@@ ... @@`, Config
// Sloppy); told that a diff did not hold, it writes exact ones.
//
// A Server holds no state between requests and is safe for concurrent use.
package standin

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Config configures a stand-in.
type Config struct {
	// Sloppy writes hunk headers without line numbers ("@@ ... @@"), as
	// models often do, until it is told a diff did not hold.
	Sloppy bool
	// RefuseTools answers a request that offers tools with HTTP 400 "this
	// model does not support tools", like Ollama for such a model.
	RefuseTools bool
	// Key, when set, is the bearer token a request must carry.
	Key string
	// MaxBody bounds a request body. Default 8 MiB.
	MaxBody int64
}

// Server is the stand-in's http.Handler.
type Server struct {
	cfg Config
	ids atomic.Int64
}

// New returns a stand-in.
func New(cfg Config) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 8 << 20
	}
	return &Server{cfg: cfg}
}

// Message is one chat message as the API carries it.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// Content is a message's content: a string, or an array of text parts.
type Content string

// UnmarshalJSON accepts a string, null, or [{"type":"text","text":...}].
func (c *Content) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*c = Content(s)
		return nil
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		if string(b) == "null" {
			return nil
		}
		return fmt.Errorf("content is neither a string nor text parts")
	}
	var sb strings.Builder
	for _, p := range parts {
		sb.WriteString(p.Text)
	}
	*c = Content(sb.String())
	return nil
}

// ToolCall is one function call of an assistant message.
type ToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type request struct {
	Model    string            `json:"model"`
	Messages []Message         `json:"messages"`
	Tools    []json.RawMessage `json:"tools"`
}

// ServeHTTP answers POST /v1/chat/completions (and /chat/completions).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		apiError(w, http.StatusNotFound, "no route "+r.URL.Path+": the stand-in serves POST /v1/chat/completions")
		return
	}
	if r.Method != http.MethodPost {
		apiError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if s.cfg.Key != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Key)) != 1 {
			apiError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "request body over the stand-in's limit")
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		apiError(w, http.StatusBadRequest, "request is not a chat completion: "+err.Error())
		return
	}
	if len(req.Messages) == 0 {
		apiError(w, http.StatusBadRequest, "messages: empty")
		return
	}
	if len(req.Tools) > 0 && s.cfg.RefuseTools {
		apiError(w, http.StatusBadRequest, "this model does not support tools")
		return
	}
	turn := Think(req.Messages, len(req.Tools) > 0, s.cfg.Sloppy)
	s.reply(w, req, turn)
}

// reply writes the completion for one turn.
func (s *Server) reply(w http.ResponseWriter, req request, t Turn) {
	n := s.ids.Add(1)
	msg := map[string]any{"role": "assistant", "content": nil}
	finish := "stop"
	completion := 0
	if len(t.Calls) > 0 {
		calls := make([]map[string]any, len(t.Calls))
		for i, c := range t.Calls {
			args, _ := json.Marshal(c.Args)
			calls[i] = map[string]any{"id": fmt.Sprintf("call_%d_%d", n, i), "type": "function",
				"function": map[string]any{"name": c.Name, "arguments": string(args)}}
			completion += len(args) + len(c.Name)
		}
		msg["tool_calls"] = calls
		finish = "tool_calls"
	} else {
		msg["content"] = t.Content
		completion = len(t.Content)
	}
	prompt := 0
	for _, m := range req.Messages {
		prompt += len(m.Content) + len(m.Role)
		for _, c := range m.ToolCalls {
			prompt += len(c.Function.Name) + len(c.Function.Arguments)
		}
	}
	pt, ct := tokens(prompt), tokens(completion)
	out := map[string]any{
		"id": fmt.Sprintf("chatcmpl-standin-%d", n), "object": "chat.completion", "created": time.Now().Unix(),
		"model": req.Model, "system_fingerprint": "razar-standin",
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// tokens approximates a tokenizer: one token per four bytes, at least one.
func tokens(bytes int) int { return max(1, (bytes+3)/4) }

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
}
