package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// TestMetricsServedAndValid: /metrics on RAZAR_METRICS_PORT carries the
// runbook's counters per component and agent, and promtool accepts it.
func TestMetricsServedAndValid(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: run `make tools` (Debian package prometheus)")
	}
	h := home(t, fmt.Sprintf(execRoster, "10s"), map[string]string{
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\necho '{\"status\": \"no_fix\"}'\n",
		"agents/fix.sh":     fixScript,
	})
	port := bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_METRICS_PORT=%d", port)}, "--nats-listen", "127.0.0.1:0")
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	if code := esc.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("escalate exit %d:\n%s", code, esc.out)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`razar_ai_invocation_failure_total{agent="crown",component="web"} 1`,
		`razar_ai_invocation_failure_total{agent="kimicho",component="web"} 1`,
		`razar_ai_invocation_success_total{agent="k2",component="web"} 1`,
		`razar_ai_invocation_retries_total{agent="k2",component="web"} 1`,
		`razar_escalations_total{component="web"} 3`,
		`razar_component_up{component="web"} 1`,
		`razar_component_held{component="web"} 0`, // present before any stop
		`razar_handovers_total{from="razar",to="crown"} 1`,
		`razar_handovers_total{from="kimicho",to="k2"} 1`,
		`razar_attempt_duration_seconds_count{agent="k2"} 1`,
		`razar_patches_total{component="web",outcome="applied"} 0`,
		`razar_component_restarts_total{component="web"} 0`,
		`razar_health_checks_total{component="web",result="pass"}`,
		`razar_patches_pending{component="web"} 0`,
		`razar_health_checks_total{component="web",result="fail"}`,
		`razar_rung_ready{agent="k2"} 1`,
		`razar_mission_health{health="healthy"} 1`,
		`razar_mission_health{health="halted"} 0`,
		`razar_incidents_open 0`,
		`razar_build_info{goversion="go`,
		// Present at 0 before any event: a rung that never ran for web.
		`razar_ai_invocation_success_total{agent="rstar",component="web"} 0`,
		`razar_ai_tokens_total{agent="rstar",component="web",kind="prompt"} 0`,
		`razar_ai_tokens_total{agent="k2",component="web",kind="completion"} 0`, // an exec rung reports none
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(text)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestStatusPageShowsTheMissionOnTheMetricsListener: GET / on the metrics
// listener is an HTML page, refreshing itself, with the mission's health,
// each component under its chakra layer with its state, and the rungs.
func TestStatusPageShowsTheMissionOnTheMetricsListener(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, map[string]string{
		"config/boot_config.json": `{"components": [{"name": "web", "priority": 1, "chakra": "heart", "command": ["sleep", "600"], "workdir": "web",
			"start_grace": "200ms", "health_check": {"command": ["true"]}}]}`,
	})
	port := bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_METRICS_PORT=%d", port)}, "--nats-listen", "127.0.0.1:0")
	var page string
	bustest.Eventually(t, 20*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		page = string(b)
		return resp.StatusCode == 200 && strings.Contains(page, `class="st-healthy">healthy`)
	}, "the status page never showed web healthy:\n%s", bustest.Lazy(func() string { return page }))
	for _, want := range []string{`http-equiv="refresh"`, `name="viewport"`, "<h2>heart</h2>", "<td>web", `class="health healthy"`, "Open incidents", "<h2>Rungs</h2>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
}

// TestRealPrometheusScrapesRazarAndLoadsTheRules: Debian's prometheus,
// pointed at a booted RAZAR's /metrics with the shipped rules, reads
// razar_component_up for web as 1 and has loaded every alert rule.
func TestRealPrometheusScrapesRazarAndLoadsTheRules(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is missing: run `make tools` (Debian package prometheus)")
	}
	h := home(t, crownRoster, nil)
	port := bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_METRICS_PORT=%d", port)}, "--nats-listen", "127.0.0.1:0")
	rules, err := filepath.Abs("../../monitoring/razar.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	get := startPrometheus(t, bin, fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [%q]\nscrape_configs:\n  - job_name: razar\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n", rules, port))
	bustest.Eventually(t, 30*time.Second, func() bool {
		return strings.Contains(get(`query?query=razar_component_up%7Bcomponent%3D%22web%22%7D`), `"value":[`) &&
			strings.Contains(get(`query?query=razar_component_up%7Bcomponent%3D%22web%22%7D`), `,"1"]`)
	}, "prometheus never read razar_component_up{component=\"web\"} 1")
	loaded := get("rules")
	for _, name := range []string{"RazarComponentDown", "RazarCrashLoop", "RazarLadderStalled", "RazarMissionHalted", "RazarChakraOutOfAlignment"} {
		if !strings.Contains(loaded, `"name":"`+name+`"`) {
			t.Errorf("prometheus did not load rule %s: %s", name, loaded)
		}
	}
}

