package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// countingBoot is a boot config whose components append their name to
// starts in the home each time they start.
func countingBoot(names ...string) string {
	var comps []string
	for _, n := range names {
		comps = append(comps, fmt.Sprintf(`{"name": %q, "priority": 1, "command": ["sh", "-c", "echo %s >> ../starts; exec sleep 600"], "workdir": "web", "start_grace": "200ms"}`, n, n))
	}
	return `{"components": [` + strings.Join(comps, ", ") + `]}`
}

func startsOf(t *testing.T, h, name string) int {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(h, "starts"))
	return strings.Count(string(data), name+"\n")
}

func pidOf(t *testing.T, h, name string) int {
	t.Helper()
	if c := state(t, h)[name]; c != nil {
		if pid, ok := c["pid"].(float64); ok {
			return int(pid)
		}
	}
	return 0
}

// waitHealthy waits until logs/razar_state.json says name is healthy.
func waitHealthy(t *testing.T, h, name string) {
	t.Helper()
	bustest.Eventually(t, 30*time.Second, func() bool { return statusOf(t, h, name) == "healthy" && pidOf(t, h, name) > 0 },
		"%s never became healthy: %v", name, state(t, h)[name])
}

// TestKilledRazarLeavesComponentsAndTheNextBootAdoptsThem: a SIGKILL of
// `razar boot` (as a crash or the OOM killer would) leaves the components
// running; the next boot adopts each by pid, restarts none, and a SIGTERM
// to it then stops them as ever.
func TestKilledRazarLeavesComponentsAndTheNextBootAdoptsThem(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, map[string]string{"config/boot_config.json": countingBoot("web", "api")})
	first, _ := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	waitHealthy(t, h, "web")
	waitHealthy(t, h, "api")
	web, api := pidOf(t, h, "web"), pidOf(t, h, "api")
	t.Cleanup(func() { _ = syscall.Kill(-web, syscall.SIGKILL); _ = syscall.Kill(-api, syscall.SIGKILL) })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 10*time.Second)
	if !alivePID(web) || !alivePID(api) {
		t.Fatalf("components died with RAZAR: web %v api %v", alivePID(web), alivePID(api))
	}
	second, _ := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	bustest.Eventually(t, 30*time.Second, func() bool {
		c := state(t, h)["web"]
		return c != nil && c["adopted"] == true && statusOf(t, h, "api") == "healthy"
	}, "web was not adopted: %v", state(t, h))
	if pidOf(t, h, "web") != web || pidOf(t, h, "api") != api {
		t.Fatalf("pids after the new boot: web %d (was %d) api %d (was %d)", pidOf(t, h, "web"), web, pidOf(t, h, "api"), api)
	}
	if startsOf(t, h, "web") != 1 || startsOf(t, h, "api") != 1 {
		t.Fatalf("components restarted: web %d starts, api %d", startsOf(t, h, "web"), startsOf(t, h, "api"))
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := second.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("boot after SIGTERM: exit %d\n%s", code, second.out)
	}
	for _, pid := range []int{web, api} {
		bustest.Eventually(t, 10*time.Second, func() bool { return !alivePID(pid) }, "adopted pid %d outlived SIGTERM to RAZAR", pid)
	}
}

// TestDetachLeavesComponentsRunningForTheNextBoot: `razar detach` is the
// clean exit for an upgrade.
func TestDetachLeavesComponentsRunningForTheNextBoot(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, map[string]string{"config/boot_config.json": countingBoot("web")})
	first, _ := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	waitHealthy(t, h, "web")
	web := pidOf(t, h, "web")
	t.Cleanup(func() { _ = syscall.Kill(-web, syscall.SIGKILL) })
	if out, code := runRazar(t, h, nil, "detach"); code != 0 || !strings.Contains(out, "leaves the components running") {
		t.Fatalf("detach: exit %d\n%s", code, out)
	}
	if code := first.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("boot after detach: exit %d\n%s", code, first.out)
	}
	if !alivePID(web) {
		t.Fatal("detach stopped the component")
	}
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	bustest.Eventually(t, 30*time.Second, func() bool { return state(t, h)["web"]["adopted"] == true }, "web not adopted: %v", state(t, h))
	if pidOf(t, h, "web") != web || startsOf(t, h, "web") != 1 {
		t.Fatalf("web after detach and boot: pid %d (was %d), %d starts", pidOf(t, h, "web"), web, startsOf(t, h, "web"))
	}
}

