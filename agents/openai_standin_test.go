package agents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/internal/standin"
	"github.com/razar/razar/patch"
)

// failure is one broken component of the corpus the openai backend is
// tested on: its workdir's files, its entry, the error RAZAR saw, and what
// its repaired file must hold.
type failure struct {
	name     string
	files    map[string]string
	command  []string
	health   *razar.HealthCheck
	validate []string
	err      string
	// shown are the files the workspace-only prompt carries (the
	// workspace's relevant files).
	shown []string
	// fixed is a file and a line it must hold once repaired.
	fixedFile, fixedLine string
	needs                string // a program the validator needs
}

var failures = []failure{
	{
		name: "config key typo",
		files: map[string]string{
			"ledger.conf": "# ledger settings\nlisten=127.0.0.1\nprot=8450\n",
			"check.sh":    "#!/bin/sh\ngrep -q '^listen=' ledger.conf || { echo 'ledger.conf: no listen address' >&2; exit 1; }\ngrep -Eq '^port=[0-9]+$' ledger.conf || { echo 'ledger.conf: port missing or not a number' >&2; exit 1; }\n",
			"ledger.sh":   "#!/bin/sh\nsh ./check.sh || exit 1\nexec sleep 1000\n",
		},
		command: []string{"sh", "./ledger.sh"}, validate: []string{"sh", "./check.sh"},
		err:   "ledger exited with status 1\n--- last output of ledger ---\nledger.conf: port missing or not a number",
		shown: []string{"ledger.conf", "check.sh", "ledger.sh"}, fixedFile: "ledger.conf", fixedLine: "port=8450",
	},
	{
		name: "python syntax error",
		files: map[string]string{
			"app.py": "import sys\n\ndef main()\n    print(\"up\")\n    return 0\n\nif __name__ == \"__main__\":\n    sys.exit(main())\n",
		},
		command: []string{"python3", "app.py"}, validate: []string{"python3", "-m", "py_compile", "app.py"},
		err:   "api exited with status 1\n--- last output of api ---\n  File \"app.py\", line 3\n    def main()\n              ^\nSyntaxError: expected ':'",
		shown: []string{"app.py"}, fixedFile: "app.py", fixedLine: "def main():", needs: "python3",
	},
	{
		name: "json trailing comma in a subdirectory",
		files: map[string]string{
			"config/settings.json": "{\n  \"port\": 8450,\n  \"name\": \"ledger\",\n}\n",
			"serve.sh":             "#!/bin/sh\njq -e . config/settings.json >/dev/null || { echo 'settings.json: invalid JSON' >&2; exit 1; }\nexec sleep 1000\n",
		},
		command: []string{"sh", "./serve.sh"}, validate: []string{"jq", "-e", ".", "config/settings.json"},
		err:   "web exited with status 1\n--- last output of web ---\njq: error (at config/settings.json:5): Objects must consist of key:value pairs at line 4, column 1\nsettings.json: invalid JSON",
		shown: []string{"config/settings.json", "serve.sh"}, fixedFile: "config/settings.json", fixedLine: "  \"name\": \"ledger\"", needs: "jq",
	},
	{
		name: "out-of-range port in a file the error does not name",
		files: map[string]string{
			"etc/net.ini": "[net]\nhost = 127.0.0.1\nport = 84500\n",
			"run.sh":      "#!/bin/sh\nsh ./check.sh || exit 1\nexec sleep 1000\n",
			"check.sh":    "#!/bin/sh\np=$(sed -n 's/^port *= *//p' etc/net.ini)\n[ \"$p\" -ge 1 ] && [ \"$p\" -le 65535 ] || { echo 'listen: port out of range' >&2; exit 1; }\n",
			"README.txt":  "The queue service.\n",
		},
		command: []string{"sh", "./run.sh"}, health: &razar.HealthCheck{HTTP: "http://127.0.0.1:8450/ready"}, validate: []string{"sh", "./check.sh"},
		err:   "queue exited with status 1\n--- last output of queue ---\nlisten: port out of range",
		shown: []string{"etc/net.ini", "run.sh", "check.sh"}, fixedFile: "etc/net.ini", fixedLine: "port = 8450",
	},
	{
		name: "shell script error",
		files: map[string]string{
			"run.sh":   "#!/bin/sh\nif [ ! -s data.txt ]; then\n  echo 'no data' >&2\n  exit 1\n\nexec sleep 1000\n",
			"data.txt": "42\n",
		},
		command: []string{"sh", "./run.sh"}, validate: []string{"sh", "-n", "run.sh"},
		err:   "worker exited with status 2\n--- last output of worker ---\n./run.sh: 7: Syntax error: end of file unexpected (expecting \"fi\")",
		shown: []string{"run.sh"}, fixedFile: "run.sh", fixedLine: "fi",
	},
}

