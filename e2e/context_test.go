package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
)

// The context tools attacked from outside: a real embedded server in
// operator mode, the orchestrator serving razar.context on the lifecycle
// listener's connection, and rungs connecting with their own minted
// identities, as `razar agent` or the nats CLI would.

// ctxKey is a credential the orchestrator's redactor knows, planted in a
// config file and in the component's log.
const ctxKey = "sk-ctx-PLANTED-9f8e7d6c5b4a"

type toolsEnv struct {
	t       *testing.T
	home    string
	workdir string
	url     string
	trust   *auth.Trust
	store   *jetstream.Store
	orch    *orchestrator.Orchestrator
}

func newToolsEnv(t *testing.T, rungs []config.AgentEntry, calls int) *toolsEnv {
	t.Helper()
	home := t.TempDir()
	wd := filepath.Join(home, "services", "ledger")
	files := map[string]string{
		"run.sh":             "#!/bin/sh\nexec ./ledger --config config/ledger.conf\n",
		"check.sh":           "#!/bin/sh\ngrep -q '^port=' config/ledger.conf\n",
		"config/ledger.conf": "prot=8450\napi_key=" + ctxKey + "\n",
		".env":               "LEAK_ENV=1\n",
		"tls/server.key":     "LEAK_KEY\n",
	}
	for p, text := range files {
		writeTree(t, filepath.Join(wd, p), text)
	}
	writeTree(t, filepath.Join(home, "outside.txt"), "LEAK_OUTSIDE\n")
	if err := os.Symlink(filepath.Join(home, "outside.txt"), filepath.Join(wd, "notes.txt")); err != nil {
		t.Fatal(err)
	}
	writeTree(t, filepath.Join(home, "logs", "components", "ledger.log"), "loading config/ledger.conf with key "+ctxKey+"\nerror: unknown key prot\n")

	tr, err := auth.Open(razar.Home(home).Identities())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rungs {
		names = append(names, r.Name)
	}
	if _, err := tr.Ensure(names); err != nil {
		t.Fatal(err)
	}
	st, err := tr.Server()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: filepath.Join(home, "state"), Listen: "127.0.0.1:-1", Log: zerolog.Nop(), Trust: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	e := &toolsEnv{t: t, home: home, workdir: wd, url: srv.ClientURL(), trust: tr}
	nc := e.dial(tr.Path(string(auth.Orchestrator)), "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e.store, err = jetstream.Open(ctx, nc); err != nil {
		t.Fatal(err)
	}
	ctrl := e.dial(tr.ControlPath(), "")
	red, _ := razar.NewRedactor([]string{ctxKey}, nil)
	roster := &config.Roster{Agents: rungs}
	boot := &config.BootConfig{Components: []config.Component{{
		Name: "ledger", Command: []string{"sh", "./run.sh"}, Workdir: wd, Validate: []string{"sh", "./check.sh"},
		HealthCheck: &razar.HealthCheck{Command: []string{"false"}},
	}}}
	o, err := orchestrator.New(e.store, orchestrator.Config{
		Roster:       func() (*config.Roster, error) { return roster, nil },
		Components:   func() (*config.BootConfig, error) { return boot, nil },
		Home:         home,
		ContextCalls: calls,
		Redactor:     func() *razar.Redactor { return red },
		VerifyWindow: 100 * time.Millisecond,
		Log:          zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.orch = o
	octx, ocancel := context.WithCancel(context.Background())
	if err := o.DeclareRungs(octx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(octx) }()
	stopTools, err := o.ServeContext(ctrl, func(ri bus.RequestInfo) (auth.Identity, error) { return tr.Identify(ri.JWT, ri.User) })
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { stopTools(); ocancel(); <-done }) })
	rctx, rcancel := context.WithTimeout(octx, 10*time.Second)
	defer rcancel()
	if err := o.Resumed(rctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func writeTree(t *testing.T, p, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, text)
}

