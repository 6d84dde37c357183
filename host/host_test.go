package host

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/razar/razar"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
	"github.com/razar/razar/workspace"
)

// TestMain checks that a host leaves no goroutine behind once Run has
// returned (but the embedded server's own, which outlive its Shutdown
// briefly).
func TestMain(m *testing.M) {
	patch.SandboxMain() // the validation sandbox's init, when this binary was started as one
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}

// syncBuf is a log a host writes while a test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// testHome is a RAZAR home with one component, web, and rung crown.
func testHome(t *testing.T) string {
	t.Helper()
	h := t.TempDir()
	for p, content := range map[string]string{
		razar.Home("").Roster(): `{"agents": [{"name": "crown", "backend": "builtin"}]}`,
		razar.Home("").BootConfig(): `{"components": [{"name": "web", "priority": 1, "command": ["sleep", "600"], "workdir": "web",
			"start_grace": "200ms", "health_check": {"command": ["true"]}}]}`,
		"web/.keep": "",
	} {
		full := filepath.Join(h, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// testConfig is the Config cmd would fill for home h with its defaults,
// logging to log.
func testConfig(h string, log io.Writer) Config {
	red, _ := razar.NewRedactor(nil, nil)
	v := Variables{
		Threshold: orchestrator.DefaultThreshold, Warn: orchestrator.DefaultWarnThreshold,
		MetricsAddr: "127.0.0.1:0", ChakraAddr: "127.0.0.1:0",
		VerifyWindow: time.Second, SettleWindow: orchestrator.DefaultSettleWindow, ProbeInterval: time.Second,
		Limits: jetstream.Limits{StreamMaxBytes: jetstream.DefaultStreamMaxBytes, StateMaxBytes: jetstream.DefaultStateMaxBytes,
			ResultsMaxBytes: jetstream.DefaultResultsMaxBytes, StreamMaxMsgSize: jetstream.DefaultMaxMsgSize, StateMaxValueSize: jetstream.DefaultMaxValueSize},
		Approval: time.Hour, HostName: "test-host",
		ContextBytes: workspace.DefaultBudget, ContextCalls: orchestrator.DefaultContextCalls, FixNewFiles: orchestrator.NewFilesApprove,
	}
	return Config{
		Home: h, BootFile: razar.Home(h).BootConfig(), Retries: 3, RemoteAttempts: 1,
		NATSListen: "127.0.0.1:-1", AgentsMode: "external", Replicas: 1, Variables: v,
		Logger: func(string) (zerolog.Logger, func(), error) {
			return zerolog.New(log).With().Timestamp().Logger(), func() {}, nil
		},
		Redactor: func() *razar.Redactor { return red },
		Creds:    func(string) string { return "" },
		Reread: func() (*Reread, error) {
			return &Reread{Variables: v, Warnings: []string{"a warning about the settings"}, Undo: func() {}}, nil
		},
	}
}

// A Config missing what the host cannot run without is refused at Open
// as an invalid configuration, before anything is opened.
func TestOpenRefusesAnIncompleteConfig(t *testing.T) {
	cfg := testConfig(t.TempDir(), io.Discard)
	cfg.Logger, cfg.AgentsMode = nil, "inproc"
	_, err := Open(context.Background(), cfg)
	if !errors.Is(err, razar.ErrInvalidConfig) {
		t.Fatalf("Open: %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"Logger is required", "NewRung is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not say %q", err, want)
		}
	}
}

// A component named like a rung would share its heartbeat subject: Open
// refuses the boot config with a ConfigError naming the field.
func TestOpenRefusesAComponentNamedLikeARung(t *testing.T) {
	h := testHome(t)
	if err := os.WriteFile(razar.Home(h).BootConfig(), []byte(`{"components": [{"name": "crown", "priority": 1, "command": ["true"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), testConfig(h, io.Discard))
	var ce *razar.ConfigError
	if !errors.As(err, &ce) || ce.Field != "components[0].name" {
		t.Fatalf("Open: %v, want a ConfigError on components[0].name", err)
	}
}

// An Open that fails half-way (the metrics port is taken, after the bus
// and the store are up) says which variable fixes it and closes what it
// opened: the store's lock is free for the next boot.
func TestOpenThatFailsClosesWhatItOpened(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	h := testHome(t)
	cfg := testConfig(h, io.Discard)
	cfg.Variables.MetricsAddr = busy.Addr().String()
	_, err = Open(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "fix: set RAZAR_METRICS_ADDR or RAZAR_METRICS_PORT to a free port") {
		t.Fatalf("Open on a busy metrics port: %v", err)
	}
	unlock, err := jetstream.LockStore(razar.Home(h).StateDir())
	if err != nil {
		t.Fatalf("the store is still locked after a failed Open: %v", err)
	}
	unlock()
}

// A host opened on a home boots its component, serves the status page
// and the metrics, reloads, and on cancel stops the component and
// releases the store for the next boot.
func TestHostBootsServesReloadsAndShutsDown(t *testing.T) {
	h := testHome(t)
	var log syncBuf
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(h, &log)
	reread, undone := cfg.Reread, 0
	cfg.Reread = func() (*Reread, error) {
		r, err := reread()
		r.Undo = func() { undone++ }
		return r, err
	}
	hst, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hst.Run(ctx) }()
	base := "http://" + hst.ln.Addr().String()
	bustest.Eventually(t, 20*time.Second, func() bool {
		return strings.Contains(httpGet(base+"/metrics"), `razar_component_up{component="web"} 1`)
	},
		"web never came up:\n%s", log.String())
	if page := httpGet(base + "/"); !strings.Contains(page, "web") || !strings.Contains(log.String(), "RAZAR is up") {
		t.Errorf("the status page does not show web, or the log does not say RAZAR is up:\n%s\n%s", page, log.String())
	}
	msg, err := hst.Reload(ctx)
	if err != nil || !strings.HasPrefix(msg, "reloaded: ") || !strings.HasSuffix(msg, "\nwarning: a warning about the settings") {
		t.Errorf("Reload: %q, %v", msg, err)
	}
	// A reload that fails changes nothing: the variables it read are undone.
	if err := os.WriteFile(razar.Home(h).BootConfig(), []byte(`{"components": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := hst.Reload(ctx); !errors.Is(err, razar.ErrInvalidConfig) || undone != 1 {
		t.Errorf("Reload of a broken boot config: %v, undone %d times; want ErrInvalidConfig, undone once", err, undone)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !strings.Contains(log.String(), "shutting down: components, rungs, orchestrator, bus") {
		t.Errorf("no orderly shutdown in the log:\n%s", log.String())
	}
	unlock, err := jetstream.LockStore(razar.Home(h).StateDir())
	if err != nil {
		t.Fatalf("the store is still locked after Run: %v", err)
	}
	unlock()
}

// httpGet is the body at url, "" when it does not answer 200.
func httpGet(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(body)
}
