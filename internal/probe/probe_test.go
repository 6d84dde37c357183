package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/internal/wait"
)

// writeProbeScript writes an executable sh script into dir.
func writeProbeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProbeCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	writeProbeScript(t, dir, "check.sh", `test -f marker`)
	writeProbeScript(t, dir, "noisy.sh", `i=0; while [ $i -lt 400 ]; do echo "line $i of noise"; i=$((i+1)); done; echo LAST-LINE >&2; exit 4`)
	writeProbeScript(t, dir, "quiet.sh", `exit 2`)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeProbeScript(t, filepath.Join(dir, "sub"), "up.sh", `test -f marker && test -f sub/up.sh`) // cwd is workdir, not sub

	tests := []struct {
		name    string
		command []string
		workdir string
		env     []string
		wantErr []string // substrings of the error; nil means healthy
		notErr  string   // a substring the error must not hold
	}{
		{name: "exit 0", command: []string{"sh", "-c", "exit 0"}},
		{name: "exit 1 with output", command: []string{"sh", "-c", "echo not ready yet; exit 1"},
			wantErr: []string{"command probe sh -c echo not ready yet; exit 1: exit status 1: not ready yet"}},
		{name: "stderr is captured", command: []string{"sh", "-c", "echo on-stderr >&2; exit 3"},
			wantErr: []string{"exit status 3", "on-stderr"}},
		{name: "no output", command: []string{"./quiet.sh"}, workdir: dir,
			wantErr: []string{"command probe ./quiet.sh: exit status 2 (no output)"}},
		{name: "long output keeps the tail", command: []string{"./noisy.sh"}, workdir: dir,
			wantErr: []string{"exit status 4", "LAST-LINE", ": ..."}, notErr: "line 0 of noise"},
		{name: "relative path against workdir", command: []string{"./check.sh"}, workdir: dir},
		{name: "relative path in a subdirectory", command: []string{"sub/up.sh"}, workdir: dir},
		{name: "cwd is workdir", command: []string{"sh", "-c", "test -f marker"}, workdir: dir},
		{name: "cwd is not workdir without one", command: []string{"sh", "-c", "test -f marker"},
			wantErr: []string{"exit status 1"}},
		{name: "env is appended", command: []string{"sh", "-c", `test "$PROBE_FOO" = bar && test -n "$PATH"`},
			env: []string{"PROBE_FOO=bar"}},
		{name: "env missing", command: []string{"sh", "-c", `test "$PROBE_FOO" = bar`},
			wantErr: []string{"exit status 1"}},
		{name: "missing script", command: []string{"./nope.sh"}, workdir: dir,
			wantErr: []string{"command probe ./nope.sh: start:", "no such file or directory"}},
		{name: "missing binary", command: []string{"razar-no-such-binary"},
			wantErr: []string{"command probe razar-no-such-binary: start:", "not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(t.Context(), razar.HealthCheck{Command: tt.command}, tt.workdir, tt.env)
			checkProbeErr(t, err, tt.wantErr, tt.notErr)
			if err != nil && len(err.Error()) > 700 {
				t.Errorf("error is %d bytes, want about 512 of output at most", len(err.Error()))
			}
		})
	}
}

func checkProbeErr(t *testing.T, err error, want []string, not string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Probe = %v, want healthy", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Probe = nil, want an error holding %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Probe = %q, want it to hold %q", err, w)
		}
	}
	if not != "" && strings.Contains(err.Error(), not) {
		t.Errorf("Probe = %q, want it not to hold %q", err, not)
	}
}

func TestProbeCommandTimeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // hc.Timeout
		ctxTO   time.Duration // ctx deadline, 0 for none
	}{
		{name: "health check timeout", timeout: 200 * time.Millisecond},
		{name: "ctx deadline sooner", timeout: time.Hour, ctxTO: 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.ctxTO > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTO)
				defer cancel()
			}
			hc := razar.HealthCheck{Command: []string{"sh", "-c", "sleep 1000"}, Timeout: razar.Duration(tt.timeout)}
			err := Probe(ctx, hc, "", nil)
			if err == nil {
				t.Fatal("Probe = nil, want a timeout")
			}
			if !strings.Contains(err.Error(), "command probe sh -c sleep 1000: timed out after ") {
				t.Errorf("Probe = %q, want it to say it timed out", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Probe = %v, want it to match context.DeadlineExceeded", err)
			}
		})
	}
}

