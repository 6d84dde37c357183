package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/supervisor"
)

// missionHome is clock, ledger and courier in priority order. ledger reads
// ledger/ledger.conf and will not stay up unless it says ok; the roster
// cannot fix it (RAZAR_RSTAR_THRESHOLD=0: Crown alone, and it finds
// nothing), so a boot with the config broken halts at ledger.
func missionHome(t *testing.T, roster string, extra map[string]string) string {
	t.Helper()
	files := map[string]string{
		"config/boot_config.json": `{"components": [
			{"name": "clock", "priority": 1, "command": ["sleep", "600"], "workdir": "clock", "start_grace": "200ms", "health_check": {"command": ["true"]}},
			{"name": "ledger", "priority": 2, "command": ["sh", "-c", "grep -qx ok ledger.conf && exec sleep 600; echo ledger: bad ledger.conf >&2; exit 2"],
			 "workdir": "ledger", "start_grace": "200ms", "health_check": {"command": ["true"]}},
			{"name": "courier", "priority": 3, "command": ["sleep", "600"], "workdir": "courier", "start_grace": "200ms", "health_check": {"command": ["true"]}}]}`,
		"clock/.keep":        "",
		"courier/.keep":      "",
		"ledger/ledger.conf": "broken\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	return home(t, roster, files)
}

// views is the mission as each of its four views shows it.
type views struct {
	status     string // `razar status` output
	code       int    // its exit code
	metric     string // the health razar_mission_health is 1 for
	page       string // the status page
	pageHealth string
	state      *bus.MissionState // logs/razar_state.json
}

var (
	metricHealth = regexp.MustCompile(`(?m)^razar_mission_health\{health="(\w+)"\} 1$`)
	pageHealth   = regexp.MustCompile(`<span class="health (\w+)">`)
)

func readViews(t *testing.T, h string, port int) views {
	t.Helper()
	var v views
	v.status, v.code = runRazar(t, h, nil, "status")
	get := func(path string) string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if m := metricHealth.FindStringSubmatch(get("/metrics")); m != nil {
		v.metric = m[1]
	}
	v.page = get("/")
	if m := pageHealth.FindStringSubmatch(v.page); m != nil {
		v.pageHealth = m[1]
	}
	v.state, _ = supervisor.ReadState(h)
	return v
}

// expectViews waits until all four views say health, status exits code
// and check passes, and returns them.
func expectViews(t *testing.T, h string, port int, step, health string, code int, check func(v views) error) views {
	t.Helper()
	var v views
	var why error
	bustest.Eventually(t, 30*time.Second, func() bool {
		v = readViews(t, h, port)
		switch {
		case v.code != code:
			why = fmt.Errorf("razar status exit %d, want %d", v.code, code)
		case !strings.Contains(v.status, "mission: "+health):
			why = fmt.Errorf("razar status does not say mission: %s", health)
		case v.metric != health:
			why = fmt.Errorf("razar_mission_health is 1 for %q, want %q", v.metric, health)
		case v.pageHealth != health:
			why = fmt.Errorf("the status page says %q, want %q", v.pageHealth, health)
		case v.state == nil || v.state.Health != health:
			why = fmt.Errorf("%s says %+v, want %q", "logs/razar_state.json", v.state, health)
		default:
			why = nil
			if check != nil {
				why = check(v)
			}
		}
		return why == nil
	}, "%s: %v\n%s", step, bustest.Lazy(func() string { return fmt.Sprint(why) }), bustest.Lazy(func() string { return v.status }))
	return v
}

func statusIn(v views, name string) string {
	if v.state == nil {
		return ""
	}
	for _, c := range v.state.Components {
		if c.Name == name {
			return c.Status
		}
	}
	return ""
}

// TestHaltFixReleaseStartResumeEveryViewTellsTheTruth walks the recovery
// from a halted boot as an operator does it, against the real binary: at
// each step `razar status` (and its exit), razar_mission_health, the status
// page and logs/razar_state.json agree, none says healthy while a
// component the halt left down is down, and the halt names the next step
// until `razar resume` brings the rest up in priority order.
func TestHaltFixReleaseStartResumeEveryViewTellsTheTruth(t *testing.T) {
	t.Parallel()
	h := missionHome(t, crownRoster, nil)
	port := bustest.FreePort(t)
	boot(t, h, []string{"RAZAR_RSTAR_THRESHOLD=0", fmt.Sprintf("RAZAR_METRICS_PORT=%d", port)}, "--retries", "0", "--nats-listen", "127.0.0.1:0")
	hostname, _ := os.Hostname()

	// 1. The boot halts at ledger: clock is stopped by the halt, courier
	// never got its turn.
	v := expectViews(t, h, port, "after the halt", bus.HealthHalted, 1, func(v views) error {
		if statusIn(v, "clock") != bus.StatusStopped || statusIn(v, "ledger") != bus.StatusQuarantined || statusIn(v, "courier") != bus.StatusWaiting {
			return fmt.Errorf("components: %+v", v.state.Components)
		}
		return nil
	})
	next := "next: fix ledger, then `razar release ledger`, then `razar resume`"
	if !strings.Contains(v.status, next) || !strings.Contains(v.status, "(host "+hostname+")") {
		t.Fatalf("status of the halt lacks its host or %q:\n%s", next, v.status)
	}
	if !strings.Contains(v.page, "<h1>RAZAR "+hostname) || !strings.Contains(v.page, "razar resume") || !strings.Contains(v.page, "razar release ledger") {
		t.Fatalf("the status page of a halt lacks the host or the next step:\n%s", v.page)
	}
	if v.state.Next == "" || v.state.Halted == "" || v.state.Host != hostname {
		t.Fatalf("%s of a halt: %+v", "logs/razar_state.json", v.state)
	}

	// 2. Resume is refused while ledger is quarantined, and starts nothing.
	if out, code := runRazar(t, h, nil, "resume"); code != 1 || !strings.Contains(out, "razar release ledger") {
		t.Fatalf("resume with ledger quarantined: exit %d, want 1 naming the release\n%s", code, out)
	}
	// 3. The operator fixes the config and releases ledger: still halted.
	if err := os.WriteFile(filepath.Join(h, "ledger/ledger.conf"), []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runRazar(t, h, nil, "release", "ledger"); code != 0 || !strings.Contains(out, "next: `razar resume`") {
		t.Fatalf("release: exit %d, want 0 and the next step\n%s", code, out)
	}
	v = expectViews(t, h, port, "after the release", bus.HealthHalted, 1, func(v views) error {
		if statusIn(v, "ledger") != bus.StatusStopped {
			return fmt.Errorf("ledger: %s", statusIn(v, "ledger"))
		}
		return nil
	})
	if !strings.Contains(v.status, "next: `razar resume`") {
		t.Fatalf("status after the release lacks the next step:\n%s", v.status)
	}
	// An observer may read the mission but not resume it: refused by the
	// server, and nothing starts.
	out, code := runRazar(t, h, nil, "resume", "--creds", filepath.Join(h, "state/identities/observer.creds"))
	if code == 0 || !strings.Contains(out, "refused this identity's publish") {
		t.Fatalf("the observer's resume: exit %d, want the server's refusal\n%s", code, out)
	}
	expectViews(t, h, port, "after the observer's refused resume", bus.HealthHalted, 1, func(v views) error {
		if statusIn(v, "clock") != bus.StatusStopped || statusIn(v, "ledger") != bus.StatusStopped || statusIn(v, "courier") != bus.StatusWaiting {
			return fmt.Errorf("the refused resume changed the components: %+v", v.state.Components)
		}
		return nil
	})
	// 4. ledger started by hand: clock and courier are still down, and
	// every view says so.
	if out, code := runRazar(t, h, nil, "start", "ledger"); code != 0 {
		t.Fatalf("start ledger: exit %d\n%s", code, out)
	}
	v = expectViews(t, h, port, "after starting ledger", bus.HealthHalted, 1, func(v views) error {
		if statusIn(v, "ledger") != bus.StatusHealthy || statusIn(v, "clock") != bus.StatusStopped || statusIn(v, "courier") != bus.StatusWaiting {
			return fmt.Errorf("components: %+v", v.state.Components)
		}
		return nil
	})
	if !strings.Contains(v.status, "clock: stopped and not by an operator") || !strings.Contains(v.status, "courier: waiting on a halted boot cycle") {
		t.Fatalf("status does not say what is down:\n%s", v.status)
	}
	ledgerPID := 0
	for _, c := range v.state.Components {
		if c.Name == "ledger" {
			ledgerPID = c.PID
		}
	}
	// 5. One command back: the halted cycle goes on, and ledger, running,
	// is left alone.
	if out, code := runRazar(t, h, nil, "resume"); code != 0 || !strings.Contains(out, "resuming boot cycle") {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	v = expectViews(t, h, port, "after resume", bus.HealthHealthy, 0, func(v views) error {
		for _, c := range v.state.Components {
			if c.Status != bus.StatusHealthy {
				return fmt.Errorf("%s is %s", c.Name, c.Status)
			}
		}
		return nil
	})
	for _, c := range v.state.Components {
		if c.Name == "ledger" && c.PID != ledgerPID {
			t.Fatalf("resume restarted the running ledger: pid %d, was %d", c.PID, ledgerPID)
		}
	}
	if v.state.Halted != "" || v.state.Next != "" || strings.Contains(v.status, "razar resume") || strings.Contains(v.page, "razar resume") {
		t.Fatalf("a completed cycle still shows a halt:\n%s\n%+v", v.status, v.state)
	}
	if out, code := runRazar(t, h, nil, "resume"); code != 1 || !strings.Contains(out, "no halted boot cycle") {
		t.Fatalf("a second resume: exit %d, want 1 saying nothing is halted\n%s", code, out)
	}
}

// TestAbortDuringBootQuarantinesThatComponentAndTheBootGoesOn: an operator
// who aborts ledger's incident while the boot waits on it takes the
// incident: ledger is quarantined, clock keeps running, courier is started,
// and nothing halts, rolls back or pages the halt.
func TestAbortDuringBootQuarantinesThatComponentAndTheBootGoesOn(t *testing.T) {
	t.Parallel()
	h := missionHome(t, `{"agents": [
		{"name": "crown", "backend": "builtin"},
		{"name": "kimicho", "backend": "exec", "command": ["sh", "agents/slow.sh"], "timeout": "120s"}]}`,
		map[string]string{"agents/slow.sh": "#!/bin/sh\ncat >/dev/null\nsleep 100\necho '{\"status\": \"no_fix\"}'\n"})
	boot(t, h, nil, "--retries", "0", "--nats-listen", "127.0.0.1:0")
	var clockPID int
	bustest.Eventually(t, 60*time.Second, func() bool {
		out, _ := runRazar(t, h, nil, "status", "--json")
		var view bus.StatusView
		if json.Unmarshal([]byte(out), &view) != nil || view.Mission == nil {
			return false
		}
		for _, c := range view.Mission.Components {
			if c.Name == "clock" {
				clockPID = c.PID
			}
			if c.Name == "ledger" && c.Status == bus.StatusEscalated && c.Rung == "kimicho" {
				return true
			}
		}
		return false
	}, "ledger never reached kimicho's slow attempt")
	out, code := runRazar(t, h, nil, "abort", "ledger")
	if code != 0 {
		t.Fatalf("abort: exit %d\n%s", code, out)
	}
	var st *bus.MissionState
	bustest.Eventually(t, 30*time.Second, func() bool {
		st, _ = supervisor.ReadState(h)
		return st != nil && st.Cycle == "" && statusIn(views{state: st}, "courier") == bus.StatusHealthy
	}, "the boot did not go on to courier after the abort: %+v", bustest.Lazy(func() string { return fmt.Sprintf("%+v", st) }))
	for _, c := range st.Components {
		switch {
		case c.Name == "clock" && (c.Status != bus.StatusHealthy || c.PID != clockPID):
			t.Errorf("clock after the abort: %+v, want it running as pid %d", c, clockPID)
		case c.Name == "ledger" && c.Status != bus.StatusQuarantined:
			t.Errorf("ledger after the abort: %+v, want quarantined", c)
		}
	}
	if st.Health != bus.HealthDegraded || st.Halted != "" {
		t.Fatalf("mission after an abort during boot: %+v, want degraded, not halted", st)
	}
	if out, code := runRazar(t, h, nil, "status"); code != 1 || !strings.Contains(out, "ledger: quarantined") {
		t.Fatalf("status after the abort: exit %d, want 1 naming ledger\n%s", code, out)
	}
	logData, _ := os.ReadFile(filepath.Join(h, "logs/razar.log"))
	for _, line := range strings.Split(string(logData), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && strings.Contains(fmt.Sprint(rec["message"]), supervisor.HaltMessage) {
			t.Fatalf("an abort during boot halted it: %s", line)
		}
	}
	if _, err := os.Stat(filepath.Join(h, "quarantine/ledger.json")); err != nil {
		t.Fatal(err)
	}
}

// TestStatusShowsTheNextAttemptDuringALongTaskBackoff: while a --long-task
// incident waits out its backoff, no rung holds it: `razar status web`,
// its JSON and the status page say when the next attempt starts, not the
// rung that last answered.
func TestStatusShowsTheNextAttemptDuringALongTaskBackoff(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, map[string]string{"web/broken": ""})
	port := bustest.FreePort(t)
	boot(t, h, []string{"RAZAR_RSTAR_THRESHOLD=0", fmt.Sprintf("RAZAR_METRICS_PORT=%d", port)}, "--long-task", "--retries", "0", "--nats-listen", "127.0.0.1:0")
	var web bus.ComponentView
	var out string
	bustest.Eventually(t, 60*time.Second, func() bool {
		js, _ := runRazar(t, h, nil, "status", "web", "--json")
		var view bus.StatusView
		if json.Unmarshal([]byte(js), &view) != nil || view.Mission == nil || len(view.Mission.Components) != 1 {
			return false
		}
		web = view.Mission.Components[0]
		// A backoff long enough to read the text before it ends.
		if web.Status != bus.StatusEscalated || time.Until(web.NextAttempt) < 3*time.Second {
			return false
		}
		out, _ = runRazar(t, h, nil, "status", "web")
		return strings.Contains(out, "escalated (next attempt in")
	}, "status never showed the next attempt of a --long-task backoff: %+v\n%s", bustest.Lazy(func() string { return fmt.Sprintf("%+v", web) }), bustest.Lazy(func() string { return out }))
	if web.Rung != "" {
		t.Fatalf("between attempts the view names rung %q as holding the incident", web.Rung)
	}
	if strings.Contains(out, "escalated (crown)") || !strings.Contains(out, "between attempts (last: crown)") {
		t.Fatalf("status names the rung that answered as holding the incident:\n%s", out)
	}
	bustest.Eventually(t, 60*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out = string(b)
		return strings.Contains(out, "escalated · next attempt in") && strings.Contains(out, "between attempts (last: crown)")
	}, "the status page never showed the next attempt:\n%s", bustest.Lazy(func() string { return out }))
}

// TestResumeWithoutRazarRunningSaysToBoot: with RAZAR stopped (a halted
// `razar boot --once` has exited) no cycle waits in memory: resume exits 1
// and names `razar boot` as the way back.
func TestResumeWithoutRazarRunningSaysToBoot(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	out, code := runRazar(t, h, nil, "resume")
	if code != 1 || !strings.Contains(out, "not running") || !strings.Contains(out, "`razar boot` starts a new one") {
		t.Fatalf("resume without RAZAR: exit %d, want 1 naming razar boot\n%s", code, out)
	}
	if out, code := runRazar(t, h, nil, "resume", "now"); code != 2 {
		t.Fatalf("resume with an argument: exit %d, want 2\n%s", code, out)
	}
}
