package orchestrator

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the orchestrator's Prometheus series. Register them on the
// registry cmd/razar passes in; the zero value is not usable, use NewMetrics.
type Metrics struct {
	Success     *prometheus.CounterVec
	Failure     *prometheus.CounterVec
	Retries     *prometheus.CounterVec
	Skipped     *prometheus.CounterVec
	Escalations *prometheus.CounterVec
	Incidents   *prometheus.CounterVec
	Open        prometheus.Gauge
	// HandOvers counts hand-overs by the rung handing over and the one
	// taking over ("razar" for an incident's first attempt).
	HandOvers *prometheus.CounterVec
	// AttemptDuration is how long each rung's attempts took, judging included.
	AttemptDuration *prometheus.HistogramVec
	// Patches counts patch verdicts by component and outcome (applied,
	// rejected, reverted).
	Patches *prometheus.CounterVec
	// Tokens counts the model tokens rungs reported, by rung, component
	// and kind (prompt, completion).
	Tokens *prometheus.CounterVec
}

// TokenKinds are the values of razar_ai_tokens_total's kind label.
var TokenKinds = []string{"prompt", "completion"}

// NewMetrics creates the series and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Success: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "razar_ai_invocation_success_total",
			Help: "Agent attempts whose fix held, by component and agent.",
		}, []string{"component", "agent"}),
		Failure: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "razar_ai_invocation_failure_total",
			Help: "Agent attempts that failed (no fix, error, timeout or a fix that did not hold), by component and agent.",
		}, []string{"component", "agent"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "razar_ai_invocation_retries_total",
			Help: "Agent attempts made after an earlier attempt of the same incident had failed, by component and agent.",
		}, []string{"component", "agent"}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "razar_ai_invocation_skipped_total",
			Help: "Rung turns skipped because the rung could not run (missing credential, no endpoint), by component and agent.",
		}, []string{"component", "agent"}),
		Escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "razar_escalations_total",
			Help: "Hand-overs of an incident to another rung, by component.",
		}, []string{"component"}),
		Incidents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "razar_incidents_total",
			Help: "Incidents that ended, by component and final state (healed, failed, aborted).",
		}, []string{"component", "state"}),
		Open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "razar_incidents_open",
			Help: "Incidents this orchestrator is working on now.",
		}),
		HandOvers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "razar_handovers_total",
			Help: "Hand-overs of incidents from one rung (from; razar for the first) to another (to).",
		}, []string{"from", "to"}),
		AttemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "razar_attempt_duration_seconds",
			Help:    "How long attempts took, from hand-over to verdict, by rung.",
			Buckets: []float64{0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900},
		}, []string{"agent"}),
		Patches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "razar_patches_total",
			Help: "Patch verdicts by component and outcome (applied, rejected, reverted).",
		}, []string{"component", "outcome"}),
		Tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "razar_ai_tokens_total",
			Help: "Model tokens the rungs reported spending on attempts, by agent, component and kind (prompt, completion).",
		}, []string{"agent", "component", "kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.Success, m.Failure, m.Retries, m.Skipped, m.Escalations, m.Incidents, m.Open, m.HandOvers, m.AttemptDuration, m.Patches, m.Tokens)
	}
	return m
}
