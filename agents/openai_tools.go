package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/shared"

	"github.com/razar/razar"
)

// maxToolMessage bounds one tool result sent back to the model; the
// orchestrator's own caps are lower, this is the backend's last word.
const maxToolMessage = 32 << 10

// checkMargin is the time a check of the final diff must leave before the
// attempt's deadline: RAZAR's own placement and validation follow it.
const checkMargin = 2 * time.Second

// openAITools are the rung's tools as chat-completions functions; their
// arguments are razar.ToolRequest's fields.
var openAITools = []openai.ChatCompletionToolUnionParam{
	tool(razar.ToolList, "List the component's workdir: path, size, modified time. Denied and binary files are left out.",
		props{"glob": {"type": "string", "description": "a glob over workdir-relative paths, e.g. \"*.conf\" or \"config/**\"; empty lists everything"}}),
	tool(razar.ToolRead, "Read a text file of the workdir, with numbered lines.",
		props{
			"path": {"type": "string", "description": "the file's path relative to the workdir"},
			"from": {"type": "integer", "description": "first line, from 1; 0 reads from the start"},
			"to":   {"type": "integer", "description": "last line, inclusive; 0 reads to the end"},
		}, "path"),
	tool(razar.ToolSearch, "Search the workdir's text files for a regular expression (RE2); answers path, line and text of each match, bounded.",
		props{
			"pattern": {"type": "string", "description": "an RE2 regular expression"},
			"glob":    {"type": "string", "description": "only files whose path matches this glob"},
		}, "pattern"),
	tool(razar.ToolLog, "The component's log (logs/components/<name>.log): its tail, or the lines matching a pattern.",
		props{
			"lines":   {"type": "integer", "description": "how many lines of the tail"},
			"pattern": {"type": "string", "description": "an RE2 regular expression: only matching lines"},
		}),
	tool(razar.ToolAttempt, "An earlier attempt of this incident in full: its rung, outcome, error, summary, diff and why it was rejected.",
		props{"attempt": {"type": "integer", "description": "the attempt's number"}}, "attempt"),
	tool(razar.ToolCheck, "Place a diff in a staged copy of the workdir and run the component's validator there. Answers whether it applied and validated, how each hunk was placed, and why not. The component is not touched.",
		props{"diff": {"type": "string", "description": "a unified diff, or search/replace blocks, with workdir-relative paths"}}, "diff"),
}

type props map[string]map[string]string

func tool(name, desc string, p props, required ...string) openai.ChatCompletionToolUnionParam {
	properties := map[string]any{}
	for k, v := range p {
		properties[k] = v
	}
	params := shared.FunctionParameters{"type": "object", "properties": properties}
	if len(required) > 0 {
		params["required"] = required
	}
	return openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name: name, Description: openai.String(desc), Parameters: params,
	})
}

// toolsRefusedError is a server that will not take the tools parameter:
// an HTTP 4xx or 5xx (not 429) whose message is about tools or functions
// (Ollama: "does not support tools"; vLLM: "auto tool choice requires
// --enable-auto-tool-choice"; llama-server: "tools param requires
// --jinja"). The attempt goes on with the workspace-only prompt.
type toolsRefusedError struct{ err *StatusError }

func (e *toolsRefusedError) Error() string { return "the endpoint refused tools: " + e.err.Error() }
func (e *toolsRefusedError) Unwrap() error { return e.err }

func refusesTools(se *StatusError) bool {
	if se.Code < 400 || se.Code == http.StatusTooManyRequests {
		return false
	}
	d := strings.ToLower(se.Detail)
	return strings.Contains(d, "tool") || strings.Contains(d, "function")
}