// workdir writes f's files into a fresh directory.
func (f failure) workdir(t *testing.T) string {
	t.Helper()
	if f.needs != "" {
		if _, err := exec.LookPath(f.needs); err != nil {
			t.Skipf("%s is not installed: the validator of this failure needs it", f.needs)
		}
	}
	dir := t.TempDir()
	for p, text := range f.files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// workspace is what RAZAR shows a rung of f: the entry and the listing,
// and with files, the text of f.shown.
func (f failure) workspace(withFiles bool) *razar.Workspace {
	w := &razar.Workspace{
		Entry:  razar.WorkspaceEntry{Name: "svc", Command: f.command, HealthCheck: f.health, Validate: f.validate},
		Budget: 32 << 10,
	}
	paths := make([]string, 0, len(f.files))
	for p := range f.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		w.Listing = append(w.Listing, razar.FileInfo{Path: p, Size: int64(len(f.files[p]))})
	}
	if withFiles {
		for _, p := range f.shown {
			sum := sha256.Sum256([]byte(f.files[p]))
			w.Files = append(w.Files, razar.FileText{Path: p, Bytes: len(f.files[p]), SHA256: hex.EncodeToString(sum[:]), Text: f.files[p], Why: "relevant"})
		}
	}
	return w
}

// dirTools serve a rung's tools over a workdir the way the orchestrator
// does, for a unit test: read-only, inside the workdir, the check placed
// and validated in a staged copy by the patch engine. Every call is kept.
type dirTools struct {
	t        *testing.T
	dir      string
	validate []string
	log      string

	mu    sync.Mutex
	calls []razar.ToolRequest
}

func (d *dirTools) Call(ctx context.Context, req razar.ToolRequest) (razar.ToolReply, error) {
	d.mu.Lock()
	d.calls = append(d.calls, req)
	d.mu.Unlock()
	refuse := func(format string, args ...any) (razar.ToolReply, error) {
		return razar.ToolReply{Error: fmt.Sprintf(format, args...), CallsLeft: 10}, nil
	}
	inside := func(p string) (string, bool) {
		c := path.Clean("/" + p)[1:]
		return filepath.Join(d.dir, filepath.FromSlash(c)), c != "" && !strings.HasPrefix(p, "/") && !strings.Contains(p, "..")
	}
	switch req.Op {
	case razar.ToolList:
		var out []razar.FileInfo
		_ = filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(d.dir, p)
			rel = filepath.ToSlash(rel)
			if ok, _ := path.Match(req.Glob, rel); req.Glob == "" || ok {
				info, _ := e.Info()
				out = append(out, razar.FileInfo{Path: rel, Size: info.Size()})
			}
			return nil
		})
		return razar.ToolReply{OK: true, Entries: out, CallsLeft: 10}, nil
	case razar.ToolRead:
		full, ok := inside(req.Path)
		if !ok {
			return refuse("path %q is outside the workdir", req.Path)
		}
		b, err := os.ReadFile(full)
		if err != nil {
			return refuse("no file %s: list shows the workdir's files", req.Path)
		}
		var sb strings.Builder
		for i, l := range strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n") {
			n := i + 1
			if (req.From > 0 && n < req.From) || (req.To > 0 && n > req.To) {
				continue
			}
			fmt.Fprintf(&sb, "%6d\t%s", n, strings.TrimSuffix(l, "\n")+"\n")
		}
		return razar.ToolReply{OK: true, Text: sb.String(), CallsLeft: 10}, nil
	case razar.ToolSearch:
		re, err := regexp.Compile(req.Pattern)
		if err != nil {
			return refuse("pattern does not compile: %v", err)
		}
		var ms []razar.Match
		_ = filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(d.dir, p)
			b, _ := os.ReadFile(p)
			for i, l := range strings.Split(string(b), "\n") {
				if re.MatchString(l) {
					ms = append(ms, razar.Match{Path: filepath.ToSlash(rel), Line: i + 1, Text: l})
				}
			}
			return nil
		})
		return razar.ToolReply{OK: true, Matches: ms, CallsLeft: 10}, nil
	case razar.ToolLog:
		return razar.ToolReply{OK: true, Text: d.log, CallsLeft: 10}, nil
	case razar.ToolCheck:
		applied, validated, why := d.holds(ctx, req.Diff)
		return razar.ToolReply{OK: true, Applied: applied, Validated: validated, Error: why, CallsLeft: 10}, nil
	}
	return refuse("no operation %q", req.Op)
}