// startPrometheus runs Debian's prometheus (bin) with the configuration
// conf on a loopback port, stopped at cleanup, and returns a getter of its
// HTTP API (path under /api/v1/; "" while it cannot answer). A failed
// test prints prometheus's output.
func startPrometheus(t *testing.T, bin, conf string) (get func(path string) string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	promPort := bustest.FreePort(t)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus's output:\n%s", out)
		}
	})
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/", promPort)
	return func(path string) string {
		resp, err := http.Get(api + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
}

// TestStatusPageInHeadlessChromiumShowsAnOpenIncidentAtItsRung: Debian's
// chromium, headless at a phone's width, renders the status page with the
// open incident at the rung holding its attempt; the screenshot is kept in
// the test's output directory.
func TestStatusPageInHeadlessChromiumShowsAnOpenIncidentAtItsRung(t *testing.T) {
	t.Parallel()
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is missing: run `make tools` (Debian package chromium)")
	}
	h := home(t, fmt.Sprintf(execRoster, "60s"), map[string]string{
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\nsleep 60\n",
		"agents/fix.sh":     fixScript,
	})
	port := bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_METRICS_PORT=%d", port)}, "--nats-listen", "127.0.0.1:0")
	breakWeb(t, h)
	start(t, h, nil, "escalate", "web", "--error", "web: down")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	bustest.Eventually(t, 30*time.Second, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "kimicho (attempt 2")
	}, "the incident never reached kimicho on the status page")
	profile := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile, "--window-size=412,915"}
	dom, err := exec.Command(browser, append(args, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	if !strings.Contains(string(dom), "kimicho (attempt 2") || !strings.Contains(string(dom), "Open incidents") {
		t.Fatalf("the rendered page lacks the open incident at kimicho:\n%s", dom)
	}
	// Kept after the test, for a look: $TMPDIR/razar-status-page.png.
	shot := filepath.Join(os.TempDir(), "razar-status-page.png")
	if out, err := exec.Command(browser, append(args, "--screenshot="+shot, url)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 1000 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}

// TestComponentHeldSaysAnOperatorStoppedIt: razar_component_held is 0 for
// a running component from the first scrape, 1 with razar_component_up 0
// once an operator stops it, and 0 again after `razar start`.
func TestComponentHeldSaysAnOperatorStoppedIt(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	port := bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_METRICS_PORT=%d", port)}, "--nats-listen", "127.0.0.1:0")
	scrape := func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	has := func(lines ...string) func() bool {
		return func() bool {
			text := scrape()
			for _, l := range lines {
				if !strings.Contains(text, l+"\n") {
					return false
				}
			}
			return true
		}
	}
	bustest.Eventually(t, 20*time.Second, has(`razar_component_up{component="web"} 1`, `razar_component_held{component="web"} 0`),
		"web running: no held 0 beside up 1:\n%s", bustest.Lazy(scrape))
	if out, code := runRazar(t, h, nil, "stop", "web"); code != 0 {
		t.Fatalf("razar stop web: exit %d\n%s", code, out)
	}
	bustest.Eventually(t, 20*time.Second, has(`razar_component_up{component="web"} 0`, `razar_component_held{component="web"} 1`),
		"web stopped by an operator: no held 1 beside up 0:\n%s", bustest.Lazy(scrape))
	if out, code := runRazar(t, h, nil, "start", "web"); code != 0 {
		t.Fatalf("razar start web: exit %d\n%s", code, out)
	}
	bustest.Eventually(t, 20*time.Second, has(`razar_component_up{component="web"} 1`, `razar_component_held{component="web"} 0`),
		"web started again: held is not back to 0:\n%s", bustest.Lazy(scrape))
}
