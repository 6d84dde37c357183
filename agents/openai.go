package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/razar/razar"
)

// openAIMaxObjectFails bounds how many '{' that start no JSON value the
// reply parser tries, so a huge reply full of braces cannot make parsing
// quadratic.
const openAIMaxObjectFails = 16

// OpenAIConfig configures an OpenAI-compatible chat-completions backend.
type OpenAIConfig struct {
	// Name is the agent's roster name. Required.
	Name string
	// Endpoint is the API's base URL, e.g. http://host:8000/v1; requests
	// go to <Endpoint>/chat/completions. Required, http or https.
	Endpoint string
	// Model is sent as "model". Default "default".
	Model string
	// Token is sent as "Authorization: Bearer <Token>"; empty sends none
	// (Kimi-cho needs none). It never appears in an error.
	Token string
	// Role is the rung's job, the start of the system prompt.
	Role string
	// Candidates > 1 asks for that many alternative patches in one answer.
	Candidates int
	// MaxReplyBytes bounds a response body. Default DefaultMaxReplyBytes.
	MaxReplyBytes int64
	// HTTPClient makes the requests; default one on http.DefaultTransport.
	// It is copied, never changed.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of a 429, a 5xx or a connection error
	// within one attempt. 0 means DefaultMaxRetries; negative means none.
	MaxRetries int
}

// OpenAI is the openai backend: one chat completion per attempt from any
// OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Kimi, ...). It holds
// no state between attempts and is safe for concurrent use.
type OpenAI struct {
	r          *remote
	model      string
	system     string
	candidates int
	chat       openai.ChatCompletionService
}

var _ razar.Agent = (*OpenAI)(nil)

// NewOpenAI returns the openai backend described by cfg. A missing name or
// endpoint, an endpoint that is not an http(s) URL, or a negative
// MaxReplyBytes fails with an error wrapping razar.ErrInvalidConfig; no
// error holds the token.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	r, _, err := newRemote("openai agent", cfg.Name, cfg.Endpoint, cfg.Token, cfg.MaxReplyBytes, cfg.HTTPClient, cfg.MaxRetries)
	if err != nil {
		return nil, err
	}
	model := cfg.Model
	if model == "" {
		model = "default"
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.Endpoint),
		option.WithHTTPClient(r.client),
		option.WithMaxRetries(0), // retry() retries, within the attempt's deadline
	}
	if cfg.Token != "" {
		opts = append(opts, option.WithAPIKey(cfg.Token))
	}
	return &OpenAI{
		r:          r,
		model:      model,
		system:     openAISystemPrompt(cfg.Role, cfg.Candidates),
		candidates: max(cfg.Candidates, 0),
		// The service alone, not openai.NewClient: the client reads
		// OPENAI_API_KEY, OPENAI_BASE_URL and more from the environment,
		// which would send an operator's OpenAI key to an endpoint that
		// needs none, or send the request elsewhere.
		chat: openai.NewChatCompletionService(opts...),
	}, nil
}

// openAISystemPrompt is the rung's role followed by the answer format.
func openAISystemPrompt(role string, candidates int) string {
	const head = "Answer with ONLY one JSON object, no prose or code fence before or after it:\n"
	const status = `- status: "fixed" when you propose a repair, "no_fix" when you cannot, "error" when you could not work on the task.` + "\n"
	const diff = `a git-style unified diff ("--- a/<path>", "+++ b/<path>", "@@" hunks) with paths relative to the component's workdir; it must not touch anything outside the workdir`
	var b strings.Builder
	if role = strings.TrimSpace(role); role != "" {
		b.WriteString(role)
		b.WriteString("\n\n")
	}
	b.WriteString(head)
	if candidates > 1 {
		b.WriteString(`{"status": "fixed|no_fix|error", "summary": "...", "candidates": [{"summary": "...", "diff": "..."}, ...]}` + "\n")
		b.WriteString(status)
		b.WriteString("- summary: the cause of the failure, in one or two sentences.\n")
		fmt.Fprintf(&b, "- candidates: exactly %d alternative repairs, the most likely first. Each summary says what that repair changes; each diff is %s. Use [] when status is not \"fixed\".\n", candidates, diff)
	} else {
		b.WriteString(`{"status": "fixed|no_fix|error", "summary": "...", "diff": "..."}` + "\n")
		b.WriteString(status)
		b.WriteString("- summary: the cause of the failure and your repair, in one or two sentences.\n")
		fmt.Fprintf(&b, "- diff: %s. Use \"\" when you propose no change.\n", diff)
	}
	return b.String()
}

