package razar_test

import (
	"os/exec"
	"testing"
)

// TestShippedAlertRulesCheckAndPassTheirTests: monitoring/razar.rules.yml
// is valid Prometheus rules and its alerts fire, and stay quiet, as
// monitoring/razar.rules.test.yml says, with the real promtool.
func TestShippedAlertRulesCheckAndPassTheirTests(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: run `make tools` (Debian package prometheus)")
	}
	for _, args := range [][]string{
		{"check", "rules", "monitoring/razar.rules.yml"},
		{"test", "rules", "monitoring/razar.rules.test.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
