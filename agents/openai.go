package agents

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/razar/razar"
	"github.com/razar/razar/internal/cut"
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
	// MaxTurns bounds the tool turns of one attempt (the roster's
	// "max_turns"): answers that call tools, and answers RAZAR sends back
	// because they could not be read or their diff did not place or
	// validate. 0 means DefaultMaxTurns; negative offers no tools.
	MaxTurns int
}

// DefaultMaxTurns is how many tool turns an attempt may take when the
// roster does not say.
const DefaultMaxTurns = 8

// OpenAI is the openai backend: one chat completion per attempt from any
// OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Kimi, ...). It holds
// no state between attempts and is safe for concurrent use.
type OpenAI struct {
	r          *remote
	model      string
	system     string
	candidates int
	maxTurns   int
	// systemTools is the system prompt when the model is offered tools.
	systemTools string
	chat        openai.ChatCompletionService
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
	turns := cfg.MaxTurns
	switch {
	case turns == 0:
		turns = DefaultMaxTurns
	case turns < 0:
		turns = 0
	}
	return &OpenAI{
		r:           r,
		model:       model,
		system:      openAISystemPrompt(cfg.Role, cfg.Candidates, false),
		candidates:  max(cfg.Candidates, 0),
		maxTurns:    turns,
		systemTools: openAISystemPrompt(cfg.Role, cfg.Candidates, true),
		// The service alone, not openai.NewClient: the client reads
		// OPENAI_API_KEY, OPENAI_BASE_URL and more from the environment,
		// which would send an operator's OpenAI key to an endpoint that
		// needs none, or send the request elsewhere.
		chat: openai.NewChatCompletionService(opts...),
	}, nil
}

// openAISystemPrompt is the rung's role followed by the answer format and,
// with tools, how to use them.
func openAISystemPrompt(role string, candidates int, tools bool) string {
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
	b.WriteString("Instead of a diff you may give search/replace blocks: the file's path on a line, then \"<<<<<<< SEARCH\", the exact lines to replace, \"=======\", the new lines, \">>>>>>> REPLACE\".\n")
	if tools {
		b.WriteString("\nYou may call the tools before you answer: list (the workdir's files), read (a file, or a range of its lines), search (a regular expression over the workdir's text files), log (the component's log), attempt (an earlier attempt in full) and check (place your diff in a staged copy of the workdir and run the component's validator). Read a file before you change it, check your diff, then answer with the JSON object. Nothing you do touches the component: RAZAR places and validates your final diff itself.\n")
	}
	return b.String()
}

// parseAnswer is parseChatReply with a note when the answer was cut off at
// the model's token limit.
func parseAnswer(content, finishReason string, candidates int) (razar.Fix, error) {
	fix, err := parseChatReply(content, candidates)
	if err != nil && finishReason == "length" {
		err = fmt.Errorf(`%w (finish_reason "length": the answer was cut off at the model's token limit)`, err)
	}
	return fix, err
}

// parseChatReply finds the reply object in a model's answer: the whole
// answer, else the last ``` fenced block that is one, else the last
// top-level {...} object in the text; the first of these with a valid
// status wins. Without such an object, an answer that holds a unified
// diff (bare or fenced) or search/replace blocks is a "fixed" reply with
// that text as its diff (placing it is the patch engine's work) and the
// prose before it as its summary. With candidates > 1 at most that many
// candidates are kept. The error says what was wrong; it never panics.
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
	if fix, ok := bareDiff(text); ok {
		return fix, nil
	}
	return razar.Fix{}, fmt.Errorf("reply is not JSON: %s", quoteCut(text))
}

// bareDiff finds a diff in an answer that is not a JSON object: the last
// ``` block holding a unified diff, else the answer from its first
// "diff --git" or "--- " line followed by "+++ ", else its search/replace
// blocks (from the path line before the first "<<<<<<< SEARCH" to the last
// ">>>>>>> REPLACE", fence lines dropped). The prose before it, first line
// only, is the summary.
func bareDiff(text string) (razar.Fix, bool) {
	fix := func(diff string, at int) (razar.Fix, bool) {
		summary := strings.TrimSpace(text[:at])
		summary = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cut.FirstLine(summary)), "```diff"))
		if !strings.HasSuffix(diff, "\n") {
			diff += "\n"
		}
		return razar.Fix{Status: razar.StatusFixed, Summary: strings.TrimSuffix(summary, ":"), Diff: diff}, true
	}
	if i := strings.Index(text, "<<<<<<< SEARCH"); i >= 0 {
		j := strings.LastIndex(text, ">>>>>>> REPLACE")
		if j < i {
			return razar.Fix{}, false
		}
		// The path is the last non-fence line before the first block.
		start := strings.LastIndexByte(strings.TrimRight(text[:i], "\n"), '\n') + 1
		for start > 0 && strings.HasPrefix(strings.TrimSpace(text[start:i]), "```") {
			start = strings.LastIndexByte(strings.TrimRight(text[:start], "\n"), '\n') + 1
		}
		var kept []string
		for line := range strings.Lines(text[start : j+len(">>>>>>> REPLACE")]) {
			if !strings.HasPrefix(strings.TrimSpace(line), "```") {
				kept = append(kept, line)
			}
		}
		return fix(strings.Join(kept, ""), start)
	}
	blocks := fencedBlocks(text)
	for i := len(blocks) - 1; i >= 0; i-- {
		if isUnifiedDiff(blocks[i]) {
			return fix(blocks[i], strings.Index(text, "```"))
		}
	}
	for _, head := range []string{"diff --git ", "--- "} {
		at := 0
		if !strings.HasPrefix(text, head) {
			if at = strings.Index(text, "\n"+head); at < 0 {
				continue
			}
			at++
		}
		if body := text[at:]; isUnifiedDiff(body) {
			if k := strings.Index(body, "\n```"); k >= 0 {
				body = body[:k+1]
			}
			return fix(body, at)
		}
	}
	return razar.Fix{}, false
}

// isUnifiedDiff reports whether s holds a file header pair and a hunk.
func isUnifiedDiff(s string) bool {
	return strings.Contains(s, "+++ ") && (strings.HasPrefix(s, "--- ") || strings.HasPrefix(s, "diff --git ") || strings.Contains(s, "\n--- ")) && strings.Contains(s, "@@")
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