// openAIHistory is one earlier attempt as the model sees it.
type openAIHistory struct {
	Attempt int           `json:"attempt"`
	Rung    string        `json:"rung"`
	Outcome razar.Outcome `json:"outcome"`
	Error   string        `json:"error,omitempty"`
	Summary string        `json:"summary,omitempty"`
	Diff    string        `json:"diff,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	// A shortened attempt is one line: its diff's size and hash only.
	DiffBytes  int    `json:"diff_bytes,omitempty"`
	DiffSHA256 string `json:"diff_sha256,omitempty"`
	Shortened  bool   `json:"shortened,omitempty"`
}

// openAIUserPrompt describes the failure and every earlier attempt.
func openAIUserPrompt(t razar.Task) string {
	var b strings.Builder
	b.WriteString("A component failed. Propose a repair.\n\n")
	fmt.Fprintf(&b, "component: %s\n", t.Component)
	if t.Workdir != "" {
		fmt.Fprintf(&b, "workdir: %s\n", t.Workdir)
	}
	fmt.Fprintf(&b, "attempt: %d (pass %d)\n", t.Attempt, t.Pass)
	fmt.Fprintf(&b, "error:\n%s\n\n", strings.TrimSpace(t.Error))
	if len(t.History) == 0 {
		b.WriteString("earlier attempts: none\n")
		return b.String()
	}
	hist := make([]openAIHistory, len(t.History))
	for i, a := range t.History {
		hist[i] = openAIHistory{Attempt: a.Number, Rung: a.Rung, Outcome: a.Outcome, Error: a.Error, Summary: a.Summary, Diff: a.Diff, Reason: a.Reason,
			DiffBytes: a.DiffBytes, DiffSHA256: a.DiffSHA256, Shortened: a.Shortened}
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false) // diffs hold < > &; keep them readable
	_ = enc.Encode(hist)     // strings and ints only: cannot fail
	b.WriteString("earlier attempts, oldest first (JSON; do not repeat a rejected diff):\n")
	b.WriteString(shortenedNote(t))
	b.Write(js.Bytes())
	return b.String()
}

// Repair asks the model for a fix: one chat completion with the rung's
// role and the answer format as the system message, the failure and its
// history as the user message. The answer is a JSON object
// {"status", "summary", "diff"} (with Candidates > 1, "candidates" instead
// of "diff"), bare, in a ```json fence, or the last such object in the text.
//
// With no deadline on ctx, t.Deadline applies, else razar.DefaultAgentTimeout.
// A 429, a 5xx or a connection error is retried (200 ms, doubling, or the
// server's Retry-After) while a retry can start before the deadline.
//
// Every error names the agent and never holds the token. Repair fails when
// the deadline passes ("timed out after ...", matching
// context.DeadlineExceeded) or ctx is cancelled (matching context.Canceled);
// on a non-2xx status it gave up on (a *StatusError: "HTTP 401 Unauthorized
// from <host>"); on a connection error it gave up on; when the body exceeds
// MaxReplyBytes ("reply over N bytes"); and when the answer holds no usable
// object (what was wrong, quoting at most 80 characters).
func (o *OpenAI) Repair(ctx context.Context, t razar.Task) (razar.Fix, error) {
	ctx, cancel, limit := attemptContext(ctx, t)
	defer cancel()
	params := openai.ChatCompletionNewParams{
		Model: o.model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(o.system),
			openai.UserMessage(openAIUserPrompt(t)),
		},
	}
	var fix razar.Fix
	err := o.r.retry(ctx, limit, func(ctx context.Context) error {
		var err error
		fix, err = o.once(ctx, params)
		return err
	})
	if err != nil {
		return razar.Fix{}, o.r.fail(err)
	}
	return fix, nil
}

