package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// amAlerts lists Alertmanager's active alerts (resolved ones are not active).
func amAlerts(t *testing.T, am string) []struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
} {
	t.Helper()
	var alerts []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	}
	resp, err := http.Get(am + "/api/v2/alerts?active=true&silenced=false&inhibited=false&unprocessed=true")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&alerts)
	return alerts
}

// TestHealedIncidentResolvesItsAlertInAlertmanager: a warning for an
// incident fires in a real Alertmanager with its runbook link, and once
// the incident's alerts are resolved (it healed) Alertmanager no longer
// lists it as active; the webhook got the firing and the resolved post,
// with one fingerprint.
func TestHealedIncidentResolvesItsAlertInAlertmanager(t *testing.T) {
	am := startAlertmanager(t)
	var mu sync.Mutex
	var posts []bus.AlertMsg
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m bus.AlertMsg
		if err := json.NewDecoder(r.Body).Decode(&m); err == nil {
			mu.Lock()
			posts = append(posts, m)
			mu.Unlock()
		}
	}))
	defer hook.Close()
	env := bustest.New(t)
	a := NewAlerter(env.Store, zerolog.Nop()).WithSinks(AlertSinks{Webhook: hook.URL, Alertmanager: am, Timeout: 2 * time.Second})
	defer a.Close()
	ctx := context.Background()
	a.Raise(ctx, bus.SeverityWarning, "web", "inc-1", "web: escalation 3 of this cycle")
	bustest.Eventually(t, 10*time.Second, func() bool {
		for _, al := range amAlerts(t, am) {
			if al.Labels["incident"] == "inc-1" && strings.HasSuffix(al.Annotations["runbook_url"], "#razarescalationwarning") {
				return true
			}
		}
		return false
	}, "the warning with its runbook link never reached Alertmanager")
	a.Resolve(ctx, "web", "inc-1")
	bustest.Eventually(t, 10*time.Second, func() bool {
		for _, al := range amAlerts(t, am) {
			if al.Labels["incident"] == "inc-1" {
				return false
			}
		}
		return true
	}, "Alertmanager still lists the resolved alert as active")
	bustest.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(posts) == 2
	}, "the webhook did not get the firing and the resolved post")
	mu.Lock()
	defer mu.Unlock()
	if posts[0].Status != "firing" || posts[1].Status != "resolved" || posts[0].Fingerprint == "" || posts[0].Fingerprint != posts[1].Fingerprint {
		t.Fatalf("webhook posts %+v, want firing then resolved with one fingerprint", posts)
	}
	if len(a.Firing()) != 0 {
		t.Fatalf("still firing after the resolve: %+v", a.Firing())
	}
}

// TestABurstOfWarningsForOneIncidentIsOneAlert: six raises of one cause in
// a row reach the webhook once; the alert keeps the latest text.
func TestABurstOfWarningsForOneIncidentIsOneAlert(t *testing.T) {
	var mu sync.Mutex
	n := 0
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
	}))
	defer hook.Close()
	env := bustest.New(t)
	a := NewAlerter(env.Store, zerolog.Nop()).WithSinks(AlertSinks{Webhook: hook.URL, Timeout: 2 * time.Second})
	for i := 1; i <= 6; i++ {
		a.Raise(context.Background(), bus.SeverityWarning, "web", "inc-1", fmt.Sprintf("web: escalation %d", i))
	}
	a.Close() // waits for the deliveries
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Fatalf("the webhook got %d posts for one incident's burst of warnings, want 1", n)
	}
	if f := a.Firing(); len(f) != 1 || f[0].Message != "web: escalation 6" {
		t.Fatalf("firing %+v, want one alert with the latest text", f)
	}
}