// Repair asks the model for a fix. The system message is the rung's role
// and the answer format; the user message the failure, the workspace (the
// component's entry, its log's tail, the workdir's listing and the files
// that matter) and the incident's history. The answer is a JSON object
// {"status", "summary", "diff"} (with Candidates > 1, "candidates" instead
// of "diff"), bare, in a ```json fence, or the last such object in the
// text; a bare unified diff or search/replace blocks count as "fixed".
//
// With t.Tools set (and MaxTurns not negative), the model is offered the
// tools list, read, search, log, attempt and check through function
// calling: its calls are run through t.Tools and their answers sent back,
// until it answers. An answer that cannot be read, or whose diff does not
// place or validate (checked with the check tool when the model did not
// check that very diff), is sent back with the reason, while turns are
// left (MaxTurns, default 8) and the deadline allows. A model that keeps
// calling tools past its turns fails the attempt. A server that refuses
// the tools parameter gets the workspace-only prompt, one completion.
//
// With no deadline on ctx, t.Deadline applies, else config.DefaultAgentTimeout.
// A 429, a 5xx or a connection error is retried (200 ms, doubling, or the
// server's Retry-After) while a retry can start before the deadline.
//
// The returned Fix's Usage sums the token usage of every response, also
// when Repair fails. Every error names the agent and never holds the
// token. Repair fails when the deadline passes ("timed out after ...",
// matching context.DeadlineExceeded) or ctx is cancelled (matching
// context.Canceled); on a non-2xx status it gave up on (a *StatusError:
// "HTTP 401 Unauthorized from <host>"); on a connection error it gave up
// on; when a body exceeds MaxReplyBytes ("reply over N bytes"); when the
// answer holds no usable object (what was wrong, quoting at most 80
// characters); and when the model kept calling tools past its turns.
func (o *OpenAI) Repair(ctx context.Context, t razar.Task) (razar.Fix, error) {
	ctx, cancel, limit := attemptContext(ctx, t)
	defer cancel()
	s := &chatSession{o: o, t: t, limit: limit}
	tools := t.Tools != nil && o.maxTurns > 0
	fix, err := s.run(ctx, tools)
	var refused *toolsRefusedError
	if tools && errors.As(err, &refused) {
		fix, err = s.run(ctx, false)
	}
	if err != nil {
		return razar.Fix{Usage: s.usage}, o.r.fail(err)
	}
	fix.Usage = s.usage
	return fix, nil
}

// chatSession is one attempt's conversation.
type chatSession struct {
	o     *OpenAI
	t     razar.Task
	limit time.Duration
	usage razar.Usage
}

// run converses until the model answers; with tools it may take turns.
func (s *chatSession) run(ctx context.Context, tools bool) (razar.Fix, error) {
	o := s.o
	params := s.opening(tools)
	var turns toolTurns
	checked := map[string]string{} // diff -> why it did not hold ("" it did)
	for {
		comp, err := s.complete(ctx, params)
		if err != nil {
			return razar.Fix{}, err
		}
		msg := comp.Choices[0].Message
		if len(msg.ToolCalls) > 0 && tools {
			if err := s.toolTurn(ctx, &params, msg, &turns, checked); err != nil {
				return razar.Fix{}, err
			}
			continue
		}
		fix, err := finalAnswer(comp, o.candidates)
		if err != nil {
			if !tools || turns.used >= o.maxTurns {
				return razar.Fix{}, err
			}
			turns.used++
			params.Messages = append(params.Messages, assistantParam(msg),
				openai.UserMessage(fmt.Sprintf("RAZAR could not read your answer: %v. Answer with only the JSON object {\"status\", \"summary\", \"diff\"}.", err)))
			continue
		}
		if !tools || fix.Status != razar.StatusFixed || strings.TrimSpace(fix.Diff) == "" || turns.used >= o.maxTurns {
			return fix, nil
		}
		why := s.diffVerdict(ctx, fix.Diff, checked)
		if why == "" {
			return fix, nil
		}
		turns.used++
		params.Messages = append(params.Messages, assistantParam(msg),
			openai.UserMessage("RAZAR placed your diff in a staged copy of the workdir and it did not hold: "+why+
				"\nCorrect it (read the file again if you need to) and answer again with the JSON object."))
	}
}

// toolTurns counts one conversation's turns: used is how many the model
// took, pastBudget that it already called tools after they were spent.
type toolTurns struct {
	used       int
	pastBudget bool
}

// opening is the conversation's first request: the system prompt (the
// tools one with tools) and the task.
func (s *chatSession) opening(tools bool) openai.ChatCompletionNewParams {
	o := s.o
	system := o.system
	if tools {
		system = o.systemTools
	}
	params := openai.ChatCompletionNewParams{
		Model: o.model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(system),
			openai.UserMessage(openAIUserPrompt(s.t, tools)),
		},
	}
	if tools {
		params.Tools = openAITools
	}
	return params
}

