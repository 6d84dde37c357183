package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/alert/alerttest"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/jetstream/bustest"
)

// haltMessage is the supervisor's boot-halt alert, exactly as operators grep for it.
const haltMessage = "Boot sequence halted; configuration rolled back to safe defaults"

func TestAlertsReachWebhookAndAlertmanager(t *testing.T) {
	am := alerttest.Alertmanager(t)
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
	a := New(env.Store, zerolog.Nop()).WithSinks(Sinks{Webhook: hook.URL, Alertmanager: am, Timeout: 2 * time.Second})
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
	am := alerttest.Alertmanager(t)
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
	a := New(env.Store, zerolog.Nop()).WithSinks(Sinks{Webhook: hook.URL, Alertmanager: am, Timeout: 2 * time.Second})
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
	a := New(env.Store, zerolog.Nop()).WithSinks(Sinks{Webhook: hook.URL, Timeout: 2 * time.Second})
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

// amAlertsFull lists Alertmanager's active alerts with their generatorURL.
func amAlertsFull(am string) []amAlert {
	var alerts []amAlert
	resp, err := http.Get(am + "/api/v2/alerts?active=true&silenced=false&inhibited=false&unprocessed=true")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&alerts)
	return alerts
}

// homeAlerter is the Alerter of one RAZAR home on host, as the daemon
// builds it: the home's id from its state/home.id, its open alerts in
// state/alerts.json, its status page.
func homeAlerter(t *testing.T, env *bustest.Env, am, host, home string) *Alerter {
	t.Helper()
	id, err := homedir.ID(filepath.Join(home, "state", "home.id"))
	if err != nil {
		t.Fatal(err)
	}
	return New(env.Store, zerolog.Nop()).WithSinks(Sinks{Alertmanager: am, Timeout: 2 * time.Second,
		Host: host, Home: id, StatusURL: "http://" + host + ":9360/", StateFile: filepath.Join(home, "state", "alerts.json")})
}

// TestTwoRazarsOnOneAlertmanagerNeverResolveEachOthersAlert: two RAZAR
// homes (two hosts, and two homes on one host) raise the same boot halt
// in one real Alertmanager: it lists three alerts, each with its host,
// home and status page; when one RAZAR resolves its own, the other two
// stay active.
func TestTwoRazarsOnOneAlertmanagerNeverResolveEachOthersAlert(t *testing.T) {
	am := alerttest.Alertmanager(t)
	env := bustest.New(t)
	ctx := context.Background()
	one := homeAlerter(t, env, am, "node-1", t.TempDir())
	two := homeAlerter(t, env, am, "node-2", t.TempDir())
	twin := homeAlerter(t, env, am, "node-1", t.TempDir()) // a second home on node-1
	for _, a := range []*Alerter{one, two, twin} {
		defer a.Close()
		a.RaiseNamed(ctx, "RazarBootHalted", bus.SeverityCritical, bus.SystemComponent, "", haltMessage)
	}
	halts := func() map[string]amAlert {
		got := map[string]amAlert{}
		for _, al := range amAlertsFull(am) {
			if al.Labels["alertname"] == "RazarBootHalted" {
				got[al.Labels["host"]+"/"+al.Labels["razar_home"]] = al
			}
		}
		return got
	}
	key := func(a *Alerter) string { return a.sinks.Host + "/" + a.sinks.Home }
	bustest.Eventually(t, 10*time.Second, func() bool { return len(halts()) == 3 },
		"Alertmanager does not list three boot halts, one per RAZAR home: %v", bustest.Lazy(func() string { return fmt.Sprint(halts()) }))
	for _, a := range []*Alerter{one, two, twin} {
		al := halts()[key(a)]
		if al.GeneratorURL != a.sinks.StatusURL || a.sinks.Home == "" {
			t.Errorf("%s's alert %+v lacks its status page %s or its home", a.sinks.Host, al, a.sinks.StatusURL)
		}
	}
	one.ResolveNamed(ctx, "RazarBootHalted", bus.SeverityCritical, bus.SystemComponent, "")
	bustest.Eventually(t, 10*time.Second, func() bool { _, ok := halts()[key(one)]; return !ok },
		"node-1's resolved halt is still active in Alertmanager")
	if got := halts(); len(got) != 2 || got[key(two)].Labels == nil || got[key(twin)].Labels == nil {
		t.Fatalf("node-1 resolving its halt ended another RAZAR's: active now %v", got)
	}
}

