package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/orchestrator"
)

// hostCollector exports what an operator alerts on about the host, read
// at scrape time from the supervisor and the orchestrator, so every series
// is there from the first scrape: each component up or not and its
// restarts, whether an operator holds it stopped, each rung ready or not,
// the mission's health, the build.
type hostCollector struct {
	d *daemon

	up, held, restarts, checks, ready, health, build, pending *prometheus.Desc
}

func newHostCollector(d *daemon) *hostCollector {
	return &hostCollector{
		d: d,
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
		build: prometheus.NewDesc("razar_build_info",
			"The running RAZAR's version, commit and Go version; always 1.", []string{"version", "revision", "goversion"}, nil),
	}
}

func (c *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.held, c.restarts, c.checks, c.ready, c.health, c.build, c.pending} {
		ch <- d
	}
}

func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	ver, rev, gov := buildInfo()
	ch <- prometheus.MustNewConstMetric(c.build, prometheus.GaugeValue, 1, ver, rev, gov)
	held := map[string]int{} // validated patches waiting, by component
	if c.d.orch != nil {
		for _, p := range c.d.orch.Approvals() {
			held[p.Component]++
		}
	}
	if c.d.sup != nil {
		if m, err := c.d.sup.View(bus.AllComponents); err == nil {
			for _, comp := range m.Components {
				up := 0.0
				if comp.Status == bus.StatusHealthy {
					up = 1
				}
				ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, comp.Name)
				hold := 0.0
				if comp.Held {
					hold = 1
				}
				ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, hold, comp.Name)
				ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(comp.Restarts), comp.Name)
				ch <- prometheus.MustNewConstMetric(c.checks, prometheus.CounterValue, float64(comp.ProbesPassed), comp.Name, "pass")
				ch <- prometheus.MustNewConstMetric(c.checks, prometheus.CounterValue, float64(comp.ProbesFailed), comp.Name, "fail")
				ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(held[comp.Name]), comp.Name)
			}
			for _, h := range []string{bus.HealthHealthy, bus.HealthDegraded, bus.HealthHalted} {
				v := 0.0
				if m.Health == h {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(c.health, prometheus.GaugeValue, v, h)
			}
		}
	}
	if c.d.orch != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, rungs, err := c.d.orch.Status(ctx, bus.AllComponents); err == nil {
			for _, r := range rungs {
				v := 0.0
				if r.Ready {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, v, r.Name)
			}
		}
	}
}

// zeroSeries makes the invocation counters of every component and rung
// exist at 0, so a rate() or an absent() alert works before the first
// incident.
func zeroSeries(m *orchestrator.Metrics, components, rungs []string) {
	for _, c := range components {
		m.Escalations.WithLabelValues(c)
		for _, a := range rungs {
			m.Success.WithLabelValues(c, a)
			m.Failure.WithLabelValues(c, a)
			m.Retries.WithLabelValues(c, a)
			m.Skipped.WithLabelValues(c, a)
			for _, k := range orchestrator.TokenKinds {
				m.Tokens.WithLabelValues(a, c, k)
			}
		}
		for _, st := range []string{"healed", "failed", "aborted"} {
			m.Incidents.WithLabelValues(c, st)
		}
		for _, out := range []string{"applied", "rejected", "reverted"} {
			m.Patches.WithLabelValues(c, out)
		}
	}
	for _, a := range rungs {
		m.AttemptDuration.WithLabelValues(a)
	}
}
