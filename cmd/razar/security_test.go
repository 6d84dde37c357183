package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// entries lists what is under dir, to show a refused boot created nothing.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBootRefusesAHomeOrStateOthersCanWrite: with the home or state/ open
// to every user, `razar boot` exits 2 with one line naming the directory and
// `chmod o-w DIR`, before it writes anything there.
func TestBootRefusesAHomeOrStateOthersCanWrite(t *testing.T) {
	for _, open := range []string{".", "state"} {
		t.Run(open, func(t *testing.T) {
			h := home(t, crownRoster, map[string]string{"state/.keep": ""})
			dir := filepath.Join(h, open)
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
			before := entries(t, h)
			_, stderr, code := runCLI(t, "--home", h, "boot", "--nats-listen", "127.0.0.1:0")
			want := "chmod o-w " + filepath.Clean(dir)
			if code != 2 || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q: want exit 2 and one line with %q", code, stderr, want)
			}
			if after := entries(t, h); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Fatalf("a refused boot changed the home:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// TestBootWarnsOnAGroupWritableHome: a group-writable home boots, with a
// warning that names it.
func TestBootWarnsOnAGroupWritableHome(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	if err := os.Chmod(h, 0o770); err != nil {
		t.Fatal(err)
	}
	p := start(t, h, nil, "boot", "--once", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("boot --once exit %d:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, h+" is writable by its group") || !strings.Contains(out, "chmod g-w") {
		t.Fatalf("no group-writable warning:\n%s", out)
	}
}

// hostile is text a rung controls, meant to drive the operator's terminal:
// retitle the window, clear the screen, overwrite the line, reorder it,
// and start a line of its own that looks like RAZAR's.
const hostile = "\x1b]0;owned\x07\x1b[2Jvisible\rtext\u202e\x9b31m\nHEALED by crown\tdone"

// terminalSafe fails the test when out has a control character other
// than the newline ending each line, or a bidirectional override.
func terminalSafe(t *testing.T, out string) {
	t.Helper()
	for i, r := range out {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' {
			t.Fatalf("output has control character %U at byte %d:\n%q", r, i, out)
		}
	}
}

// TestAuditPrintsRungTextWithoutControlCharacters: a rung's summary, error,
// reason and alert message reach `razar audit` with escapes stripped and
// line breaks flattened: one line per record, the words still there.
func TestAuditPrintsRungTextWithoutControlCharacters(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	recs := []*bus.AuditRecord{
		{Event: bus.EventAttempt, Component: "web", Incident: "inc-1", Agent: "k2", Attempt: 1, Outcome: "no_fix", Summary: hostile, Error: hostile, Reason: hostile},
		{Event: bus.EventFailed, Component: "web", Incident: "inc-1", Reason: hostile},
		{Event: bus.EventAlert, Component: "web", Severity: "warning", Message: hostile},
		{Event: bus.EventSkipped, Component: "web", Agent: "k2", Error: hostile},
	}
	for _, r := range recs {
		if err := env.Store.Audit(ctx, r, ""); err != nil {
			t.Fatal(err)
		}
	}
	h := home(t, crownRoster, nil)
	out, stderr, code := runCLI(t, "--home", h, "audit", "--nats", env.URL)
	if code != 0 {
		t.Fatalf("audit exit %d: %s", code, stderr)
	}
	terminalSafe(t, out)
	if n := strings.Count(out, "\n"); n != len(recs) {
		t.Fatalf("%d lines for %d records:\n%s", n, len(recs), out)
	}
	if !strings.Contains(out, "visibletext") {
		t.Fatalf("the rung's words are gone:\n%s", out)
	}
}

// TestStatusPrintsRungReasonsWithoutControlCharacters: a rung that reports
// its readiness with a hostile reason cannot drive the terminal of the
// operator who runs `razar status`.
func TestStatusPrintsRungReasonsWithoutControlCharacters(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "k2", "backend": "exec", "command": ["false"]}]}`, nil)
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0", "--agents", "external")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The rung reports through its heartbeat, as its own identity; the
	// orchestrator records the reason.
	nc, err := bus.Connect(ctx, url, "hostile-rung", zerolog.Nop(),
		bus.WithCreds(filepath.Join(h, "state/identities/k2.creds")), bus.WithInboxPrefix("_INBOX.k2"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bus.Beat(nc, &bus.Heartbeat{Name: "k2", Kind_: "agent", Status: "unavailable", Detail: hostile, Time: time.Now()})
	bustest.Eventually(t, 10*time.Second, func() bool {
		out, _ := exec.Command(razarBin, "--home", h, "status").Output()
		return strings.Contains(string(out), "visibletext")
	}, "status never showed the rung's reason")
	out, _ := exec.Command(razarBin, "--home", h, "status").Output()
	terminalSafe(t, string(out))
	if !strings.Contains(string(out), "visibletext") {
		t.Fatalf("status lacks the rung's reason:\n%s", out)
	}
}

// TestBootRefusesANonLoopbackNATSListen: the embedded server has no TLS,
// so `razar boot --nats-listen` on every interface (or any address beyond
// loopback) exits 2 with one line naming the flag and the way out, before
// it listens or writes anything.
func TestBootRefusesANonLoopbackNATSListen(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:4222", "nats.example:4222"} {
		h := home(t, crownRoster, nil)
		before := entries(t, h)
		_, stderr, code := runCLI(t, "--home", h, "boot", "--nats-listen", listen)
		if code != 2 || !strings.Contains(stderr, "--nats-listen "+listen) || !strings.Contains(stderr, "--nats-listen-insecure") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Fatalf("--nats-listen %s: exit %d, stderr %q: want exit 2 and one line naming the flag and --nats-listen-insecure", listen, code, stderr)
		}
		if after := entries(t, h); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Fatalf("--nats-listen %s: a refused boot changed the home:\nbefore %q\nafter  %q", listen, before, after)
		}
	}
}

// TestBootOnANonLoopbackNATSListenWithInsecureWarns: with the explicit
// --nats-listen-insecure, the bus listens on every interface and RAZAR says
// loudly what that exposes.
func TestBootOnANonLoopbackNATSListenWithInsecureWarns(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	p := start(t, h, nil, "boot", "--once", "--nats-listen", "0.0.0.0:0", "--nats-listen-insecure")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("boot --once exit %d:\n%s", code, p.out)
	}
	out := p.out.String()
	if !strings.Contains(out, "SECURITY") || !strings.Contains(out, "0.0.0.0:0") || !strings.Contains(out, "stop components and apply patches") {
		t.Fatalf("no warning about the open bus:\n%s", out)
	}
}

// TestBootSetsTheStoreLimitsFromTheEnvironment: the RAZAR_STREAM_*,
// RAZAR_RESULTS_* and RAZAR_STATE_* variables reach the streams and the
// bucket, and a rung process opening the store afterwards keeps them.
func TestBootSetsTheStoreLimitsFromTheEnvironment(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "k2", "backend": "exec", "command": ["false"]}]}`, nil)
	_, url := boot(t, h, []string{"RAZAR_STREAM_MAX_BYTES=512MiB", "RAZAR_STREAM_MAX_MSG_SIZE=256KiB", "RAZAR_STREAM_MAX_AGE=30d",
		"RAZAR_STATE_MAX_BYTES=64MiB", "RAZAR_STATE_MAX_VALUE_SIZE=128KiB", "RAZAR_RESULTS_MAX_BYTES=96MiB"}, "--nats-listen", "127.0.0.1:0", "--agents", "external")
	rung := start(t, h, []string{"RAZAR_NATS_URL=" + url}, "agent", "k2")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, url, "observer", zerolog.Nop(), bus.WithCreds(filepath.Join(h, "state/identities/observer.creds")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bustest.Eventually(t, 20*time.Second, func() bool {
		st, err := jetstream.Bind(ctx, nc)
		if err != nil {
			return false
		}
		_, err = st.AgentStatus(ctx, "k2")
		return err == nil
	}, "the k2 rung never reported; output:\n%s", rung.out)
	js, err := natsjs.New(nc.NATS())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][3]int64{
		bus.StreamName:        {512 << 20, 256 << 10, int64(30 * 24 * time.Hour)},
		bus.ResultsStreamName: {96 << 20, bus.MaxResultBytes, int64(30 * 24 * time.Hour)},
		"KV_" + bus.KVBucket:  {64 << 20, 128 << 10, 0},
	} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		c := st.CachedInfo().Config
		if got := [3]int64{c.MaxBytes, int64(c.MaxMsgSize), int64(c.MaxAge)}; got != want {
			t.Errorf("%s: max bytes, max message size, max age %v, want %v", name, got, want)
		}
	}
}

func TestBootRefusesABadStoreLimitNamingTheVariable(t *testing.T) {
	h := home(t, crownRoster, nil)
	t.Setenv("RAZAR_STREAM_MAX_BYTES", "lots")
	_, stderr, code := runCLI(t, "--home", h, "boot", "--nats-listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "RAZAR_STREAM_MAX_BYTES") || !strings.Contains(stderr, "MiB") {
		t.Fatalf("exit %d, stderr %q: want exit 2 naming the variable and the form", code, stderr)
	}
}
