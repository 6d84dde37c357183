package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// dashboard is what the test reads of monitoring/razar-dashboard.json: the
// query variables and every panel's queries.
type dashboard struct {
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
			Regex string `json:"regex"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// promResult is the part of a Prometheus API answer the test checks.
type promResult struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		Result []json.RawMessage `json:"result"`
	} `json:"data"`
}

// variableValues resolves a dashboard query variable as Grafana does:
// label_values(metric, label) through the series API, each value cut by
// the variable's /regex/ (its first group) when it has one; the values
// joined as Grafana writes a multi-value variable into a PromQL regex,
// each escaped (a backslash doubled inside the PromQL string), as (a|b).
func variableValues(t *testing.T, get func(string) string, query, re string) (string, []string) {
	t.Helper()
	m := regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`).FindStringSubmatch(query)
	if m == nil {
		t.Fatalf("dashboard variable query %q is not label_values(metric, label), which the test resolves", query)
	}
	var cut *regexp.Regexp
	if re != "" {
		cut = regexp.MustCompile(strings.TrimSuffix(strings.TrimPrefix(re, "/"), "/"))
	}
	var series struct {
		Data []map[string]string `json:"data"`
	}
	_ = json.Unmarshal([]byte(get("series?match[]="+url.QueryEscape(m[1]))), &series)
	seen := map[string]bool{}
	var values []string
	for _, s := range series.Data {
		v := s[m[2]]
		if cut != nil {
			g := cut.FindStringSubmatch(v)
			if len(g) < 2 {
				continue
			}
			v = g[1]
		}
		if v != "" && !seen[v] {
			seen[v] = true
			values = append(values, v)
		}
	}
	sort.Strings(values)
	quoted := make([]string, len(values))
	for i, v := range values {
		// Escaped for the regex, then for the PromQL string holding it.
		quoted[i] = strings.ReplaceAll(regexp.QuoteMeta(v), `\`, `\\`)
	}
	return "(" + strings.Join(quoted, "|") + ")", values
}

// TestEveryDashboardPanelShowsDataFromARealPrometheus: Debian's prometheus
// scrapes a booted RAZAR (an incident healed, so every series has moved)
// and its chakra service, two targets as the runbook sets them up; every
// query of every panel of monitoring/razar-dashboard.json, its variables
// resolved as Grafana does, returns at least one series, the chakra
// panels included.
func TestEveryDashboardPanelShowsDataFromARealPrometheus(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is missing: run `make tools` (Debian package prometheus)")
	}
	raw, err := os.ReadFile("../../monitoring/razar-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("monitoring/razar-dashboard.json: %v", err)
	}
	h := home(t, fmt.Sprintf(execRoster, "10s"), map[string]string{
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\necho '{\"status\": \"no_fix\"}'\n",
		"agents/fix.sh":     fixScript,
		"config/boot_config.json": `{"components": [{"name": "web", "priority": 1, "chakra": "heart", "command": ["sleep", "600"], "workdir": "web",
			"start_grace": "200ms", "health_check": {"command": ["sh", "-c", "test ! -f broken"]}}]}`,
	})
	port, chakraPort := bustest.FreePort(t), bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_METRICS_PORT=%d", port), fmt.Sprintf("RAZAR_CHAKRA_PORT=%d", chakraPort), "RAZAR_HEALTH_PROBE_INTERVAL=1s"},
		"--nats-listen", "127.0.0.1:0")
	breakWeb(t, h)
	if esc := start(t, h, nil, "escalate", "web", "--error", "web: down"); esc.wait(t, 60*time.Second) != 0 {
		t.Fatalf("escalate did not heal web:\n%s", esc.out)
	}
	get := startPrometheus(t, bin, fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n"+
		"  - job_name: razar\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"+
		"  - job_name: razar-chakra\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n", port, chakraPort))

	vars := map[string]string{}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		bustest.Eventually(t, 30*time.Second, func() bool {
			var values []string
			vars[v.Name], values = variableValues(t, get, v.Query, v.Regex)
			return len(values) > 0
		}, "dashboard variable $%s (%s) has no value", v.Name, v.Query)
	}
	ref := regexp.MustCompile(`\$\{?(\w+)\}?`)
	var empty []string
	check := func() bool {
		empty = empty[:0]
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				expr := ref.ReplaceAllStringFunc(tg.Expr, func(s string) string {
					name := ref.FindStringSubmatch(s)[1]
					val, ok := vars[name]
					if !ok {
						t.Fatalf("panel %q uses $%s, which is no query variable of the dashboard", p.Title, name)
					}
					return val
				})
				var r promResult
				_ = json.Unmarshal([]byte(get("query?query="+url.QueryEscape(expr))), &r)
				if r.Status != "success" || len(r.Data.Result) == 0 {
					empty = append(empty, fmt.Sprintf("%q: %s (%s %s)", p.Title, expr, r.Status, r.Error))
				}
			}
		}
		return len(empty) == 0
	}
	bustest.Eventually(t, 60*time.Second, check, "panels without data:\n%s", bustest.Lazy(func() string { return strings.Join(empty, "\n") }))
}
