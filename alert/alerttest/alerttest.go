// Package alerttest runs a real Alertmanager for tests: Debian's
// prometheus-alertmanager on a loopback port with a temp store, the one way
// RAZAR's tests reach an Alertmanager. It is for tests only.
package alerttest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/razar/razar/internal/wait"
	"github.com/razar/razar/jetstream/bustest"
)

// Alertmanager starts prometheus-alertmanager with a receiver that drops
// every notification, stops it at t's cleanup, and returns its base URL
// once it answers /-/ready. The test fails, naming the fix, when the
// binary is missing.
func Alertmanager(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		t.Fatal("prometheus-alertmanager is missing: run `make tools` (Debian package prometheus-alertmanager)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	wait.For(t, 20*time.Second, func() error {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return fmt.Errorf("alertmanager did not come up: %v\n%s", err, out)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("alertmanager not ready: %s\n%s", resp.Status, out)
		}
		return nil
	})
	return base
}

// lockedBuf is the Alertmanager's output, written by its pipes and read by
// a failing wait.
type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
