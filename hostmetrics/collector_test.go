package hostmetrics_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/hostmetrics"
	"github.com/razar/razar/orchestrator"
)

// source is a host as the collector sees it; nil fields are parts not
// wired yet.
type source struct {
	approvals []bus.PendingApproval
	mission   *bus.MissionState
	rungs     []*bus.AgentStatus
	wired     bool
}

func (s source) Approvals() ([]bus.PendingApproval, bool) { return s.approvals, s.wired }
func (s source) Mission() (*bus.MissionState, bool)       { return s.mission, s.mission != nil }
func (s source) Rungs(context.Context) ([]*bus.AgentStatus, bool) {
	return s.rungs, s.wired
}

var build = hostmetrics.Build{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.24"}

// Every series an operator alerts on comes from one scrape of the host:
// a component up, held and probed, a patch waiting, a rung not ready, the
// mission's health one-hot, the build.
func TestCollectorExportsTheHostAsItIsNow(t *testing.T) {
	src := source{
		wired:     true,
		approvals: []bus.PendingApproval{{Component: "web"}, {Component: "web"}},
		mission: &bus.MissionState{Health: bus.HealthDegraded, Components: []bus.ComponentView{
			{Name: "web", Status: bus.StatusHealthy, Restarts: 2, ProbesPassed: 7, ProbesFailed: 1},
			{Name: "db", Status: bus.StatusQuarantined, Held: true},
		}},
		rungs: []*bus.AgentStatus{{Name: "crown", Ready: true}, {Name: "k2", Reason: "no key"}},
	}
	want := `
# HELP razar_build_info The running RAZAR's version, commit and Go version; always 1.
# TYPE razar_build_info gauge
razar_build_info{goversion="go1.24",revision="abc",version="v1.2.3"} 1
# HELP razar_component_held 1 while an operator holds the component stopped (razar stop), else 0: a component down and held is no outage.
# TYPE razar_component_held gauge
razar_component_held{component="db"} 1
razar_component_held{component="web"} 0
# HELP razar_component_restarts_total Local restarts of the component since RAZAR started.
# TYPE razar_component_restarts_total counter
razar_component_restarts_total{component="db"} 0
razar_component_restarts_total{component="web"} 2
# HELP razar_component_up 1 while the component runs and its health check passes, else 0.
# TYPE razar_component_up gauge
razar_component_up{component="db"} 0
razar_component_up{component="web"} 1
# HELP razar_health_checks_total Health checks of the component since RAZAR started, by result (pass, fail).
# TYPE razar_health_checks_total counter
razar_health_checks_total{component="db",result="fail"} 0
razar_health_checks_total{component="db",result="pass"} 0
razar_health_checks_total{component="web",result="fail"} 1
razar_health_checks_total{component="web",result="pass"} 7
# HELP razar_mission_health 1 for the mission's current health (healthy, degraded or halted), 0 for the others.
# TYPE razar_mission_health gauge
razar_mission_health{health="degraded"} 1
razar_mission_health{health="halted"} 0
razar_mission_health{health="healthy"} 0
# HELP razar_patches_pending Validated patches waiting for ` + "`razar approve`" + `, by component.
# TYPE razar_patches_pending gauge
razar_patches_pending{component="db"} 0
razar_patches_pending{component="web"} 2
# HELP razar_rung_ready 1 while the rung's processes report they can run, else 0.
# TYPE razar_rung_ready gauge
razar_rung_ready{agent="crown"} 1
razar_rung_ready{agent="k2"} 0
`
	mfs := gather(t, hostmetrics.New(src, build))
	if got := text(t, mfs); got != strings.TrimPrefix(want, "\n") {
		t.Errorf("scrape:\n%s\nwant:\n%s", got, want)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// gather collects c alone, as a pedantic registry checks it.
func gather(t *testing.T, c prometheus.Collector) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// text is mfs in the text exposition format.
func text(t *testing.T, mfs []*dto.MetricFamily) string {
	t.Helper()
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// Before the supervisor and the orchestrator exist, a scrape still
// answers, with the build alone.
func TestCollectorBeforeTheHostIsWiredExportsTheBuildOnly(t *testing.T) {
	mfs := gather(t, hostmetrics.New(source{}, build))
	if len(mfs) != 1 || mfs[0].GetName() != "razar_build_info" {
		t.Errorf("before wiring: %s, want razar_build_info alone", text(t, mfs))
	}
}

// ZeroSeries makes every invocation counter of each component and rung
// exist at 0 before the first incident.
func TestZeroSeriesMakesTheCountersExistAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := orchestrator.NewMetrics(reg)
	hostmetrics.ZeroSeries(m, []string{"web"}, []string{"crown", "k2"})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			series[mf.GetName()]++
			if v := m.GetCounter().GetValue(); v != 0 {
				t.Errorf("%s = %v, want 0", mf.GetName(), v)
			}
		}
	}
	for _, name := range []string{"razar_escalations_total", "razar_incidents_total", "razar_patches_total"} {
		if series[name] == 0 {
			t.Errorf("%s has no series at 0: %v", name, series)
		}
	}
}