// toolTurn answers the model's tool calls in msg: runs them while turns
// are left, else tells it once to answer now, and fails when it keeps
// calling.
func (s *chatSession) toolTurn(ctx context.Context, params *openai.ChatCompletionNewParams, msg openai.ChatCompletionMessage, turns *toolTurns, checked map[string]string) error {
	o := s.o
	params.Messages = append(params.Messages, assistantParam(msg))
	if turns.used >= o.maxTurns {
		if turns.pastBudget {
			return fmt.Errorf("the model kept calling tools after its %d tool turns were spent", o.maxTurns)
		}
		turns.pastBudget = true
		for _, c := range msg.ToolCalls {
			params.Messages = append(params.Messages, openai.ToolMessage(
				fmt.Sprintf("not run: your %d tool turns are spent; answer now with the JSON object", o.maxTurns), c.ID))
		}
		return nil
	}
	turns.used++
	for _, c := range msg.ToolCalls {
		text, err := s.call(ctx, c, checked)
		if err != nil {
			return err
		}
		params.Messages = append(params.Messages, openai.ToolMessage(text, c.ID))
	}
	return nil
}

// diffVerdict is why the answered diff did not hold, from the model's own
// check of it or a check RAZAR runs now; "" when it held, or when there is
// no time or no answer to check it: RAZAR then judges it as it is.
func (s *chatSession) diffVerdict(ctx context.Context, diff string, checked map[string]string) string {
	if why, ok := checked[diff]; ok {
		return why
	}
	if dl, has := ctx.Deadline(); has && time.Until(dl) < checkMargin {
		return "" // no time to check
	}
	rep, err := s.t.Tools.Call(ctx, razar.ToolRequest{Op: razar.ToolCheck, Diff: diff})
	if err != nil || !rep.OK {
		return "" // no answer, or refused
	}
	return checkVerdict(rep)
}

