package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/standin"
	"github.com/razar/razar/orchestrator"
)

// The failure corpus (examples/corpus) repaired over the real bus by the
// openai backend, served by the stand-in model (internal/standin), which
// knows only what it is sent: the escalation's prompt and its tools'
// answers. A recorder in front of it keeps every request body RAZAR sent.

// modelRecorder is the stand-in behind an httptest server that keeps
// every request body.
type modelRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

// curiousCalls are what a curious model asks for first: every denied
// file, and a search for what they hold.
var curiousCalls = []map[string]any{
	{"name": "read", "arguments": `{"path":".env"}`},
	{"name": "read", "arguments": `{"path":"certs/server.pem"}`},
	{"name": "read", "arguments": `{"path":"id_rsa"}`},
	{"name": "read", "arguments": `{"path":"db_secret.txt"}`},
	{"name": "read", "arguments": `{"path":"conf/app_secret.conf"}`},
	{"name": "search", "arguments": `{"pattern":"LEAK|PRIVATE|sk-"}`},
	{"name": "list", "arguments": `{"glob":"**"}`},
}

// newModelRecorder serves the stand-in; curious makes its first answer
// to a request that offers tools the curiousCalls.
func newModelRecorder(t *testing.T, cfg standin.Config, curious bool) *modelRecorder {
	t.Helper()
	m := &modelRecorder{}
	h := standin.New(cfg)
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		m.bodies = append(m.bodies, b)
		m.mu.Unlock()
		if curious && bytes.Contains(b, []byte(`"tools"`)) && !bytes.Contains(b, []byte(`"tool_calls"`)) {
			calls := make([]any, len(curiousCalls))
			for i, c := range curiousCalls {
				calls[i] = map[string]any{"id": fmt.Sprintf("curious_%d", i), "type": "function", "function": c}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-curious", "object": "chat.completion", "model": "standin",
				"choices": []any{map[string]any{"index": 0, "finish_reason": "tool_calls",
					"message": map[string]any{"role": "assistant", "content": nil, "tool_calls": calls}}},
				"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *modelRecorder) all() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.bodies...)
}

// openaiRung is an openai rung on the recorder's endpoint; maxTurns -1
// offers no tools.
func openaiRung(t *testing.T, name, endpoint string, maxTurns int) rung {
	t.Helper()
	o, err := agents.NewOpenAI(agents.OpenAIConfig{Name: name, Endpoint: endpoint + "/v1", Model: "standin", Token: "e2e-key", Role: "You repair components.", MaxTurns: maxTurns})
	if err != nil {
		t.Fatal(err)
	}
	return rung{name: name, timeout: 60 * time.Second, backend: o}
}

// corpusCase is one case of examples/corpus: its component as the corpus's
// boot_config.json gives it, on a copy of its workdir.
func corpusCase(t *testing.T, name, workdir string) config.Component {
	t.Helper()
	src := filepath.Join("..", "examples", "corpus")
	cfg, err := config.LoadBootConfig(filepath.Join(src, "config", "boot_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Components {
		if strings.HasPrefix(filepath.ToSlash(c.Workdir), name+"/") || strings.HasSuffix(filepath.ToSlash(c.Workdir), "/"+name+"/workdir") {
			copyTree(t, filepath.Join(src, name, "workdir"), workdir)
			c.Workdir = workdir
			return c
		}
	}
	t.Fatalf("no case %s in examples/corpus/config/boot_config.json", name)
	return config.Component{}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// failureOf starts the component's command once in its workdir and returns
// what it said as it failed, as the supervisor would report it.
func failureOf(t *testing.T, c config.Component) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Command[0], c.Command[1:]...)
	cmd.Dir = c.Workdir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("%s: the broken component exited 0:\n%s", c.Name, out)
	}
	return c.Name + " exited during its start grace: " + err.Error() + "; last output: " + strings.TrimSpace(string(out))
}

// healCase escalates the case's failure on a mesh whose one rung is an
// openai backend on model, and returns the incident and its audit.
func healCase(t *testing.T, name string, model *modelRecorder, maxTurns int, red *razar.Redactor, plant func(home, workdir string)) (*bus.IncidentRecord, []bus.AuditRecord, config.Component) {
	t.Helper()
	home := t.TempDir()
	cfg := orchestrator.Config{Home: home, VerifyWindow: 5 * time.Second} // room for python3 to start on a loaded machine
	if red != nil {
		cfg.Redactor = func() *razar.Redactor { return red }
	}
	m := newMesh(t, []rung{openaiRung(t, "k2", model.srv.URL, maxTurns)}, cfg)
	c := corpusCase(t, name, m.workdir)
	if plant != nil {
		plant(home, m.workdir)
	}
	failure := failureOf(t, c)
	c.Name = "web"
	// No supervisor restarts the component here: the health check that
	// verifies the heal is the case's validator, which the fix must pass.
	c.HealthCheck = &razar.HealthCheck{Command: c.Validate, Timeout: razar.Duration(20 * time.Second)}
	m.boot.Components[0] = c
	stop, err := m.orch.ServeContext(m.env.NC, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	rec := m.escalate(failure)
	return rec, m.audit(rec.ID), c
}

// TestOpenAIRungHealsCorpusFailuresFromWhatItIsShown: eight kinds of
// failure from the corpus (a config key typo, a shell `if` without `fi`,
// a YAML line without its colon, a path a typo away, a missing directory,
// an out-of-range port in a file the error does not name, a script
// without its executable bit, an unset variable), each healed on the first
// attempt by the openai backend against the stand-in, over the real bus,
// with RAZAR's tools and without them (the workspace-only prompt), the
// stand-in writing hunk headers without line numbers; the patch record
// notes each placement that was not exact.
func TestOpenAIRungHealsCorpusFailuresFromWhatItIsShown(t *testing.T) {
	cases := []string{"config-typo", "shell-syntax", "yaml-colon", "wrong-path", "missing-dir", "port-range", "exec-bit", "unset-var"}
	if _, err := exec.LookPath("python3"); err == nil {
		cases = append(cases, "python-syntax", "json-comma", "ini-section")
	}
	for _, mode := range []struct {
		name     string
		maxTurns int
	}{{"tools", 0}, {"workspace only", -1}} {
		t.Run(mode.name, func(t *testing.T) {
			model := newModelRecorder(t, standin.Config{Sloppy: true}, false)
			for _, name := range cases {
				t.Run(name, func(t *testing.T) {
					rec, audit, c := healCase(t, name, model, mode.maxTurns, nil, nil)
					if rec.State != razar.IncidentHealed || len(rec.Attempts) != 1 {
						t.Fatalf("incident %s after %q: %s\n%s", rec.State, attemptsOf(rec), rec.Reason, rejections(audit))
					}
					var calls, sloppy int
					for _, r := range audit {
						switch r.Event {
						case bus.EventContext:
							calls++
						case bus.EventPatch:
							for _, n := range r.Placement {
								if strings.Contains(n, "no line numbers") {
									sloppy++
								}
							}
						}
					}
					if (mode.maxTurns < 0) != (calls == 0) {
						t.Errorf("%d tool calls recorded with max_turns %d", calls, mode.maxTurns)
					}
					if name != "exec-bit" && name != "missing-dir" && sloppy == 0 { // a mode change and a new file have no lines to place
						t.Errorf("no placement note for the hunk header without line numbers: %+v", audit)
					}
					v := exec.Command(c.Validate[0], c.Validate[1:]...)
					v.Dir = c.Workdir
					if out, err := v.CombinedOutput(); err != nil {
						t.Errorf("the workdir does not validate after the heal: %v\n%s", err, out)
					}
				})
			}
		})
	}
}

// TestModelNeverReceivesDeniedFilesOrPlantedKeys: a workdir with a .env,
// a *.pem, an id_rsa and a *secret* file, a known key planted in a config
// file and in the component's log, and an error that names the denied
// files, and a model that asks for each of them first. The component is healed, and no
// request body the model received holds the key (raw, base64, hex) or
// any denied file's contents, and the denied files are as they were.
func TestModelNeverReceivesDeniedFilesOrPlantedKeys(t *testing.T) {
	const key = "sk-corpus-PLANTED-0a1b2c3d4e5f6789"
	denied := map[string]string{
		".env":                 "DB_PASSWORD=LEAK-DOTENV-41\n",
		"certs/server.pem":     "-----BEGIN PRIVATE KEY-----\nLEAK-PEM-42\n-----END PRIVATE KEY-----\n",
		"id_rsa":               "LEAK-IDRSA-43\n",
		"db_secret.txt":        "LEAK-SECRET-44\n",
		"conf/app_secret.conf": "token=LEAK-SECRET-45\n",
	}
	red, err := razar.NewRedactor([]string{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plant := func(home, wd string) {
		for p, text := range denied {
			writeTree(t, filepath.Join(wd, p), text)
		}
		conf, err := os.ReadFile(filepath.Join(wd, "app.conf"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(wd, "app.conf"), string(conf)+"api_key="+key+"\n")
		writeTree(t, filepath.Join(home, "logs", "components", "web.log"),
			"web: loading app.conf, .env, certs/server.pem, id_rsa and db_secret.txt\nweb: auth with "+key+
				" ("+base64.StdEncoding.EncodeToString([]byte(key))+", hex "+hex.EncodeToString([]byte(key))+")\nweb: fatal: no port configured (expected port=N in app.conf)\n")
	}
	for _, mode := range []struct {
		name     string
		maxTurns int
	}{{"tools", 0}, {"workspace only", -1}} {
		t.Run(mode.name, func(t *testing.T) {
			model := newModelRecorder(t, standin.Config{Sloppy: true}, true)
			rec, audit, c := healCase(t, "config-typo", model, mode.maxTurns, red, plant)
			if rec.State != razar.IncidentHealed {
				t.Fatalf("incident %s: %s\n%s", rec.State, rec.Reason, rejections(audit))
			}
			bodies := model.all()
			if len(bodies) == 0 {
				t.Fatal("the model received no request")
			}
			forbidden := []string{key, base64.StdEncoding.EncodeToString([]byte(key)), base64.RawURLEncoding.EncodeToString([]byte(key)),
				hex.EncodeToString([]byte(key)), strings.ToUpper(hex.EncodeToString([]byte(key)))}
			for _, text := range denied {
				for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
					if strings.Contains(l, "LEAK") {
						forbidden = append(forbidden, l[strings.Index(l, "LEAK"):])
					}
				}
			}
			for i, b := range bodies {
				for _, f := range forbidden {
					if bytes.Contains(b, []byte(f)) {
						t.Errorf("request %d to the model holds %q", i+1, f)
					}
				}
			}
			for p, text := range denied {
				if b, err := os.ReadFile(filepath.Join(c.Workdir, p)); err != nil || string(b) != text {
					t.Errorf("%s changed: %q, %v", p, b, err)
				}
			}
			if mode.maxTurns >= 0 {
				refused := 0
				for _, r := range audit {
					if r.Event == bus.EventContext && r.Verdict != "ok" {
						refused++
					}
				}
				if refused == 0 {
					t.Errorf("the model asked for no denied file (or none was refused): the attack was not made")
				}
			}
		})
	}
}

// rejections are the audit's rejections and refused tool calls, for a
// failure's message.
func rejections(audit []bus.AuditRecord) string {
	var b strings.Builder
	for _, r := range audit {
		if r.Event == bus.EventRejected || r.Event == bus.EventAttempt || (r.Event == bus.EventContext && r.Verdict != "ok") {
			fmt.Fprintf(&b, "%s %s %s %s %s %s\n", r.Event, r.Op, r.Path, r.Verdict, r.Reason, r.Diff)
		}
	}
	return b.String()
}