// holds places diff in a staged copy of the workdir and validates it there.
func (d *dirTools) holds(ctx context.Context, diff string) (applied, validated bool, why string) {
	plan, err := patch.Check(diff, d.dir, patch.Limits{})
	if err != nil {
		return false, false, err.Error()
	}
	stage, cleanup, err := patch.Stage(plan, d.dir, d.t.TempDir())
	if err != nil {
		return false, false, err.Error()
	}
	defer cleanup()
	if out, err := patch.Validate(ctx, d.validate, stage, nil, 20*time.Second); err != nil {
		return true, false, err.Error() + ": " + out
	}
	return true, true, ""
}

func (d *dirTools) ops() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, len(d.calls))
	for i, c := range d.calls {
		out[i] = c.Op + " " + c.Path + c.Pattern
	}
	return out
}

// standinOpenAI is the openai backend in front of the stand-in model.
func standinOpenAI(t *testing.T, cfg standin.Config, mod func(*OpenAIConfig)) *OpenAI {
	t.Helper()
	srv := httptest.NewServer(standin.New(cfg))
	t.Cleanup(srv.Close)
	c := OpenAIConfig{Name: "k2", Endpoint: srv.URL + "/v1", Model: "standin", Token: testToken, Role: "You are K2 Coder."}
	if mod != nil {
		mod(&c)
	}
	o, err := NewOpenAI(c)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// assertRepairs applies fix's diff to the workdir's staged copy, validates
// it, and checks the repaired file holds f.fixedLine.
func assertRepairs(t *testing.T, f failure, dir string, fix razar.Fix) {
	t.Helper()
	if fix.Status != razar.StatusFixed || fix.Diff == "" {
		t.Fatalf("Repair = %+v, want a fix", fix)
	}
	plan, err := patch.Check(fix.Diff, dir, patch.Limits{})
	if err != nil {
		t.Fatalf("the diff does not place: %v\n%s", err, fix.Diff)
	}
	stage, cleanup, err := patch.Stage(plan, dir, t.TempDir())
	if err != nil {
		t.Fatalf("the diff does not stage: %v\n%s", err, fix.Diff)
	}
	defer cleanup()
	if out, err := patch.Validate(t.Context(), f.validate, stage, nil, 20*time.Second); err != nil {
		t.Fatalf("the repaired copy does not validate: %v\n%s\n%s", err, out, fix.Diff)
	}
	b, _ := os.ReadFile(filepath.Join(stage, filepath.FromSlash(f.fixedFile)))
	if !strings.Contains("\n"+string(b), "\n"+f.fixedLine+"\n") {
		t.Errorf("%s after the fix:\n%s\nwant a line %q", f.fixedFile, b, f.fixedLine)
	}
	if fix.Usage.Prompt <= 0 || fix.Usage.Completion <= 0 {
		t.Errorf("Usage = %+v, want the tokens of every response summed", fix.Usage)
	}
}

func failureTask(f failure, dir string) razar.Task {
	return razar.Task{Incident: "inc-1", Component: "svc", Error: f.err, Attempt: 1, Pass: 1, Rung: "k2", Workdir: dir,
		Deadline: time.Now().Add(time.Minute)}
}

// TestOpenAIRepairsFromTheWorkspaceAlone: with no tools, the model is
// shown the files in the prompt, and that is enough for each failure of
// the corpus; the stand-in reads nothing else.
func TestOpenAIRepairsFromTheWorkspaceAlone(t *testing.T) {
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			dir := f.workdir(t)
			task := failureTask(f, dir)
			task.Workspace = f.workspace(true)
			fix, err := repairWithin(t, standinOpenAI(t, standin.Config{}, nil), task, 30*time.Second)
			if err != nil {
				t.Fatalf("Repair = %v", err)
			}
			assertRepairs(t, f, dir, fix)
		})
	}
}

