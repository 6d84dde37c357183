package standin

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestStandInImportsNothingThatReadsTheDisk: the stand-in's code imports
// no package that reaches the file system or runs programs, so whatever it
// knows came in the request.
func TestStandInImportsNothingThatReadsTheDisk(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	forbidden := map[string]bool{"os": true, "io/fs": true, "os/exec": true, "path/filepath": true, "syscall": true,
		"io/ioutil": true, "embed": true, "plugin": true, "unsafe": true}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, im := range ast.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if forbidden[p] {
				t.Errorf("%s imports %s: the stand-in must know only what it is sent", f, p)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source file checked")
	}
}

// post sends a chat-completions request and decodes the answer.
func post(t *testing.T, h http.Handler, body any, auth string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(b))
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, rec.Body)
	}
	return rec.Code, out
}

func message(out map[string]any) map[string]any {
	return out["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
}

var readTool = map[string]any{"type": "function", "function": map[string]any{"name": "read", "parameters": map[string]any{"type": "object"}}}

// TestStandInBuildsItsDiffFromWhatItReadNotFromTheDisk: a file of the same
// name on disk says something else; the diff is built from the text the
// read tool answered.
func TestStandInBuildsItsDiffFromWhatItReadNotFromTheDisk(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("ledger.conf", []byte("disk=1\nprot=1111\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(Config{})
	user := map[string]any{"role": "user", "content": "A component failed.\nerror:\nledger.conf: port missing or not a number\n"}
	code, out := post(t, s, map[string]any{"model": "m", "messages": []any{user}, "tools": []any{readTool}}, "")
	if code != 200 {
		t.Fatalf("HTTP %d: %v", code, out)
	}
	calls, _ := message(out)["tool_calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("first answer = %v, want one tool call", message(out))
	}
	call := calls[0].(map[string]any)
	fn := call["function"].(map[string]any)
	if fn["name"] != "read" || !strings.Contains(fn["arguments"].(string), `"ledger.conf"`) {
		t.Fatalf("tool call = %v, want read ledger.conf", fn)
	}
	if out["choices"].([]any)[0].(map[string]any)["finish_reason"] != "tool_calls" {
		t.Errorf("finish_reason = %v, want tool_calls", out["choices"])
	}
	msgs := []any{user,
		map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{call}},
		map[string]any{"role": "tool", "tool_call_id": call["id"], "content": "ledger.conf:\n     1\t# ledger settings\n     2\tlisten=127.0.0.1\n     3\tprot=8450\n(calls left: 9)\n"},
	}
	_, out = post(t, s, map[string]any{"model": "m", "messages": msgs}, "")
	var reply struct{ Status, Summary, Diff string }
	if err := json.Unmarshal([]byte(message(out)["content"].(string)), &reply); err != nil {
		t.Fatalf("final answer is not the JSON object: %v", message(out))
	}
	want := "--- a/ledger.conf\n+++ b/ledger.conf\n@@ -1,3 +1,3 @@\n # ledger settings\n listen=127.0.0.1\n-prot=8450\n+port=8450\n"
	if reply.Status != "fixed" || reply.Diff != want {
		t.Errorf("answer = %+v\nwant the diff %q", reply, want)
	}
	usage := out["usage"].(map[string]any)
	if usage["prompt_tokens"].(float64) < 10 || usage["completion_tokens"].(float64) < 10 ||
		usage["total_tokens"].(float64) != usage["prompt_tokens"].(float64)+usage["completion_tokens"].(float64) {
		t.Errorf("usage = %v, want bytes/4 of prompt and answer, and their total", usage)
	}
}

// TestStandInKnowsNothingItWasNotShown: with no file text and no tools it
// says so instead of guessing.
func TestStandInKnowsNothingItWasNotShown(t *testing.T) {
	_, out := post(t, New(Config{}), map[string]any{"model": "m", "messages": []any{
		map[string]any{"role": "user", "content": "error:\nledger.conf: port missing or not a number\n"}}}, "")
	content, _ := message(out)["content"].(string)
	if !strings.Contains(content, `"status":"no_fix"`) || !strings.Contains(content, "no file's text") {
		t.Errorf("answer = %q, want no_fix saying it saw no file", content)
	}
}

// TestStandInRefusals: a bad key, a body that is no chat completion, and
// tools offered to a stand-in told to refuse them, each an API error.
func TestStandInRefusals(t *testing.T) {
	user := map[string]any{"role": "user", "content": "hi"}
	tests := []struct {
		name string
		cfg  Config
		body any
		auth string
		code int
		msg  string
	}{
		{"wrong key", Config{Key: "k1"}, map[string]any{"messages": []any{user}}, "k2", 401, "bearer token"},
		{"no messages", Config{}, map[string]any{"model": "m"}, "", 400, "messages: empty"},
		{"not JSON", Config{}, "just text", "", 400, "not a chat completion"},
		{"tools refused", Config{RefuseTools: true}, map[string]any{"messages": []any{user}, "tools": []any{readTool}}, "", 400, "does not support tools"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := post(t, New(tt.cfg), tt.body, tt.auth)
			e, _ := out["error"].(map[string]any)
			if code != tt.code || e == nil || !strings.Contains(e["message"].(string), tt.msg) {
				t.Errorf("HTTP %d %v, want %d with %q", code, out, tt.code, tt.msg)
			}
		})
	}
}

// TestThinkRepairsEachKnownFailureFromThePrompt: the diff for each failure
// the stand-in knows, from file texts in the prompt alone.
func TestThinkRepairsEachKnownFailureFromThePrompt(t *testing.T) {
	tests := []struct {
		name, err, path, text, want string
	}{
		{"key typo", "ledger.conf: port missing", "ledger.conf", "listen=127.0.0.1\nprot=8450\n", "-prot=8450\n+port=8450\n"},
		{"python colon", "SyntaxError: expected ':'", "app.py", "def main()\n    return 0\n", "-def main()\n+def main():\n"},
		{"json comma", "invalid JSON", "config/s.json", "{\n  \"a\": 1,\n}\n", "-  \"a\": 1,\n+  \"a\": 1\n"},
		{"port range", "port out of range; health http://127.0.0.1:8450/ready", "etc/net.ini", "port = 84500\n", "-port = 84500\n+port = 8450\n"},
		{"shell fi", "end of file unexpected (expecting \"fi\")", "run.sh", "#!/bin/sh\nif true; then\n  echo hi\n\nexit 0\n", "   echo hi\n+fi\n \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prompt := "A component failed. Propose a repair.\n\nerror:\n" + tt.err + "\n\nthe files that matter most, with their text:\n" +
				"=== file: " + tt.path + " (1 bytes) ===\n" + tt.text + "=== end of " + tt.path + " ===\n"
			turn := Think([]Message{{Role: "user", Content: Content(prompt)}}, false, false)
			if !strings.Contains(turn.Content, `"status":"fixed"`) {
				t.Fatalf("answer = %q, want a fix", turn.Content)
			}
			var reply struct{ Diff string }
			_ = json.Unmarshal([]byte(turn.Content), &reply)
			if !strings.HasPrefix(reply.Diff, "--- a/"+tt.path+"\n+++ b/"+tt.path+"\n@@ -") || !strings.Contains(reply.Diff, tt.want) {
				t.Errorf("diff =\n%s\nwant it to hold %q", reply.Diff, tt.want)
			}
		})
	}
}

