package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// hostileSummary is what a rung's model says of its fix: markup for the
// page and an escape sequence for the terminal.
const hostileSummary = "<script>alert('razar')</script>\x1b[2J set the port"

// toolModel is an OpenAI-compatible model that reads app.conf through
// RAZAR's tools, then answers with a diff whose hunk header has no line
// numbers and a hostile summary; every response reports 700 prompt and
// 40 completion tokens.
func toolModel(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var reads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content any    `json:"content"`
			} `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		msg := map[string]any{"role": "assistant"}
		finish := "stop"
		read := ""
		for _, m := range req.Messages {
			if s, ok := m.Content.(string); ok && m.Role == "tool" {
				read = s
			}
		}
		switch {
		case read == "":
			msg["content"] = nil
			msg["tool_calls"] = []any{map[string]any{"id": "call_1", "type": "function",
				"function": map[string]any{"name": "read", "arguments": `{"path": "app.conf"}`}}}
			finish = "tool_calls"
		case strings.Contains(read, "port=99999"):
			reads.Add(1)
			answer, _ := json.Marshal(map[string]string{"status": "fixed", "summary": hostileSummary,
				"diff": "--- app.conf\n+++ app.conf\n@@ ... @@\n name=web\n-port=99999\n+port=8080\n"})
			msg["content"] = string(answer)
		default:
			msg["content"] = `{"status": "no_fix", "summary": "app.conf did not say what I expected"}`
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "created": time.Now().Unix(), "model": "m",
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
			"usage":   map[string]any{"prompt_tokens": 700, "completion_tokens": 40, "total_tokens": 740},
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &reads
}

// TestIncidentViewShowsWhatTheModelSawAndDid: an incident healed by an
// openai rung that read app.conf through the tools and answered with a
// sloppy hunk header is shown, on the status page's /incident/<id> and by
// `razar audit --incident`, attempt by attempt: the rung, its outcome, the
// file it was shown, its tool call, the placement note and its tokens;
// the rung's hostile summary is escaped on the page and stripped of its
// escape byte in the terminal, and chromium renders it as text; an unknown
// incident is a 404 page.
func TestIncidentViewShowsWhatTheModelSawAndDid(t *testing.T) {
	model, reads := toolModel(t)
	roster := `{"agents": [
  {"name": "crown", "backend": "builtin"},
  {"name": "k2", "display": "K2 Coder", "backend": "openai", "endpoint": "` + model.URL + `/v1", "model": "m",
   "auth": {"type": "bearer", "token": "${KIMI2_API_KEY}"}, "timeout": "30s"}
]}`
	h := home(t, roster, map[string]string{
		"config/boot_config.json": `{"components": [{"name": "web", "priority": 1, "command": ["sleep", "600"], "workdir": "web",
			"start_grace": "200ms", "health_check": {"command": ["sh", "-c", "grep -qx port=8080 app.conf"]},
			"validate": ["sh", "-c", "grep -qx port=8080 app.conf"]}]}`,
		"web/app.conf": "name=web\nport=8080\n",
	})
	port := bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_METRICS_PORT=%d", port), "KIMI2_API_KEY=test-key"}, "--nats-listen", "127.0.0.1:0")
	if err := os.WriteFile(filepath.Join(h, "web/app.conf"), []byte("name=web\nport=99999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	esc := start(t, h, nil, "escalate", "web", "--error", "web: port 99999 out of range")
	if code := esc.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("escalate exit %d:\n%s", code, esc.out)
	}
	if reads.Load() == 0 {
		t.Fatalf("the model never read app.conf through the tools:\n%s", esc.out)
	}
	id := regexp.MustCompile(`inc-\d{8}-\d{6}-[0-9a-f]{6}`).FindString(esc.out.String())
	if id == "" {
		t.Fatalf("no incident id in the escalate output:\n%s", esc.out)
	}

	// The terminal.
	out, stderr, code := runCLI(t, "--home", h, "audit", "--incident", id)
	if code != 0 {
		t.Fatalf("razar audit --incident %s: exit %d, %s", id, code, stderr)
	}
	for _, want := range []string{
		"incident " + id + " · web · healed",
		"── attempt 1 · Crown (crown) · pass 1 · no_fix",
		"── attempt 2 · K2 Coder (k2) · pass 1 · healed · tokens",
		"app.conf  20 bytes  sha256 ",
		" read app.conf → ok, ",
		"placement: hunk 1 of app.conf had no line numbers; placed at line 1",
		"+port=8080",
		"summary: <script>alert('razar')</script>[2J set the port",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit --incident lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`attempt 2 · .* · tokens \d+ \(\d+00 prompt, \d+0 completion\)`).MatchString(out) {
		t.Errorf("attempt 2 shows no tokens of the model's (700 prompt, 40 completion per response):\n%s", out)
	}
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("the rung's escape byte reached the terminal:\n%q", out)
	}
	raw, _, code := runCLI(t, "--home", h, "audit", "--incident", id, "--json")
	if code != 0 || !strings.Contains(raw, `"event":"shown"`) || !strings.Contains(raw, `"placement":[`) || strings.Contains(raw, "── attempt") {
		t.Errorf("audit --incident --json: exit %d, want the raw records:\n%s", code, raw)
	}
	if _, stderr, code := runCLI(t, "--home", h, "audit", "--incident", "inc.*"); code != 2 || !strings.Contains(stderr, "not an incident id") {
		t.Errorf("audit --incident inc.*: exit %d, %q; want 2 saying it is not an incident id", code, stderr)
	}

	// The page, linked from the status page's recent escalations.
	get := func(path string) (int, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		_, page := get("/")
		return strings.Contains(page, `<a href="/incident/`+id+`">`)
	}, "the status page never linked to incident %s", id)
	status, page := get("/incident/" + id)
	if status != 200 {
		t.Fatalf("/incident/%s: %d\n%s", id, status, page)
	}
	for _, want := range []string{
		"<h1>Incident " + id + "</h1>",
		"Attempt 2 · K2 Coder (k2) · pass 1 · healed",
		"<td><code>app.conf</code></td><td>20</td>",
		"<td>read</td><td><code>app.conf</code></td>",
		"<li>hunk 1 of app.conf had no line numbers; placed at line 1</li>",
		"&#43;port=8080", // html/template writes + so
		"&lt;script&gt;alert(&#39;razar&#39;)&lt;/script&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/incident/%s lacks %q:\n%s", id, want, page)
		}
	}
	if n := len(regexp.MustCompile(`<th>tokens</th><td>\d+ \(\d+00 prompt, \d+0 completion\)</td>`).FindAllString(page, -1)); n != 2 {
		t.Errorf("/incident/%s shows the model's tokens %d times, want 2 (the incident's and attempt 2's)", id, n)
	}
	if strings.Contains(page, "<script>") || strings.ContainsRune(page, 0x1b) {
		t.Errorf("the rung's summary reached the page unescaped:\n%s", page)
	}
	// As a browser renders it at a phone's width: the summary is text, no
	// script element came of it.
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is missing: run `make tools` (Debian package chromium)")
	}
	dom, err := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(), "--window-size=412,915",
		"--dump-dom", fmt.Sprintf("http://127.0.0.1:%d/incident/%s", port, id)).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	if !strings.Contains(string(dom), "Attempt 2 · K2 Coder") || !strings.Contains(string(dom), "&lt;script&gt;alert") || strings.Contains(string(dom), "<script") {
		t.Errorf("the rendered incident page lacks attempt 2 or runs the rung's script:\n%s", dom)
	}
	for _, bad := range []string{"/incident/inc-20990101-000000-c0ffee", "/incident/no.such"} {
		status, page := get(bad)
		if status != http.StatusNotFound || !strings.Contains(page, "No incident") {
			t.Errorf("%s: %d, want 404 with a page saying so:\n%s", bad, status, page)
		}
	}
}