// TestNextBootResolvesAnAlertWhoseCauseEndedWhileStopped: a RAZAR raises
// two incident failures and stops; while it is down, one component is
// released. The next run's Reconcile resolves that one's alert in a real
// Alertmanager and keeps the other firing, and the open-alerts file says
// so.
func TestNextBootResolvesAnAlertWhoseCauseEndedWhileStopped(t *testing.T) {
	am := alerttest.Alertmanager(t)
	env := bustest.New(t)
	ctx := context.Background()
	home := t.TempDir()
	first := homeAlerter(t, env, am, "node-1", home)
	first.Raise(ctx, bus.SeverityCritical, "web", "inc-1", "web: incident inc-1 failed: no fix held")
	first.Raise(ctx, bus.SeverityCritical, "db", "inc-2", "db: incident inc-2 failed: no fix held")
	first.Close()
	active := func() map[string]bool {
		got := map[string]bool{}
		for _, al := range amAlertsFull(am) {
			got[al.Labels["component"]] = true
		}
		return got
	}
	bustest.Eventually(t, 10*time.Second, func() bool { a := active(); return a["web"] && a["db"] }, "the two failures never reached Alertmanager")

	next := homeAlerter(t, env, am, "node-1", home)
	defer next.Close()
	var asked []string
	kept, resolved, err := next.Reconcile(ctx, func(m bus.AlertMsg) bool {
		asked = append(asked, m.Component)
		return m.Component == "db" // web was released while RAZAR was stopped
	})
	if err != nil || kept != 1 || resolved != 1 || len(asked) != 2 {
		t.Fatalf("Reconcile kept %d, resolved %d (asked about %v), err %v; want 1, 1, both asked", kept, resolved, asked, err)
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return !active()["web"] }, "web's alert is still active after the next boot")
	if !active()["db"] {
		t.Fatal("db's alert, whose cause lasts, was resolved too")
	}
	if f := next.Firing(); len(f) != 1 || f[0].Component != "db" {
		t.Fatalf("firing after Reconcile %+v, want db's alone", f)
	}
	// Released online now: the resolve reaches the alert the last run raised.
	next.Resolve(ctx, "db", "")
	bustest.Eventually(t, 10*time.Second, func() bool { return !active()["db"] }, "db's alert from the last run did not resolve")
	b, err := os.ReadFile(filepath.Join(home, "state", "alerts.json"))
	if err != nil || strings.Contains(string(b), `"db"`) || strings.Contains(string(b), `"web"`) {
		t.Fatalf("state/alerts.json still lists an ended alert: %s (%v)", b, err)
	}
}

// TestAnUnreadableOpenAlertsFileIsSetAsideWithItsName: garbage in
// state/alerts.json is an error naming the file, set aside as .bad, and
// the alerter goes on.
func TestAnUnreadableOpenAlertsFileIsSetAsideWithItsName(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	file := filepath.Join(home, "state", "alerts.json")
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("{torn"), 0o640); err != nil {
		t.Fatal(err)
	}
	a := homeAlerter(t, env, "", "node-1", home)
	defer a.Close()
	_, _, err := a.Reconcile(context.Background(), func(bus.AlertMsg) bool { return true })
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("Reconcile of a torn file: %v, want an error naming %s", err, file)
	}
	if _, err := os.Stat(file + ".bad"); err != nil {
		t.Fatalf("the torn file was not set aside: %v", err)
	}
}