// TestThinkUsesALineTheErrorQuotes: with no file text, a line the error
// quotes (file:line: text) is enough for a diff without context.
func TestThinkUsesALineTheErrorQuotes(t *testing.T) {
	turn := Think([]Message{{Role: "user", Content: "error:\nledger.conf:3: prot=8450: unknown setting (the ledger needs listen= and port=)\n"}}, false, false)
	var reply struct{ Status, Diff string }
	_ = json.Unmarshal([]byte(turn.Content), &reply)
	want := "--- a/ledger.conf\n+++ b/ledger.conf\n@@ -3 +3 @@\n-prot=8450\n+port=8450\n"
	if reply.Status != "fixed" || reply.Diff != want {
		t.Errorf("answer = %q, want the diff %q", turn.Content, want)
	}
}

func FuzzThink(f *testing.F) {
	f.Add("error:\nledger.conf:3: prot=8450: unknown\n=== file: a.json (1 bytes) ===\n{\n \"a\": 1,\n}\n=== end of a.json ===\n", "ledger.conf:\n1\tx\n")
	f.Add("=== file: run.sh (1 bytes) ===\nif\n=== end of run.sh ===\n", "")
	f.Fuzz(func(t *testing.T, user, tool string) {
		msgs := []Message{{Role: "user", Content: Content(user)},
			{Role: "assistant", ToolCalls: []ToolCall{{ID: "1", Function: struct {
				Name      string `json:"name"`
				Arguments string `json:"arguments"`
			}{Name: "read", Arguments: `{"path":"ledger.conf"}`}}}},
			{Role: "tool", ToolCallID: "1", Content: Content(tool)}}
		turn := Think(msgs, true, true)
		if turn.Content == "" && len(turn.Calls) == 0 {
			t.Fatalf("no answer and no call for %q", user)
		}
	})
}

