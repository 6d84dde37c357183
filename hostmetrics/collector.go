package hostmetrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/razar/razar/bus"
)

// Source is what the Collector reads at each scrape. Each method reports
// ok false while what it reads does not exist yet (the daemon is still
// being wired); the Collector then leaves those series out.
type Source interface {
	// Approvals are the validated patches waiting for `razar approve`.
	Approvals() (pending []bus.PendingApproval, ok bool)
	// Mission is the supervisor's view of every component.
	Mission() (*bus.MissionState, bool)
	// Rungs is the orchestrator's view of the rungs.
	Rungs(ctx context.Context) ([]*bus.AgentStatus, bool)
}

// Build names the running binary in razar_build_info.
type Build struct {
	Version, Revision, GoVersion string
}

// Collector exports what an operator alerts on about the host, read at
// scrape time from its Source, so every series is there from the first
// scrape: each component up or not and its restarts, whether an operator
// holds it stopped, each rung ready or not, the mission's health, the
// build.
type Collector struct {
	src   Source
	build Build

	up, held, restarts, checks, ready, health, buildInfo, pending *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns the Collector of src, naming the binary build.
func New(src Source, build Build) *Collector {
	return &Collector{
		src: src, build: build,
		up: prometheus.NewDesc("razar_component_up",
			"1 while the component runs and its health check passes, else 0.", []string{"component"}, nil),
		held: prometheus.NewDesc("razar_component_held",
			"1 while an operator holds the component stopped (razar stop), else 0: a component down and held is no outage.", []string{"component"}, nil),
		restarts: prometheus.NewDesc("razar_component_restarts_total",
			"Local restarts of the component since RAZAR started.", []string{"component"}, nil),
		checks: prometheus.NewDesc("razar_health_checks_total",
			"Health checks of the component since RAZAR started, by result (pass, fail).", []string{"component", "result"}, nil),
		ready: prometheus.NewDesc("razar_rung_ready",
			"1 while the rung's processes report they can run, else 0.", []string{"agent"}, nil),
		health: prometheus.NewDesc("razar_mission_health",
			"1 for the mission's current health (healthy, degraded or halted), 0 for the others.", []string{"health"}, nil),
		pending: prometheus.NewDesc("razar_patches_pending",
			"Validated patches waiting for `razar approve`, by component.", []string{"component"}, nil),
		buildInfo: prometheus.NewDesc("razar_build_info",
			"The running RAZAR's version, commit and Go version; always 1.", []string{"version", "revision", "goversion"}, nil),
	}
}

// Describe sends every series' description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.held, c.restarts, c.checks, c.ready, c.health, c.buildInfo, c.pending} {
		ch <- d
	}
}

// Collect reads the Source and sends the series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1, c.build.Version, c.build.Revision, c.build.GoVersion)
	held := map[string]int{} // validated patches waiting, by component
	approvals, haveOrch := c.src.Approvals()
	for _, p := range approvals {
		held[p.Component]++
	}
	if m, ok := c.src.Mission(); ok {
		c.collectMission(ch, m, held)
	}
	if haveOrch {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if rungs, ok := c.src.Rungs(ctx); ok {
			for _, r := range rungs {
				ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, boolValue(r.Ready), r.Name)
			}
		}
	}
}

// collectMission sends the series of each component and the mission's health.
func (c *Collector) collectMission(ch chan<- prometheus.Metric, m *bus.MissionState, held map[string]int) {
	for _, comp := range m.Components {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, boolValue(comp.Status == bus.StatusHealthy), comp.Name)
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, boolValue(comp.Held), comp.Name)
		ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(comp.Restarts), comp.Name)
		ch <- prometheus.MustNewConstMetric(c.checks, prometheus.CounterValue, float64(comp.ProbesPassed), comp.Name, "pass")
		ch <- prometheus.MustNewConstMetric(c.checks, prometheus.CounterValue, float64(comp.ProbesFailed), comp.Name, "fail")
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(held[comp.Name]), comp.Name)
	}
	for _, h := range []string{bus.HealthHealthy, bus.HealthDegraded, bus.HealthHalted} {
		ch <- prometheus.MustNewConstMetric(c.health, prometheus.GaugeValue, boolValue(m.Health == h), h)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
