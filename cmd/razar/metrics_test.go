package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMetricsServedAndValid: /metrics on RAZAR_METRICS_PORT carries the
// runbook's counters per component and agent, and promtool accepts it.
func TestMetricsServedAndValid(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: run `make tools` (Debian package prometheus)")
	}
	h := home(t, fmt.Sprintf(execRoster, "10s"), map[string]string{
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\necho '{\"status\": \"no_fix\"}'\n",
		"agents/fix.sh":     fixScript,
	})
	port := freePort(t)
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
		`razar_component_restarts_total{component="web"} 0`,
		`razar_rung_ready{agent="k2"} 1`,
		`razar_mission_health{health="healthy"} 1`,
		`razar_mission_health{health="halted"} 0`,
		`razar_incidents_open 0`,
		`razar_build_info{goversion="go`,
		// Present at 0 before any event: a rung that never ran for web.
		`razar_ai_invocation_success_total{agent="rstar",component="web"} 0`,
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
