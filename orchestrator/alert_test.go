package orchestrator

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// startAlertmanager runs Debian's prometheus-alertmanager on a loopback port
// with a temp store, stopped at cleanup, and returns its base URL.
func startAlertmanager(t *testing.T) string {
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	bustest.Eventually(t, 20*time.Second, func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, "alertmanager did not come up")
	return base
}

// haltMessage is the supervisor's boot-halt alert, exactly as operators grep for it.
const haltMessage = "Boot sequence halted; configuration rolled back to safe defaults"

func TestAlertsReachWebhookAndAlertmanager(t *testing.T) {
	am := startAlertmanager(t)
	got := make(chan bus.AlertMsg, 10)
	var fails int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fails < 1 { // the first try fails: delivery retries
			fails++
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var m bus.AlertMsg
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		got <- m
	}))
	defer hook.Close()

	env := bustest.New(t)
	a := NewAlerter(env.Store, zerolog.Nop()).WithSinks(AlertSinks{Webhook: hook.URL, Alertmanager: am, Timeout: 2 * time.Second})
	a.RaiseNamed(context.Background(), "RazarBootHalted", bus.SeverityCritical, bus.SystemComponent, "", haltMessage)
	a.Close()

	select {
	case m := <-got:
		if m.Message != haltMessage || m.Severity != bus.SeverityCritical {
			t.Fatalf("webhook got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("webhook got nothing")
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get(am + "/api/v2/alerts")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var alerts []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		}
		if json.NewDecoder(resp.Body).Decode(&alerts) != nil {
			return false
		}
		for _, al := range alerts {
			if al.Labels["alertname"] == "RazarBootHalted" && al.Labels["severity"] == "critical" && al.Annotations["summary"] == haltMessage {
				return true
			}
		}
		return false
	}, "alert not in Alertmanager")
}