// TestReloadAppliesBootConfigAndRefusesABadOne: `razar reload` starts the
// new, stops the removed, restarts the changed and leaves the rest; a
// reload that fails validation changes nothing and says why.
func TestReloadAppliesBootConfigAndRefusesABadOne(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, map[string]string{"config/boot_config.json": countingBoot("keep", "change", "drop")})
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	for _, n := range []string{"keep", "change", "drop"} {
		waitHealthy(t, h, n)
	}
	keep, change, drop := pidOf(t, h, "keep"), pidOf(t, h, "change"), pidOf(t, h, "drop")

	// A broken file: refused, nothing touched.
	cfg := filepath.Join(h, "config/boot_config.json")
	if err := os.WriteFile(cfg, []byte(`{"components": [{"name": "keep"`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runRazar(t, h, nil, "reload")
	if code == 0 || !strings.Contains(out, "boot_config.json") {
		t.Fatalf("reload of a broken config: exit %d\n%s", code, out)
	}
	if pidOf(t, h, "drop") != drop || !alivePID(drop) {
		t.Fatal("a refused reload changed the components")
	}

	next := strings.Replace(countingBoot("keep", "change", "add"), `"name": "change", `, `"name": "change", "env": {"V": "2"}, `, 1)
	if err := os.WriteFile(cfg, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runRazar(t, h, nil, "reload")
	if code != 0 || !strings.Contains(out, "started add; stopped drop; restarted change (1 unchanged)") {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	waitHealthy(t, h, "add")
	bustest.Eventually(t, 30*time.Second, func() bool {
		return startsOf(t, h, "change") == 2 && statusOf(t, h, "change") == "healthy" && pidOf(t, h, "change") != change
	}, "change was not restarted: %v", state(t, h)["change"])
	if pidOf(t, h, "keep") != keep || startsOf(t, h, "keep") != 1 {
		t.Fatalf("keep was touched: pid %d (was %d), %d starts", pidOf(t, h, "keep"), keep, startsOf(t, h, "keep"))
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return !alivePID(drop) && state(t, h)["drop"] == nil },
		"drop still runs or is still listed")
}

// TestReloadAppliesNewThresholdsFromTheEnvFile: a reload re-reads
// config/razar.env; a bad value is refused and changes nothing; a good one
// is the policy of the next incident; a variable in the environment wins.
func TestReloadAppliesNewThresholdsFromTheEnvFile(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, map[string]string{
		"config/razar.env": "RAZAR_RSTAR_THRESHOLD=2\nRAZAR_ESCALATION_WARNING_THRESHOLD=5\n"})
	boot(t, h, []string{"RAZAR_ESCALATION_WARNING_THRESHOLD=7"}, "--nats-listen", "127.0.0.1:0")
	if err := os.WriteFile(filepath.Join(h, "config/razar.env"), []byte("RAZAR_RSTAR_THRESHOLD=nine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runRazar(t, h, nil, "reload")
	if code == 0 || !strings.Contains(out, "RAZAR_RSTAR_THRESHOLD") {
		t.Fatalf("reload with a bad threshold: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(filepath.Join(h, "config/razar.env"), []byte("# tuned for the night shift\nRAZAR_RSTAR_THRESHOLD=4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runRazar(t, h, nil, "reload"); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	breakWeb(t, h)
	// Crown's rules find nothing: the incident fails after T attempts.
	if out, code := runRazar(t, h, nil, "escalate", "web", "--error", "web: down"); code != 1 {
		t.Fatalf("escalate: exit %d\n%s", code, out)
	}
	// status exits 1 now (web is quarantined); its stdout is the JSON.
	stdout, _ := exec.Command(razarBin, "--home", h, "status", "--json").Output()
	out = string(stdout)
	var view struct {
		Incidents []struct {
			Attempts []any `json:"attempts"`
			Policy   struct {
				Threshold     int `json:"threshold"`
				WarnThreshold int `json:"warn_threshold"`
			} `json:"policy"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(out), &view); err != nil || len(view.Incidents) != 1 {
		t.Fatalf("status: %v\n%s", err, out)
	}
	inc := view.Incidents[0]
	if inc.Policy.Threshold != 4 || len(inc.Attempts) != 4 || inc.Policy.WarnThreshold != 7 {
		t.Fatalf("incident after the reload: threshold %d (want 4 from razar.env), %d attempts, warning threshold %d (want 7 from the environment)",
			inc.Policy.Threshold, len(inc.Attempts), inc.Policy.WarnThreshold)
	}
}

// TestReloadNamesTheBusSettingsThatWaitForTheNextBoot: a reload that
// changes how RAZAR reaches its bus (leaf link, replicas) cannot apply it
// to the running bus; it says so in the log, naming the variables.
func TestReloadNamesTheBusSettingsThatWaitForTheNextBoot(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, nil)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	if err := os.WriteFile(filepath.Join(h, "config/razar.env"), []byte("RAZAR_LEAF_HUB_DOMAIN=central\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runRazar(t, h, nil, "reload"); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		for _, l := range jsonLines(t, filepath.Join(h, "logs/razar.log")) {
			if strings.Contains(fmt.Sprint(l["message"]), "take effect at the next") && strings.Contains(fmt.Sprint(l["settings"]), "RAZAR_LEAF_HUB_DOMAIN") {
				return true
			}
		}
		return false
	}, "the reload did not say the leaf settings wait for the next boot")
}