// TestOpenAIRepairsWithTheTools: shown only the entry and the listing,
// the model reads, searches and checks through the tools, and repairs
// each failure; the file it fixed is one it read through them.
func TestOpenAIRepairsWithTheTools(t *testing.T) {
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			dir := f.workdir(t)
			tools := &dirTools{t: t, dir: dir, validate: f.validate}
			task := failureTask(f, dir)
			task.Workspace = f.workspace(false)
			task.Tools = tools
			fix, err := repairWithin(t, standinOpenAI(t, standin.Config{}, nil), task, 30*time.Second)
			if err != nil {
				t.Fatalf("Repair = %v (tool calls %q)", err, tools.ops())
			}
			assertRepairs(t, f, dir, fix)
			ops := tools.ops()
			t.Logf("tool calls: %q", ops)
			if !contains(ops, "read "+f.fixedFile) {
				t.Errorf("tool calls %q: the model fixed %s without reading it", ops, f.fixedFile)
			}
			if !contains(ops, "check ") {
				t.Errorf("tool calls %q: the final diff was never checked", ops)
			}
		})
	}
}

func contains(ops []string, op string) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// tap records what crosses the wire between the backend and a chat
// server: whether each request offered tools, and the usage each response
// reported.
type tap struct {
	next http.Handler
	mu   sync.Mutex
	// offered is, per request, whether it offered tools.
	offered []bool
	usage   razar.Usage
}

func (tp *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Tools []json.RawMessage `json:"tools"`
	}
	_ = json.Unmarshal(body, &req)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	tp.next.ServeHTTP(rec, r)
	var res struct {
		Usage struct {
			Prompt     int64 `json:"prompt_tokens"`
			Completion int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &res)
	tp.mu.Lock()
	tp.offered = append(tp.offered, len(req.Tools) > 0)
	tp.usage = tp.usage.Add(razar.Usage{Prompt: res.Usage.Prompt, Completion: res.Usage.Completion})
	tp.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (tp *tap) seen() ([]bool, razar.Usage) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]bool(nil), tp.offered...), tp.usage
}

// tapped is the openai backend in front of h, through a tap.
func tapped(t *testing.T, h http.Handler, mod func(*OpenAIConfig)) (*OpenAI, *tap) {
	t.Helper()
	tp := &tap{next: h}
	srv := httptest.NewServer(tp)
	t.Cleanup(srv.Close)
	c := OpenAIConfig{Name: "k2", Endpoint: srv.URL + "/v1", Model: "standin", Token: testToken, Role: "You are K2 Coder."}
	if mod != nil {
		mod(&c)
	}
	o, err := NewOpenAI(c)
	if err != nil {
		t.Fatal(err)
	}
	return o, tp
}

