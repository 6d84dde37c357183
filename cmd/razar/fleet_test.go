package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// The fleet simulation of docs/SCALE.md §5: three RAZARs whose components
// have the same names, on one NATS cluster. In one account today's names
// collide; with one account per host (the design) nothing does, and a
// fleet account addresses one host through a mapped import.

// fleetAccounts is the cluster's accounts: SHARED (what a naive fleet
// does), one per host, and FLEET, which reaches each host's lifecycle bus
// under the host's token.
const fleetAccounts = `accounts {
  SHARED { jetstream: enabled, users: [{user: shared, password: shared-pw}] }
  HOSTA { jetstream: enabled, users: [{user: hosta, password: a-pw}], exports: [{service: "razar.lifecycle.>"}] }
  HOSTB { jetstream: enabled, users: [{user: hostb, password: b-pw}], exports: [{service: "razar.lifecycle.>"}] }
  HOSTC { jetstream: enabled, users: [{user: hostc, password: c-pw}], exports: [{service: "razar.lifecycle.>"}] }
  FLEET {
    users: [{user: fleet, password: fleet-pw}]
    imports: [
      {service: {account: HOSTA, subject: "razar.lifecycle.>"}, to: "hosta.razar.lifecycle.>"}
      {service: {account: HOSTB, subject: "razar.lifecycle.>"}, to: "hostb.razar.lifecycle.>"}
      {service: {account: HOSTC, subject: "razar.lifecycle.>"}, to: "hostc.razar.lifecycle.>"}
    ]
  }
}`

// fleetHost is one RAZAR of the simulation and the URL, with its
// account's user, its commands use.
type fleetHost struct {
	name, home, url string
	p               *proc
}

