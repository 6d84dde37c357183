package razar_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
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

// TestEveryAlertLinksToARunbookSection: each runbook_url of the shipped
// rules, and each alertname RAZAR raises itself, has its section in
// docs/RUNBOOK.md, so no page links to nothing.
func TestEveryAlertLinksToARunbookSection(t *testing.T) {
	book, err := os.ReadFile("docs/RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\w+)`).FindAllStringSubmatch(string(book), -1) {
		sections[strings.ToLower(m[1])] = true
	}
	rules, err := os.ReadFile("monitoring/razar.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	anchors := regexp.MustCompile(`RUNBOOK\.md#(\w+)`).FindAllStringSubmatch(string(rules), -1)
	if len(anchors) == 0 {
		t.Fatal("the rules carry no runbook_url")
	}
	for _, a := range anchors {
		if !sections[a[1]] {
			t.Errorf("monitoring/razar.rules.yml links to #%s, which docs/RUNBOOK.md lacks", a[1])
		}
	}
	names := regexp.MustCompile(`"(Razar[A-Z]\w+)"`)
	for _, dir := range []string{"orchestrator", "supervisor"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, _ := os.ReadFile(f)
			for _, m := range names.FindAllStringSubmatch(string(b), -1) {
				if !sections[strings.ToLower(m[1])] {
					t.Errorf("%s raises %s, which docs/RUNBOOK.md has no section for", f, m[1])
				}
			}
		}
	}
}

// TestDashboardQueriesOnlySeriesRazarExports: monitoring/razar-dashboard.json
// is a Grafana dashboard whose every query names metrics RAZAR or its
// chakra service define, so no panel stays empty for a typo.
func TestDashboardQueriesOnlySeriesRazarExports(t *testing.T) {
	b, err := os.ReadFile("monitoring/razar-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("not a dashboard: %v", err)
	}
	defined := map[string]bool{}
	for _, f := range []string{"orchestrator/metrics.go", "hostmetrics/collector.go", "chakra/chakra.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"((?:razar|chakra)_[a-z0-9_]+)"`).FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
	}
	metric := regexp.MustCompile(`\b((?:razar|chakra)_[a-z0-9_]+)`)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
				if !defined[name] {
					t.Errorf("panel %q queries %s, which RAZAR does not export", p.Title, m)
				}
			}
		}
	}
}