// TestOpenAIUsageIsEveryResponseSummed: an attempt of several turns
// reports the sum of the usage of every response.
func TestOpenAIUsageIsEveryResponseSummed(t *testing.T) {
	f := failures[3] // the port: list, reads, a search and a check
	dir := f.workdir(t)
	o, tp := tapped(t, standin.New(standin.Config{}), nil)
	task := failureTask(f, dir)
	task.Workspace = f.workspace(false)
	task.Tools = &dirTools{t: t, dir: dir, validate: f.validate}
	fix, err := repairWithin(t, o, task, 30*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	offered, usage := tp.seen()
	if len(offered) < 3 {
		t.Fatalf("%d requests; the port failure takes several turns", len(offered))
	}
	if fix.Usage != usage || usage.Prompt == 0 || usage.Completion == 0 {
		t.Errorf("Fix.Usage = %+v, want the sum of the %d responses' usage %+v", fix.Usage, len(offered), usage)
	}
}

// TestOpenAISloppyHunkHeaderIsCheckedAndMended: a model that writes
// "@@ ... @@" has its diff checked before the answer leaves the rung; the
// diff that comes back holds, whether the patch engine places the sloppy
// header (tolerant placement) or the model mends it after the check.
func TestOpenAISloppyHunkHeaderIsCheckedAndMended(t *testing.T) {
	f := failures[0]
	dir := f.workdir(t)
	tools := &dirTools{t: t, dir: dir, validate: f.validate}
	task := failureTask(f, dir)
	task.Workspace = f.workspace(true)
	task.Tools = tools
	fix, err := repairWithin(t, standinOpenAI(t, standin.Config{Sloppy: true}, nil), task, 30*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	assertRepairs(t, f, dir, fix)
	tools.mu.Lock()
	first := tools.calls[0]
	tools.mu.Unlock()
	if first.Op != razar.ToolCheck || !strings.Contains(first.Diff, "\n@@ ... @@\n") {
		t.Errorf("first tool call = %+v, want a check of the sloppy diff", first)
	}
}

// TestOpenAISloppyHunkHeaderWithoutTools: without tools the sloppy diff
// is the answer as the model wrote it; placing it is the patch engine's.
func TestOpenAISloppyHunkHeaderWithoutTools(t *testing.T) {
	f := failures[0]
	task := failureTask(f, f.workdir(t))
	task.Workspace = f.workspace(true)
	fix, err := repairWithin(t, standinOpenAI(t, standin.Config{Sloppy: true}, nil), task, 30*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	want := "--- a/ledger.conf\n+++ b/ledger.conf\n@@ ... @@\n # ledger settings\n listen=127.0.0.1\n-prot=8450\n+port=8450\n"
	if fix.Status != razar.StatusFixed || fix.Diff != want {
		t.Errorf("Repair = %+v\nwant the diff %q", fix, want)
	}
}

// TestOpenAIToolRefusalFallsBackToTheWorkspacePrompt: a server that
// answers 400 "does not support tools" gets one more request, without
// tools, and the workspace in the prompt is enough.
func TestOpenAIToolRefusalFallsBackToTheWorkspacePrompt(t *testing.T) {
	f := failures[1]
	dir := f.workdir(t)
	o, tp := tapped(t, standin.New(standin.Config{RefuseTools: true}), nil)
	tools := &dirTools{t: t, dir: dir, validate: f.validate}
	task := failureTask(f, dir)
	task.Workspace = f.workspace(true)
	task.Tools = tools
	fix, err := repairWithin(t, o, task, 30*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	assertRepairs(t, f, dir, fix)
	offered, _ := tp.seen()
	if len(offered) != 2 || !offered[0] || offered[1] {
		t.Errorf("requests offered tools: %v, want [true false]: one refused, then the workspace-only prompt", offered)
	}
	if ops := tools.ops(); len(ops) != 0 {
		t.Errorf("tool calls %q after the server refused tools", ops)
	}
}

// TestOpenAINegativeMaxTurnsOffersNoTools: max_turns -1 keeps the tools
// away from the model even when the task has them.
func TestOpenAINegativeMaxTurnsOffersNoTools(t *testing.T) {
	f := failures[0]
	dir := f.workdir(t)
	o, tp := tapped(t, standin.New(standin.Config{}), func(c *OpenAIConfig) { c.MaxTurns = -1 })
	task := failureTask(f, dir)
	task.Workspace = f.workspace(true)
	task.Tools = &dirTools{t: t, dir: dir, validate: f.validate}
	fix, err := repairWithin(t, o, task, 30*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	assertRepairs(t, f, dir, fix)
	if offered, _ := tp.seen(); len(offered) != 1 || offered[0] {
		t.Errorf("requests offered tools: %v, want one request without", offered)
	}
}

// chatWith answers every request with the completion reply(n) returns, n
// counting from 1.
func chatWith(reply func(n int) map[string]any) http.Handler {
	var mu sync.Mutex
	n := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		msg := reply(k)
		finish := "stop"
		if _, ok := msg["tool_calls"]; ok {
			finish = "tool_calls"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": fmt.Sprintf("c%d", k), "object": "chat.completion", "created": 1, "model": "m",
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
			"usage":   map[string]any{"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
		})
	})
}

func toolCallMsg(n int, name, args string) map[string]any {
	return map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
		"id": fmt.Sprintf("call_%d", n), "type": "function", "function": map[string]any{"name": name, "arguments": args}}}}
}