// once is one request and the parse of its answer.
func (o *OpenAI) once(ctx context.Context, params openai.ChatCompletionNewParams) (razar.Fix, error) {
	var res *http.Response
	comp, err := o.chat.New(ctx, params, option.WithResponseInto(&res))
	if err != nil {
		var tl *replyTooLargeError
		switch {
		case ctx.Err() != nil:
			return razar.Fix{}, ctx.Err()
		case errors.As(err, &tl):
			return razar.Fix{}, tl
		case res != nil && res.StatusCode >= 300:
			// The client has read the body and put it back for us.
			return razar.Fix{}, o.r.statusErr(res)
		case res == nil:
			return razar.Fix{}, o.r.transportErr(ctx, err)
		}
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
			return razar.Fix{}, fmt.Errorf("reply is not a chat completion: Content-Type %s, want application/json", quoteCut(ct))
		}
		return razar.Fix{}, fmt.Errorf("reply is not a chat completion: %s", quoteCut(err.Error()))
	}
	if len(comp.Choices) == 0 {
		return razar.Fix{}, errors.New("reply has no choices")
	}
	choice := comp.Choices[0]
	content := choice.Message.Content
	if strings.TrimSpace(content) == "" && choice.Message.Refusal != "" {
		return razar.Fix{}, fmt.Errorf("model refused: %s", quoteCut(choice.Message.Refusal))
	}
	fix, err := parseChatReply(content, o.candidates)
	if err != nil && choice.FinishReason == "length" {
		err = fmt.Errorf(`%w (finish_reason "length": the answer was cut off at the model's token limit)`, err)
	}
	return fix, err
}

// parseChatReply finds the reply object in a model's answer: the whole
// answer, else the last ``` fenced block that is one, else the last
// top-level {...} object in the text; the first of these with a valid
// status wins. With candidates > 1 at most that many candidates are kept.
// The error says what was wrong; it never panics.
func parseChatReply(content string, candidates int) (razar.Fix, error) {
	text := strings.TrimSpace(content)
	if text == "" {
		return razar.Fix{}, errors.New(`empty reply (want one JSON object {"status": "fixed"|"no_fix"|"error", ...})`)
	}
	var badStatus error // the first object whose status was wrong
	try := func(s string) (razar.Fix, bool) {
		var r remoteReply
		if json.Unmarshal([]byte(s), &r) != nil {
			return razar.Fix{}, false
		}
		if err := statusProblem(r.Status); err != nil {
			if badStatus == nil {
				badStatus = err
			}
			return razar.Fix{}, false
		}
		return r.fix(candidates), true
	}
	if strings.HasPrefix(text, "{") {
		if fix, ok := try(text); ok {
			return fix, nil
		}
	}
	blocks := fencedBlocks(text)
	for i := len(blocks) - 1; i >= 0; i-- {
		if fix, ok := try(blocks[i]); ok {
			return fix, nil
		}
	}
	objs := jsonObjects(text, openAIMaxObjectFails)
	for i := len(objs) - 1; i >= 0; i-- {
		if fix, ok := try(objs[i]); ok {
			return fix, nil
		}
	}
	if badStatus != nil {
		return razar.Fix{}, badStatus
	}
	return razar.Fix{}, fmt.Errorf("reply is not JSON: %s", quoteCut(text))
}

// fencedBlocks returns the trimmed bodies of the ``` fenced blocks in text,
// whatever their language tag; an unclosed last block runs to the end.
func fencedBlocks(text string) []string {
	var blocks []string
	var cur []string
	in := false
	for line := range strings.Lines(text) {
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "```") {
			if in {
				cur = append(cur, line)
			}
			continue
		}
		if in {
			blocks = append(blocks, strings.TrimSpace(strings.Join(cur, "")))
			cur, in = nil, false
			continue
		}
		in = true
	}
	if in && len(cur) > 0 {
		blocks = append(blocks, strings.TrimSpace(strings.Join(cur, "")))
	}
	return blocks
}

// jsonObjects returns the top-level JSON objects in text, in order: from
// each '{' it decodes one value and, on success, carries on after it. After
// maxFails braces that start no value it stops.
func jsonObjects(text string, maxFails int) []string {
	var objs []string
	for i, fails := 0, 0; i < len(text); {
		j := strings.IndexByte(text[i:], '{')
		if j < 0 {
			break
		}
		start := i + j
		dec := json.NewDecoder(strings.NewReader(text[start:]))
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			if fails++; fails >= maxFails {
				break
			}
			i = start + 1
			continue
		}
		end := start + int(dec.InputOffset())
		objs = append(objs, text[start:end])
		i = end
	}
	return objs
}