// dial connects with an identity's creds file; inbox, when set, is the
// identity's own inbox prefix (a rung's).
func (e *toolsEnv) dial(creds, inbox string) *bus.Conn {
	e.t.Helper()
	opts := []bus.ConnOption{bus.WithCreds(creds)}
	if inbox != "" {
		opts = append(opts, bus.WithInboxPrefix(inbox))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, e.url, "test", zerolog.Nop(), opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	return nc
}

// rung connects as rung's own identity.
func (e *toolsEnv) rung(name string) *bus.Conn {
	return e.dial(e.trust.Path(name), auth.InboxPrefix(name))
}

// records returns the incident's audit records of event ev.
func (e *toolsEnv) records(incident string, ev bus.Event) []bus.AuditRecord {
	e.t.Helper()
	var out []bus.AuditRecord
	err := e.store.Scan(context.Background(), bus.AuditAll, time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err != nil {
			return err
		}
		if r.Incident == incident && r.Event == ev {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// openIncident opens an incident on ledger and waits until its first
// attempt's escalation was shown to rung.
func (e *toolsEnv) openIncident(rung string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, _, err := e.orch.Escalate(ctx, "ledger", "ledger exited 1: unknown key prot in config/ledger.conf", "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitShown(id, rung, 1)
	return id
}

// waitShown waits for the shown record of attempt n, handed to rung.
func (e *toolsEnv) waitShown(id, rung string, n int) bus.AuditRecord {
	e.t.Helper()
	var got bus.AuditRecord
	bustest.Eventually(e.t, 30*time.Second, func() bool {
		for _, r := range e.records(id, bus.EventShown) {
			if r.Attempt == n && r.Agent == rung {
				got = r
				return true
			}
		}
		return false
	}, "no shown record of attempt %d to %s", n, rung)
	return got
}

// call sends one tool request and returns the reply; the test fails if no
// reply came.
func call(t *testing.T, nc *bus.Conn, incident, rung string, req razar.ToolRequest) razar.ToolReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := bus.Tools(nc, incident, rung).Call(ctx, req)
	if err != nil {
		t.Fatalf("%s %+v: %v", rung, req, err)
	}
	return rep
}

// expectContext waits for the context record of the n-th call (1-based,
// stream order) of the incident and checks it.
func (e *toolsEnv) expectContext(incident string, n int, op, path, verdictPrefix string) bus.AuditRecord {
	e.t.Helper()
	var recs []bus.AuditRecord
	bustest.Eventually(e.t, 10*time.Second, func() bool {
		recs = e.records(incident, bus.EventContext)
		return len(recs) >= n
	}, "context record %d never came", n)
	r := recs[n-1]
	if r.Op != op || r.Path != path || !strings.HasPrefix(r.Verdict, verdictPrefix) {
		e.t.Errorf("context record %d: op %q path %q verdict %q (%s); want %q %q %q", n, r.Op, r.Path, r.Verdict, r.Reason, op, path, verdictPrefix)
	}
	return r
}

func noLeak(t *testing.T, what string, x any) {
	t.Helper()
	s := fmt.Sprintf("%+v", x)
	if strings.Contains(s, "LEAK_") || strings.Contains(s, ctxKey) {
		t.Errorf("%s leaks: %s", what, s)
	}
}

func TestContextToolsServeTheirRungAndRefuseEveryOtherRoute(t *testing.T) {
	e := newToolsEnv(t, []config.AgentEntry{
		{Name: "k2", Backend: config.BackendExec, Timeout: razar.Duration(time.Hour)},
		{Name: "airstar", Backend: config.BackendExec, Timeout: razar.Duration(time.Hour)},
	}, 16)
	id := e.openIncident("k2")
	shown := e.waitShown(id, "k2", 1)
	if len(shown.Shown) == 0 || shown.Shown[0].Path != "config/ledger.conf" || shown.Shown[0].SHA256 == "" || shown.Shown[0].Text != "" {
		t.Errorf("shown record: %+v", shown.Shown)
	}
	for _, f := range shown.Shown {
		if f.Path == ".env" || strings.HasPrefix(f.Path, "tls/") || f.Path == "notes.txt" {
			t.Errorf("shown a file it must not: %s", f.Path)
		}
	}
	// What went to k2 on the bus: the workspace, without a denied file's
	// text, the symlinked file or the planted key.
	m, err := e.store.Next(context.Background(), bus.EscalateSubject("k2"), 1)
	if err != nil || m == nil {
		t.Fatalf("the escalation: %v", err)
	}
	var esc bus.Escalation
	if err := bus.Decode(m.Data, &esc); err != nil {
		t.Fatal(err)
	}
	if esc.Workspace == nil || len(esc.Workspace.Files) == 0 || !strings.Contains(esc.Workspace.Files[0].Text, "prot=8450") ||
		!strings.Contains(esc.Workspace.LogTail, "unknown key prot") || esc.Workspace.Entry.Validate[1] != "./check.sh" {
		t.Errorf("the escalation's workspace: %+v", esc.Workspace)
	}
	noLeak(t, "the escalation on the bus", string(m.Data))
	for _, enc := range razar.Encodings(ctxKey) {
		if strings.Contains(string(m.Data), enc) {
			t.Errorf("the escalation carries the key encoded: %s", enc)
		}
	}
	k2 := e.rung("k2")
	n := 0
	step := func(req razar.ToolRequest, ok bool, op, path, verdict string) razar.ToolReply {
		t.Helper()
		rep := call(t, k2, id, "k2", req)
		n++
		noLeak(t, fmt.Sprintf("reply to %+v", req), rep)
		if rep.OK != ok {
			t.Errorf("%+v: ok %v, want %v (%s)", req, rep.OK, ok, rep.Error)
		}
		r := e.expectContext(id, n, op, path, verdict)
		if r.Agent != "k2" || r.Actor != "k2" || r.Component != "ledger" || r.Attempt != 1 {
			t.Errorf("record %d: agent %q actor %q component %q attempt %d", n, r.Agent, r.Actor, r.Component, r.Attempt)
		}
		if !ok && r.Bytes != 0 {
			t.Errorf("refused %+v, yet %d bytes recorded", req, r.Bytes)
		}
		noLeak(t, "record", r)
		return rep
	}

	// The happy path.
	rep := step(razar.ToolRequest{Op: razar.ToolList}, true, "list", "", "ok")
	if len(rep.Entries) == 0 || rep.CallsLeft != 15 {
		t.Errorf("list: %d entries, %d calls left", len(rep.Entries), rep.CallsLeft)
	}
	rep = step(razar.ToolRequest{Op: razar.ToolRead, Path: "config/ledger.conf"}, true, "read", "config/ledger.conf", "ok")
	if !strings.Contains(rep.Text, "     1\tprot=8450") || !strings.Contains(rep.Text, "api_key="+razar.Redacted) {
		t.Errorf("read: %q", rep.Text)
	}
	rep = step(razar.ToolRequest{Op: razar.ToolSearch, Pattern: "prot"}, true, "search", "", "ok")
	if len(rep.Matches) != 1 || rep.Matches[0].Path != "config/ledger.conf" {
		t.Errorf("search: %+v", rep.Matches)
	}
	rep = step(razar.ToolRequest{Op: razar.ToolLog, Lines: 5}, true, "log", "logs/components/ledger.log", "ok")
	if !strings.Contains(rep.Text, "unknown key prot") || !strings.Contains(rep.Text, razar.Redacted) {
		t.Errorf("log: %q", rep.Text)
	}
	rep = step(razar.ToolRequest{Op: razar.ToolCheck, Diff: "--- a/config/ledger.conf\n+++ b/config/ledger.conf\n@@ -1,2 +1,2 @@\n-prot=8450\n+port=8450\n api_key=" + ctxKey + "\n"}, true, "check", "diff", "ok")
	if !rep.Applied || !rep.Validated {
		t.Errorf("check of a good diff: %+v", rep)
	}
	if b, _ := os.ReadFile(filepath.Join(e.workdir, "config/ledger.conf")); !strings.HasPrefix(string(b), "prot=") {
		t.Errorf("check changed the workdir: %q", b)
	}

	// Each refusal: the reply says why, the record says so, nothing read.
	for _, tc := range []struct {
		req       razar.ToolRequest
		path, why string
	}{
		{razar.ToolRequest{Op: razar.ToolRead, Path: "../../outside.txt"}, "../../outside.txt", "refused: outside"},
		{razar.ToolRequest{Op: razar.ToolRead, Path: filepath.Join(e.home, "outside.txt")}, filepath.Join(e.home, "outside.txt"), "refused: outside"},
		{razar.ToolRequest{Op: razar.ToolRead, Path: "notes.txt"}, "notes.txt", "refused: symlink"},
		{razar.ToolRequest{Op: razar.ToolRead, Path: ".env"}, ".env", "refused: denied"},
		{razar.ToolRequest{Op: razar.ToolRead, Path: "tls/server.key"}, "tls/server.key", "refused: denied"},
	} {
		rep := step(tc.req, false, "read", tc.path, tc.why)
		if rep.Error == "" || rep.Text != "" {
			t.Errorf("%+v: %+v", tc.req, rep)
		}
	}

	// Another incident's tools: refused, recorded.
	rep = call(t, k2, "inc-20990101-000000-abcdef", "k2", razar.ToolRequest{Op: razar.ToolRead, Path: "config/ledger.conf"})
	if rep.OK || !strings.Contains(rep.Error, "no attempt of incident inc-20990101-000000-abcdef is pending") || rep.Text != "" {
		t.Errorf("another incident: %+v", rep)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		for _, r := range e.records("inc-20990101-000000-abcdef", bus.EventContext) {
			return r.Verdict == "refused: not pending" && r.Actor == "k2"
		}
		return false
	}, "no record of the call on another incident")

	// Another rung's subject: the server refuses airstar's publish on k2's
	// subject, and airstar on its own subject is refused by the orchestrator.
	air := e.rung("airstar")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err = bus.Tools(air, id, "k2").Call(ctx, razar.ToolRequest{Op: razar.ToolList})
	cancel()
	if !errors.Is(err, bus.ErrForbidden) {
		t.Errorf("airstar on k2's subject: %v, want the server's refusal", err)
	}
	rep = call(t, air, id, "airstar", razar.ToolRequest{Op: razar.ToolRead, Path: "config/ledger.conf"})
	if rep.OK || !strings.Contains(rep.Error, "not airstar's") || rep.Text != "" {
		t.Errorf("airstar's own subject while k2 holds the attempt: %+v", rep)
	}
	n++
	if r := e.expectContext(id, n, "read", "config/ledger.conf", "refused: not pending"); r.Actor != "airstar" {
		t.Errorf("refusal recorded for %q", r.Actor)
	}
	// The operator may not ask at all.
	op := e.dial(e.trust.Path(string(auth.Operator)), "")
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	_, err = bus.Tools(op, id, "k2").Call(ctx, razar.ToolRequest{Op: razar.ToolList})
	cancel()
	if !errors.Is(err, bus.ErrForbidden) {
		t.Errorf("operator on k2's subject: %v, want the server's refusal", err)
	}

	// Over the budget: 16 calls, 10 spent so far; the 17th is refused.
	rep = step(razar.ToolRequest{Op: razar.ToolList, Glob: "*.sh"}, true, "list", "*.sh", "ok")
	if rep.CallsLeft != 5 {
		t.Errorf("after 11 calls of 16: %d left", rep.CallsLeft)
	}
	for rep.CallsLeft > 0 {
		rep = step(razar.ToolRequest{Op: razar.ToolList, Glob: "*.sh"}, true, "list", "*.sh", "ok")
	}
	rep = step(razar.ToolRequest{Op: razar.ToolRead, Path: "config/ledger.conf"}, false, "read", "config/ledger.conf", "refused: over the call budget")
	if !strings.Contains(rep.Error, "budget") || rep.Text != "" {
		t.Errorf("over the budget: %+v", rep)
	}

	// k2 answers: its tools close.
	res := &bus.Result{Incident: id, Attempt: 1, Rung: "k2", Status: razar.StatusNoFix, Summary: "nothing"}
	k2store, err := jetstream.BindStream(context.Background(), k2)
	if err != nil {
		t.Fatal(err)
	}
	if err := k2store.Publish(context.Background(), bus.ResultSubject(id, "k2"), bus.ResultMsgID(id, 1), res); err != nil {
		t.Fatal(err)
	}
	e.waitShown(id, "airstar", 2)
	rep = call(t, k2, id, "k2", razar.ToolRequest{Op: razar.ToolList})
	if rep.OK || rep.Entries != nil {
		t.Errorf("k2 after its answer: %+v", rep)
	}
	n++
	e.expectContext(id, n, "list", "", "refused: not pending")

	// airstar's turn: attempt 1 in full.
	rep = call(t, air, id, "airstar", razar.ToolRequest{Op: razar.ToolAttempt, Attempt: 1})
	if !rep.OK || rep.Attempt == nil || rep.Attempt.Rung != "k2" || rep.Attempt.Summary != "nothing" {
		t.Errorf("attempt 1: %+v", rep)
	}
	n++
	e.expectContext(id, n, "attempt", "attempt 1", "ok")
	rep = call(t, air, id, "airstar", razar.ToolRequest{Op: razar.ToolAttempt, Attempt: 2})
	if rep.OK || !strings.Contains(rep.Error, "earlier attempt, 1 to 1") {
		t.Errorf("attempt 2 (its own): %+v", rep)
	}
}

func TestContextToolsCloseAtTheAttemptsDeadline(t *testing.T) {
	e := newToolsEnv(t, []config.AgentEntry{
		{Name: "k2", Backend: config.BackendExec, Timeout: razar.Duration(6 * time.Second)},
		{Name: "airstar", Backend: config.BackendExec, Timeout: razar.Duration(time.Hour)},
	}, 0)
	id := e.openIncident("k2")
	k2 := e.rung("k2")
	if rep := call(t, k2, id, "k2", razar.ToolRequest{Op: razar.ToolList}); !rep.OK || rep.CallsLeft != orchestrator.DefaultContextCalls-1 {
		t.Fatalf("before the deadline: %+v", rep)
	}
	rec, _, err := e.store.Incident(context.Background(), id)
	if err != nil || rec.Pending == nil {
		t.Fatalf("incident: %+v %v", rec, err)
	}
	deadline := rec.Pending.Deadline
	bustest.Eventually(t, 30*time.Second, func() bool { return time.Now().After(deadline) }, "deadline")
	rep := call(t, k2, id, "k2", razar.ToolRequest{Op: razar.ToolRead, Path: "config/ledger.conf"})
	if rep.OK || rep.Text != "" || !(strings.Contains(rep.Error, "deadline") || strings.Contains(rep.Error, "not k2's") || strings.Contains(rep.Error, "is over")) {
		t.Errorf("after the deadline: %+v", rep)
	}
	e.expectContext(id, 2, "read", "config/ledger.conf", "refused: not pending")
}

// TestRungRuntimeGivesEveryBackendTheWorkspaceAndItsTools: a backend run
// by the rung runtime finds the workspace in its task and reads a file
// through Task.Tools, on the bus, before it answers with a fix.
func TestRungRuntimeGivesEveryBackendTheWorkspaceAndItsTools(t *testing.T) {
	type seen struct {
		files []string
		read  string
		err   error
	}
	got := make(chan seen, 1)
	backend := razar.AgentFunc(func(ctx context.Context, task razar.Task) (razar.Fix, error) {
		var s seen
		if task.Workspace != nil {
			for _, f := range task.Workspace.Files {
				s.files = append(s.files, f.Path)
			}
		}
		if task.Tools == nil {
			s.err = errors.New("no tools in the task")
		} else {
			rep, err := task.Tools.Call(ctx, razar.ToolRequest{Op: razar.ToolRead, Path: "app.conf", From: 2, To: 2})
			s.read, s.err = rep.Text, err
			if err == nil && !rep.OK {
				s.err = errors.New(rep.Error)
			}
		}
		select {
		case got <- s:
		default:
		}
		return razar.Fix{Status: razar.StatusFixed, Summary: "mark healed", Diff: "--- /dev/null\n+++ b/healed\n@@ -0,0 +1 @@\n+ok\n"}, nil
	})
	m := newMesh(t, []rung{{name: "k2", timeout: 30 * time.Second, backend: backend}}, orchestrator.Config{Home: t.TempDir()})
	writeFile(t, filepath.Join(m.workdir, "app.conf"), "name=web\nport=99999\n")
	stop, err := m.orch.ServeContext(m.env.NC, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	rec := m.escalate("web: port 99999 out of range in app.conf")
	s := <-got
	if s.err != nil || s.read != "     2\tport=99999\n(lines 2-2 of 2)\n" {
		t.Errorf("the backend's read: %q, %v", s.read, s.err)
	}
	if len(s.files) == 0 || s.files[0] != "app.conf" {
		t.Errorf("the workspace's files: %v", s.files)
	}
	if rec.State != razar.IncidentHealed {
		t.Errorf("incident %s: %s", rec.State, rec.Reason)
	}
}