// TestThinkRepairsWhatTheErrorListingOrEntryShows: the rules keyed on the
// error, the workdir's listing and the component's entry, from the prompt
// alone: names chosen unlike the corpus's, so no answer is remembered.
func TestThinkRepairsWhatTheErrorListingOrEntryShows(t *testing.T) {
	tests := []struct {
		name, entry, err, listing, path, text, want string
	}{
		{"ini header", "", "MissingSectionHeaderError", "  db.cfg 30\n", "db.cfg", "[main\nuser = x\n", "-[main\n+[main]\n"},
		{"yaml colon", "", "settings.yml: line 2: bad", "  settings.yml 30\n", "settings.yml", "name: q\nworkers 4\n", "-workers 4\n+workers: 4\n"},
		{"wrong path", "", "cannot open dtaa/input.csv", "  start.sh 40\n  data/input.csv 9\n", "start.sh", "#!/bin/sh\ncat ./dtaa/input.csv\n",
			"-cat ./dtaa/input.csv\n+cat ./data/input.csv\n"},
		{"unset var", "", "start.sh: line 2: CACHE_PATH: parameter not set", "  start.sh 40\n", "start.sh", "#!/bin/sh\nmkdir -p \"${CACHE_PATH:?}\"\n",
			"+CACHE_PATH=${CACHE_PATH:-./cache}\n mkdir"},
		{"missing dir", "", "queue/: directory missing", "  start.sh 40\n", "start.sh", "#!/bin/sh\nexit 1\n", "--- /dev/null\n+++ b/queue/.keep\n"},
		{"exec bit", `{"name":"p","command":["./bin/go.sh"]}`, "fork/exec /srv/p/bin/go.sh: permission denied", "  bin/go.sh 20\n", "bin/go.sh", "#!/bin/sh\nexit 0\n",
			"diff --git a/bin/go.sh b/bin/go.sh\nold mode 100644\nnew mode 100755\n"},
		{"port a comment names", "", "listen: invalid port", "  net.conf 30\n", "net.conf", "# our port is 7002\nlisten_port=700200\n", "+listen_port=7002\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prompt := "A component failed. Propose a repair.\n\nerror:\n" + tt.err + "\n\n"
			if tt.entry != "" {
				prompt += "the component's entry in boot_config.json (paths relative to the workdir; env values withheld):\n" + tt.entry + "\n"
			}
			prompt += "the workdir's files (path, bytes):\n" + tt.listing + "\nthe files that matter most, with their text:\n" +
				"=== file: " + tt.path + " (1 bytes) ===\n" + tt.text + "=== end of " + tt.path + " ===\n"
			turn := Think([]Message{{Role: "user", Content: Content(prompt)}}, false, true)
			var reply struct{ Status, Diff string }
			_ = json.Unmarshal([]byte(turn.Content), &reply)
			if reply.Status != "fixed" || !strings.Contains(reply.Diff, tt.want) {
				t.Errorf("answer %q; diff =\n%s\nwant it to hold %q", turn.Content, reply.Diff, tt.want)
			}
		})
	}
}
