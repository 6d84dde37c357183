package hostmetrics

import "github.com/razar/razar/orchestrator"

// ZeroSeries makes the invocation counters of every component and rung
// exist at 0, so a rate() or an absent() alert works before the first
// incident.
func ZeroSeries(m *orchestrator.Metrics, components, rungs []string) {
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