// complete is one chat completion, retried, its usage counted.
func (s *chatSession) complete(ctx context.Context, params openai.ChatCompletionNewParams) (*openai.ChatCompletion, error) {
	var comp *openai.ChatCompletion
	err := s.o.r.retry(ctx, s.limit, func(ctx context.Context) error {
		var err error
		comp, err = s.o.once(ctx, params)
		if err != nil {
			var se *StatusError
			if len(params.Tools) > 0 && errors.As(err, &se) && refusesTools(se) {
				return &toolsRefusedError{se}
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	s.usage = s.usage.Add(razar.Usage{Prompt: comp.Usage.PromptTokens, Completion: comp.Usage.CompletionTokens})
	return comp, nil
}

// finalAnswer reads the model's final answer out of a completion.
func finalAnswer(comp *openai.ChatCompletion, candidates int) (razar.Fix, error) {
	choice := comp.Choices[0]
	content := choice.Message.Content
	if strings.TrimSpace(content) == "" && choice.Message.Refusal != "" {
		return razar.Fix{}, fmt.Errorf("model refused: %s", quoteCut(choice.Message.Refusal))
	}
	return parseAnswer(content, choice.FinishReason, candidates)
}

// call runs one tool call and returns the text sent back to the model. It
// fails only when ctx ends; a refusal, bad arguments or a bus without an
// answer are told to the model.
func (s *chatSession) call(ctx context.Context, c openai.ChatCompletionMessageToolCallUnion, checked map[string]string) (string, error) {
	name := c.Function.Name
	known := false
	for _, op := range []string{razar.ToolList, razar.ToolRead, razar.ToolSearch, razar.ToolLog, razar.ToolAttempt, razar.ToolCheck} {
		known = known || name == op
	}
	if !known {
		return fmt.Sprintf("no tool %s: the tools are list, read, search, log, attempt and check", quoteCut(name)), nil
	}
	var req razar.ToolRequest
	if args := strings.TrimSpace(c.Function.Arguments); args != "" {
		if err := json.Unmarshal([]byte(args), &req); err != nil {
			return fmt.Sprintf("the arguments of %s are not a JSON object of its parameters: %s", name, quoteCut(err.Error())), nil
		}
	}
	req.Op = name
	rep, err := s.t.Tools.Call(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "RAZAR did not answer this call: " + quoteCut(err.Error()), nil
	}
	if name == razar.ToolCheck && rep.OK {
		checked[req.Diff] = checkVerdict(rep)
	}
	return cutText(toolText(req, rep), maxToolMessage), nil
}

// checkVerdict is why a check's diff did not hold, "" when it placed and
// validated.
func checkVerdict(rep razar.ToolReply) string {
	if rep.OK && rep.Applied && rep.Validated {
		return ""
	}
	why := strings.TrimSpace(rep.Error)
	if why == "" {
		why = strings.TrimSpace(rep.Text)
	}
	switch {
	case why != "":
	case !rep.Applied:
		why = "the diff did not apply"
	default:
		why = "the validator failed"
	}
	return why
}

// toolText renders a tool's answer for the model: plain text, the way a
// file viewer shows it.
func toolText(req razar.ToolRequest, rep razar.ToolReply) string {
	var b strings.Builder
	if !rep.OK {
		fmt.Fprintf(&b, "refused: %s\n", rep.Error)
		fmt.Fprintf(&b, "(calls left: %d)\n", rep.CallsLeft)
		return b.String()
	}
	switch req.Op {
	case razar.ToolList:
		for _, e := range rep.Entries {
			if e.Dir {
				fmt.Fprintf(&b, "%s/\n", strings.TrimSuffix(e.Path, "/"))
				continue
			}
			fmt.Fprintf(&b, "%s %d\n", e.Path, e.Size)
		}
		if len(rep.Entries) == 0 {
			b.WriteString("no files match\n")
		}
	case razar.ToolSearch:
		for _, m := range rep.Matches {
			fmt.Fprintf(&b, "%s:%d: %s\n", m.Path, m.Line, m.Text)
		}
		if len(rep.Matches) == 0 {
			b.WriteString("no matches\n")
		}
	case razar.ToolAttempt:
		if rep.Attempt != nil {
			a := rep.Attempt
			h := openAIHistory{Attempt: a.Number, Rung: a.Rung, Outcome: a.Outcome, Error: a.Error, Summary: a.Summary, Diff: a.Diff, Reason: a.Reason}
			js, _ := compactJSON(h)
			b.WriteString(js)
		}
	case razar.ToolCheck:
		fmt.Fprintf(&b, "applied: %t\nvalidated: %t\n", rep.Applied, rep.Validated)
		for _, p := range rep.Placement {
			fmt.Fprintf(&b, "placement: %s\n", p)
		}
		if rep.Error != "" {
			fmt.Fprintf(&b, "why: %s\n", rep.Error)
		}
	}
	if rep.Text != "" {
		if req.Op == razar.ToolRead && req.Path != "" {
			fmt.Fprintf(&b, "%s:\n", req.Path)
		}
		b.WriteString(rep.Text)
		if !strings.HasSuffix(rep.Text, "\n") {
			b.WriteString("\n")
		}
	}
	if rep.Truncated {
		b.WriteString("(cut at the byte cap: ask for a narrower range)\n")
	}
	fmt.Fprintf(&b, "(calls left: %d)\n", rep.CallsLeft)
	return b.String()
}

// cutText cuts s to at most n bytes, on a line boundary when it can.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	if i := strings.LastIndexByte(s, '\n'); i > 0 {
		s = s[:i+1]
	}
	return s + "(cut: the answer was over " + fmt.Sprint(n) + " bytes)\n"
}

// assistantParam is a model's message as it goes back into the
// conversation: its text and its tool calls.
func assistantParam(m openai.ChatCompletionMessage) openai.ChatCompletionMessageParamUnion {
	var a openai.ChatCompletionAssistantMessageParam
	if m.Content != "" {
		a.Content.OfString = param.NewOpt(m.Content)
	}
	for _, c := range m.ToolCalls {
		a.ToolCalls = append(a.ToolCalls, c.ToParam())
	}
	return openai.ChatCompletionMessageParamUnion{OfAssistant: &a}
}

// once is one request. It fails as the package's errors say; a reply
// without choices fails too.
func (o *OpenAI) once(ctx context.Context, params openai.ChatCompletionNewParams) (*openai.ChatCompletion, error) {
	var res *http.Response
	comp, err := o.chat.New(ctx, params, option.WithResponseInto(&res))
	if err != nil {
		var tl *replyTooLargeError
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &tl):
			return nil, tl
		case res != nil && res.StatusCode >= 300:
			// The client has read the body and put it back for us.
			return nil, o.r.statusErr(res)
		case res == nil:
			return nil, o.r.transportErr(ctx, err)
		}
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
			return nil, fmt.Errorf("reply is not a chat completion: Content-Type %s, want application/json", quoteCut(ct))
		}
		return nil, fmt.Errorf("reply is not a chat completion: %s", quoteCut(err.Error()))
	}
	if len(comp.Choices) == 0 {
		return nil, errors.New("reply has no choices")
	}
	return comp, nil
}
