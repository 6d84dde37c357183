package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/alert/alerttest"
	"github.com/razar/razar/jetstream/bustest"
)

// TestTwoHomesOnOneAlertmanagerAndAnOfflineReleaseResolvedAtNextBoot: two
// RAZAR homes (hosts node-a and node-b) halt on a broken web and page one
// real Alertmanager: it lists each one's RazarIncidentFailed and
// RazarBootHalted apart, labelled with its host and home. node-a's
// operator fixes web and runs `razar release web` with RAZAR stopped; at
// node-a's next boot both of node-a's alerts resolve, while node-b's stay
// active.
func TestTwoHomesOnOneAlertmanagerAndAnOfflineReleaseResolvedAtNextBoot(t *testing.T) {
	t.Parallel()
	am := alerttest.Alertmanager(t)
	roster := `{"agents": [{"name": "crown", "backend": "builtin"}]}`
	homes := map[string]string{"node-a": home(t, roster, map[string]string{"web/broken": ""}), "node-b": home(t, roster, map[string]string{"web/broken": ""})}
	env := func(host string) []string {
		return []string{"RAZAR_RSTAR_THRESHOLD=0", "RAZAR_ALERTMANAGER_URL=" + am, "RAZAR_HOST=" + host}
	}
	for host, h := range homes {
		p := start(t, h, env(host), "boot", "--once", "--retries", "0", "--nats-listen", "127.0.0.1:0")
		if code := p.wait(t, 60*time.Second); code != 1 {
			t.Fatalf("%s: boot --once exit %d, want 1 (halted)\n%s", host, code, p.out)
		}
	}
	ids := map[string]string{}
	for host, h := range homes {
		b, err := os.ReadFile(filepath.Join(h, "state/home.id"))
		if err != nil {
			t.Fatal(err)
		}
		ids[host] = strings.TrimSpace(string(b))
	}
	// active lists the alerts Alertmanager holds as "host alertname".
	active := func() []string {
		var got []string
		for _, al := range activeAlerts(am) {
			host := al.Labels["host"]
			if ids[host] == "" || al.Labels["razar_home"] != ids[host] {
				got = append(got, "unlabelled "+al.Labels["alertname"])
				continue
			}
			got = append(got, host+" "+al.Labels["alertname"])
		}
		sort.Strings(got)
		return got
	}
	both := "node-a RazarBootHalted,node-a RazarIncidentFailed,node-b RazarBootHalted,node-b RazarIncidentFailed"
	bustest.Eventually(t, 20*time.Second, func() bool { return strings.Join(active(), ",") == both },
		"Alertmanager does not hold each home's two pages apart: %v", bustest.Lazy(func() string { return strings.Join(active(), ",") }))

	a := homes["node-a"]
	if err := os.Remove(filepath.Join(a, "web/broken")); err != nil {
		t.Fatal(err)
	}
	if out, code := runRazar(t, a, nil, "release", "web"); code != 0 {
		t.Fatalf("release with RAZAR stopped: exit %d\n%s", code, out)
	}
	p := start(t, a, env("node-a"), "boot", "--once", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("node-a's next boot --once: exit %d, want 0\n%s", code, p.out)
	}
	want := "node-b RazarBootHalted,node-b RazarIncidentFailed"
	bustest.Eventually(t, 20*time.Second, func() bool { return strings.Join(active(), ",") == want },
		"after node-a's next boot Alertmanager holds %v, want node-b's pages alone", bustest.Lazy(func() string { return strings.Join(active(), ",") }))
}

// TestBadStatusURLIsRefusedWithTheFix: a RAZAR_STATUS_URL that is no
// http(s) URL stops the boot with exit 2 and a line naming the variable
// and an example of a good one; nothing is written to state/.
func TestBadStatusURLIsRefusedWithTheFix(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, nil)
	p := start(t, h, []string{"RAZAR_STATUS_URL=razar-1:9360"}, "boot", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 20*time.Second); code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, "RAZAR_STATUS_URL") || !strings.Contains(out, "http://") {
		t.Fatalf("want an error naming RAZAR_STATUS_URL and the fix, got:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(h, "state/home.id")); !os.IsNotExist(err) {
		t.Fatalf("a refused boot wrote state/home.id: %v", err)
	}
}