// razar runs a razar command in the host's home against its account.
func (f *fleetHost) razar(args ...string) (string, error) {
	cmd := exec.Command(razarBin, append([]string{"--home", f.home}, args...)...)
	cmd.Env = append(os.Environ(), "RAZAR_NATS_URL="+f.url)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// webPID is the pid RAZAR records for the host's component web, 0 when
// it runs none.
func (f *fleetHost) webPID(t *testing.T) int {
	t.Helper()
	out, _ := f.razar("status", "--json")
	var view struct {
		Host struct {
			Home string `json:"home"`
		} `json:"host"`
		Mission struct {
			Components []struct {
				Name   string `json:"name"`
				PID    int    `json:"pid"`
				Status string `json:"status"`
			} `json:"components"`
		} `json:"mission"`
	}
	if json.Unmarshal(bytes.TrimSpace([]byte(out)), &view) != nil || view.Host.Home != f.home {
		return 0
	}
	for _, c := range view.Mission.Components {
		if c.Name == "web" && c.Status != "stopped" && c.PID != 0 {
			return c.PID
		}
	}
	return 0
}

// bootFleetHost boots a RAZAR with component web on the cluster as the
// given user and waits until it serves its own status.
func bootFleetHost(t *testing.T, c *bustest.Cluster, node int, name, user, password string) *fleetHost {
	t.Helper()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}, {"name": "k2", "display": "K2 Coder", "backend": "exec", "command": ["sh", "agents/fix.sh"], "timeout": "10s"}]}`,
		map[string]string{"agents/fix.sh": fixScript})
	f := &fleetHost{name: name, home: h, url: fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", user, password, c.Nodes[node].Port)}
	f.p = start(t, h, []string{"RAZAR_NATS_URL=" + f.url}, "boot")
	bustest.Eventually(t, 30*time.Second, func() bool { return f.webPID(t) != 0 },
		"%s never served its own status with web running; output:\n%s", name, bustest.Lazy(f.p.out.String))
	return f
}

// TestFleetOnOneAccountCollidesAndIsRefused: two hosts in one account
// share razar.lifecycle.stop.web, so host 2's operator stops host 1's web;
// a second RAZAR booting into that account is refused, naming the first,
// and the first keeps running untouched.
func TestFleetOnOneAccountCollidesAndIsRefused(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("three nats-server processes")
	}
	c := bustest.NewCluster(t, 3, bustest.WithConfig(fleetAccounts), bustest.WithUser("shared", "shared-pw"))
	one := bootFleetHost(t, c, 0, "one", "shared", "shared-pw")
	pid := one.webPID(t)

	// Host two's RAZAR is refused before it listens or writes anything.
	two := &fleetHost{name: "two", home: home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, nil),
		url: fmt.Sprintf("nats://shared:shared-pw@127.0.0.1:%d", c.Nodes[1].Port)}
	p := start(t, two.home, []string{"RAZAR_NATS_URL=" + two.url}, "boot")
	if code := p.wait(t, 30*time.Second); code == 0 {
		t.Fatalf("a second RAZAR in the same account booted; output:\n%s", p.out)
	}
	out := p.out.String()
	for _, want := range []string{"already serves this bus account", one.home, "own NATS account"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "shared-pw") {
		t.Errorf("the refusal shows the account's password:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(two.home, "state/nats.url")); err == nil {
		t.Error("the refused RAZAR wrote state/nats.url")
	}
	if got := one.webPID(t); got != pid {
		t.Fatalf("host one's web went from pid %d to %d when host two was refused", pid, got)
	}

	// The collision the refusal guards against: in one account a host's
	// command subject names no host, so host two's `razar stop web`
	// reaches host one's RAZAR and stops its web.
	if out, err := two.razar("stop", "web"); err != nil {
		t.Fatalf("host two's stop: %v\n%s", err, out)
	}
	bustest.Eventually(t, 20*time.Second, func() bool { return one.webPID(t) == 0 },
		"host two's `razar stop web` did not reach host one: the shared-account collision was not shown")
	if alivePID(pid) {
		t.Fatalf("host one's web (pid %d) still runs after the stop", pid)
	}
}

// TestFleetOfThreeWithAnAccountEachKeepsHostsApart: three RAZARs with the
// same component names, an account each on one cluster, all heal their
// own incident, a stop on one host stops only that host's web, and the
// FLEET account reaches each host by its token.
func TestFleetOfThreeWithAnAccountEachKeepsHostsApart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("three nats-server processes")
	}
	c := bustest.NewCluster(t, 3, bustest.WithConfig(fleetAccounts), bustest.WithUser("shared", "shared-pw"))
	hosts := []*fleetHost{
		bootFleetHost(t, c, 0, "hosta", "hosta", "a-pw"),
		bootFleetHost(t, c, 1, "hostb", "hostb", "b-pw"),
		bootFleetHost(t, c, 2, "hostc", "hostc", "c-pw"),
	}
	pids := map[string]int{}
	for _, f := range hosts {
		pids[f.name] = f.webPID(t)
		breakWeb(t, f.home)
	}
	// All three escalate at once, with the same component name.
	escs := make([]*proc, len(hosts))
	for i, f := range hosts {
		escs[i] = start(t, f.home, []string{"RAZAR_NATS_URL=" + f.url}, "escalate", "web", "--error", "web: down")
	}
	for i, f := range hosts {
		if code := escs[i].wait(t, 60*time.Second); code != 0 {
			t.Fatalf("%s: escalate exit %d:\n%s", f.name, code, escs[i].out)
		}
		if !strings.Contains(escs[i].out.String(), "HEALED by K2 Coder") {
			t.Fatalf("%s: not healed by its own k2:\n%s", f.name, escs[i].out)
		}
		// Each host's record holds its own incident and no other's.
		audit, err := f.razar("audit", "--component", "web", "--json")
		if err != nil {
			t.Fatalf("%s: audit: %v\n%s", f.name, err, audit)
		}
		if n := strings.Count(audit, `"event":"healed"`); n != 1 {
			t.Fatalf("%s: %d healed records for web, want its own one:\n%s", f.name, n, audit)
		}
	}

	// A stop on host a stops host a's web only.
	if out, err := hosts[0].razar("stop", "web"); err != nil {
		t.Fatalf("stop on hosta: %v\n%s", err, out)
	}
	bustest.Eventually(t, 20*time.Second, func() bool { return hosts[0].webPID(t) == 0 }, "hosta's web did not stop")
	for _, f := range hosts[1:] {
		if got := f.webPID(t); got == 0 || !alivePID(got) {
			t.Fatalf("%s's web stopped when hosta's was (pid %d -> %d)", f.name, pids[f.name], got)
		}
	}

	// The fleet account addresses one host by its token, with the plain
	// nats CLI.
	nats := natsCLI(t)
	for _, f := range hosts {
		url := fmt.Sprintf("nats://fleet:fleet-pw@127.0.0.1:%d", c.Nodes[0].Port)
		out, err := exec.Command(nats, "--server", url, "request", f.name+".razar.lifecycle.status._all", "{}", "--raw").CombinedOutput()
		if err != nil {
			t.Fatalf("fleet request to %s: %v\n%s", f.name, err, out)
		}
		if !strings.Contains(string(out), `"home":"`+f.home+`"`) {
			t.Fatalf("the fleet's request to %s was answered by another host:\n%s", f.name, out)
		}
	}
}