// TestProbeCommandKillsGroup checks that a timed-out probe takes the
// script's children with it, including one that holds the output pipe.
func TestProbeCommandKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	writeProbeScript(t, dir, "spawn.sh", `sleep 1000 &
echo $! > child.pid.tmp && mv child.pid.tmp child.pid
wait`)
	hc := razar.HealthCheck{Command: []string{"./spawn.sh"}, Timeout: razar.Duration(300 * time.Millisecond)}
	err := Probe(t.Context(), hc, dir, nil)
	if err == nil || !strings.Contains(err.Error(), "timed out after") {
		t.Fatalf("Probe = %v, want a timeout", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the script never wrote its child's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	wait.Until(t, 10*time.Second, func() bool { return !probeAlive(pid) },
		"child %d of a timed-out probe is still running", pid)
}

// probeAlive reports whether pid is a running (not zombie) process.
func probeAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "123 (sleep) Z ...".
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func TestProbeCommandCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Probe(ctx, razar.HealthCheck{Command: []string{"sh", "-c", "exit 0"}}, "", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Probe = %v, want context.Canceled", err)
	}
	if !strings.HasPrefix(err.Error(), "command probe sh -c exit 0: ") {
		t.Errorf("Probe = %q, want it to name the probe", err)
	}
}

func TestProbeHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "warming up", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ready", http.StatusFound)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	closed := probeClosedAddr(t)

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		wantErr []string
		isErr   error
	}{
		{name: "200", url: srv.URL + "/ready"},
		{name: "204", url: srv.URL + "/empty"},
		{name: "redirect followed", url: srv.URL + "/moved"},
		{name: "503", url: srv.URL + "/down", wantErr: []string{"http probe " + srv.URL + "/down: status 503"}},
		{name: "404", url: srv.URL + "/nope", wantErr: []string{"http probe " + srv.URL + "/nope: status 404"}},
		{name: "refused", url: "http://" + closed + "/ready", wantErr: []string{"http probe http://" + closed + "/ready: ", "connection refused"}},
		{name: "bad url", url: "://nope", wantErr: []string{"http probe ://nope: "}},
		{name: "hang", url: srv.URL + "/hang", timeout: 200 * time.Millisecond,
			wantErr: []string{"http probe " + srv.URL + "/hang: timed out after "}, isErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(t.Context(), razar.HealthCheck{HTTP: tt.url, Timeout: razar.Duration(tt.timeout)}, "", nil)
			checkProbeErr(t, err, tt.wantErr, "")
			if tt.isErr != nil && !errors.Is(err, tt.isErr) {
				t.Errorf("Probe = %v, want it to match %v", err, tt.isErr)
			}
		})
	}
}

// probeClosedAddr returns a loopback address nothing listens on.
func probeClosedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	closed := probeClosedAddr(t)

	tests := []struct {
		name    string
		addr    string
		wantErr []string
	}{
		{name: "listening", addr: ln.Addr().String()},
		{name: "refused", addr: closed, wantErr: []string{"tcp probe " + closed + ": connect: connection refused"}},
		{name: "no port", addr: "127.0.0.1", wantErr: []string{"tcp probe 127.0.0.1: ", "missing port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(t.Context(), razar.HealthCheck{TCP: tt.addr}, "", nil)
			checkProbeErr(t, err, tt.wantErr, "")
		})
	}
}

func TestProbeEmpty(t *testing.T) {
	err := Probe(t.Context(), razar.HealthCheck{}, "", nil)
	if !errors.Is(err, razar.ErrInvalidConfig) {
		t.Fatalf("Probe = %v, want razar.ErrInvalidConfig", err)
	}
}