// TestOpenAIModelThatLoopsOnToolsEndsTheAttempt: a model that calls
// tools forever is told its turns are spent, then the attempt fails with
// that reason; what it spent is still counted.
func TestOpenAIModelThatLoopsOnToolsEndsTheAttempt(t *testing.T) {
	f := failures[0]
	dir := f.workdir(t)
	o, tp := tapped(t, chatWith(func(n int) map[string]any { return toolCallMsg(n, "list", `{}`) }), func(c *OpenAIConfig) { c.MaxTurns = 3 })
	tools := &dirTools{t: t, dir: dir, validate: f.validate}
	task := failureTask(f, dir)
	task.Tools = tools
	fix, err := repairWithin(t, o, task, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "openai agent k2: the model kept calling tools after its 3 tool turns were spent") {
		t.Fatalf("Repair = %+v, %v; want the attempt ended for looping on tools", fix, err)
	}
	offered, usage := tp.seen()
	if len(offered) != 5 { // 3 turns, the one told to answer, the one that ends it
		t.Errorf("%d requests, want 5", len(offered))
	}
	if len(tools.ops()) != 3 {
		t.Errorf("tool calls %q, want the 3 of the budget", tools.ops())
	}
	if fix.Usage != usage {
		t.Errorf("Fix.Usage = %+v with the error, want what the model spent: %+v", fix.Usage, usage)
	}
}

// TestOpenAIGarbageAnswersEndTheAttempt: answers that hold no reply are
// sent back with the reason while turns are left, then fail the attempt
// with what was wrong.
func TestOpenAIGarbageAnswersEndTheAttempt(t *testing.T) {
	garbage := func(int) map[string]any {
		return map[string]any{"role": "assistant", "content": "lorem ipsum dolor sit amet"}
	}
	for _, withTools := range []bool{false, true} {
		t.Run(fmt.Sprintf("tools=%t", withTools), func(t *testing.T) {
			o, tp := tapped(t, chatWith(garbage), func(c *OpenAIConfig) { c.MaxTurns = 2 })
			task := failureTask(failures[0], t.TempDir())
			if withTools {
				task.Tools = &dirTools{t: t, dir: t.TempDir()}
			}
			_, err := repairWithin(t, o, task, 30*time.Second)
			if err == nil || !strings.Contains(err.Error(), `reply is not JSON: "lorem ipsum dolor sit amet"`) {
				t.Fatalf("Repair error = %v, want the unreadable answer named", err)
			}
			want := 1
			if withTools {
				want = 3 // the answer, and the 2 turns it was told to answer again
			}
			if offered, _ := tp.seen(); len(offered) != want {
				t.Errorf("%d requests, want %d", len(offered), want)
			}
		})
	}
}

// TestOpenAIHugeDiffEndsTheAttempt: a 5 MB answer is cut off at the reply
// bound and the attempt fails saying so.
func TestOpenAIHugeDiffEndsTheAttempt(t *testing.T) {
	huge := "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+" + strings.Repeat("b", 5<<20) + "\n"
	reply, _ := json.Marshal(map[string]string{"status": "fixed", "summary": "big", "diff": huge})
	o, _ := tapped(t, chatWith(func(int) map[string]any { return map[string]any{"role": "assistant", "content": string(reply)} }), nil)
	task := failureTask(failures[0], t.TempDir())
	task.Tools = &dirTools{t: t, dir: t.TempDir()}
	fix, err := repairWithin(t, o, task, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("reply over %d bytes", DefaultMaxReplyBytes)) {
		t.Fatalf("Repair = %d-byte diff, %v; want the reply bound named", len(fix.Diff), err)
	}
}
