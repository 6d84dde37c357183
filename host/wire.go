package host

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/razar/razar/agents/rotation"
	"github.com/razar/razar/alert"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/chakra"
	"github.com/razar/razar/config"
	"github.com/razar/razar/hostmetrics"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/mirror"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/supervisor"
)

// wire builds the orchestrator, the supervisor and the lifecycle bus, and
// connects them: the supervisor escalates through the orchestrator, the
// orchestrator verifies fixes through the supervisor.
func (h *Host) wire() error {
	h.wireMetrics()
	if err := h.wireAlerts(); err != nil {
		return err
	}
	if err := h.wireOrchestrator(); err != nil {
		return err
	}
	// Three probe intervals: a healthy component beats about three times
	// per window, so one late beat does not break alignment.
	h.chakra = chakra.New(chakra.Config{Window: 3 * h.cfg.Variables.ProbeInterval})
	h.chakra.SetComponents(h.boot.Load().Components)
	if err := h.wireLifecycle(); err != nil {
		return err
	}
	h.mirror = mirror.New(h.store, h.cfg.Home, h.log.With().Str("subsystem", "mirror").Logger())
	return nil
}

// redact scrubs the home's secrets from s.
func (h *Host) redact(s string) string { return h.cfg.Redactor().Redact(s) }

// wireMetrics registers the process's, the orchestrator's and the host's
// series on a registry of their own.
func (h *Host) wireMetrics() {
	h.reg = prometheus.NewRegistry()
	h.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h.metrics = orchestrator.NewMetrics(h.reg)
	h.fixMetrics = orchestrator.NewFixMetrics(h.reg)
	h.reg.MustRegister(hostmetrics.New(metricsSource{h}, h.cfg.Build))
	hostmetrics.ZeroSeries(h.metrics, componentNames(h.boot.Load()), rosterNames(h.roster.Load()))
}

// wireAlerts builds the alerter: webhook, Alertmanager, the host's labels.
func (h *Host) wireAlerts() error {
	homeID, err := homedir.ID(h.home().IDFile())
	if err != nil {
		return err
	}
	v := h.cfg.Variables
	h.alerts = alert.New(h.store, h.log.With().Str("subsystem", "alerts").Logger()).WithSinks(alert.Sinks{
		Webhook: v.Webhook, Alertmanager: v.Alertmanager, Runbook: v.Runbook,
		Host: v.HostName, Home: homeID, StatusURL: h.statusURL(), StateFile: h.home().Alerts(),
	})
	h.alerts.Redact = h.redact
	return nil
}

// wireOrchestrator builds the orchestrator and the supervisor, each
// calling the other through a callback.
func (h *Host) wireOrchestrator() error {
	var sup *supervisor.Supervisor // the orchestrator verifies fixes through it, once it exists
	cfg := h.orchestratorConfig()
	cfg.Verify = func(ctx context.Context, comp config.Component) error { return sup.Verify(ctx, comp) }
	cfg.Ended = func(string, string) {
		if sup != nil {
			sup.IncidentEnded() // logs/razar_state.json no longer lists it
		}
	}
	orch, err := orchestrator.New(h.store, cfg)
	if err != nil {
		return err
	}
	v := h.cfg.Variables
	sup, err = supervisor.New(h.store, orch, h.boot.Load(), supervisor.Config{
		Home:          h.cfg.Home,
		StoreError:    h.storeError,
		Retries:       h.cfg.Retries,
		ProbeInterval: v.ProbeInterval,
		Alerts:        h.alerts,
		Redact:        h.redact,
		Log:           h.log.With().Str("subsystem", "supervisor").Logger(),
	})
	if err != nil {
		return err
	}
	h.orch, h.sup = orch, sup
	return nil
}

// orchestratorConfig is the orchestrator's Config but its callbacks to
// the supervisor.
func (h *Host) orchestratorConfig() orchestrator.Config {
	v := h.cfg.Variables
	return orchestrator.Config{
		Alerts:            h.alerts,
		Home:              h.cfg.Home,
		Roster:            func() (*config.Roster, error) { return h.roster.Load(), nil },
		Components:        func() (*config.BootConfig, error) { return h.boot.Load(), nil },
		Threshold:         v.Threshold,
		WarnThreshold:     v.Warn,
		RemoteAttempts:    h.cfg.RemoteAttempts,
		LongTask:          h.cfg.LongTask,
		TokenBudget:       int64(v.TokenBudget),
		VerifyWindow:      v.VerifyWindow,
		SettleWindow:      v.SettleWindow,
		Retention:         v.Retention,
		ApprovalWindow:    v.Approval,
		Display:           h.display,
		Metrics:           h.metrics,
		FixMetrics:        h.fixMetrics,
		NoFixMemory:       v.NoFixMemory,
		FixMemoryNewFiles: v.FixNewFiles,
		ContextBytes:      v.ContextBytes,
		ContextCalls:      v.ContextCalls,
		Sandbox:           v.Sandbox,
		Redactor:          h.cfg.Redactor,
		Log:               h.log.With().Str("subsystem", "orchestrator").Logger(),
	}
}

// wireLifecycle builds the lifecycle server and registers every verb.
func (h *Host) wireLifecycle() error {
	var err error
	h.lc, err = bus.NewLifecycle(h.ctrl, bus.LifecycleConfig{
		Audit:    func(ctx context.Context, rec *bus.AuditRecord) error { return h.store.Audit(ctx, rec, "") },
		Redact:   h.redact,
		Identify: h.identify,
		Log:      h.log.With().Str("subsystem", "lifecycle").Logger(),
	})
	if err != nil {
		return err
	}
	h.orch.Register(h.lc)
	h.orch.RegisterFixes(h.lc)
	h.sup.Register(h.lc)
	h.lc.Handle(bus.VerbStatus, h.status)
	h.lc.Handle(bus.VerbReload, func(ctx context.Context, _ string, _ *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		msg, err := h.Reload(ctx)
		return &bus.LifecycleReply{Message: msg}, err
	})
	h.lc.Handle(bus.VerbRecord, h.record)
	h.lc.Handle(bus.VerbMemoryAudit, h.memoryAudit)
	h.rotations = rotation.New(func(ctx context.Context, rec *bus.AuditRecord) error { return h.store.Audit(ctx, rec, "") },
		h.log)
	h.rotations.Register(h.lc)
	h.lc.Handle(bus.VerbDetach, h.detachVerb)
	return nil
}

// detachVerb has Run exit and leave the components running.
func (h *Host) detachVerb(context.Context, string, *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	if h.detached.CompareAndSwap(false, true) {
		close(h.detach)
	}
	return &bus.LifecycleReply{Message: "RAZAR is exiting and leaves the components running; `razar boot` here adopts them"}, nil
}

// metricsSource is what the host metrics read of the host.
type metricsSource struct{ h *Host }

// Approvals are the orchestrator's patches waiting, once it exists.
func (s metricsSource) Approvals() ([]bus.PendingApproval, bool) {
	if s.h.orch == nil {
		return nil, false
	}
	return s.h.orch.Approvals(), true
}

// Mission is the supervisor's view, once it exists.
func (s metricsSource) Mission() (*bus.MissionState, bool) {
	if s.h.sup == nil {
		return nil, false
	}
	m, err := s.h.sup.View(bus.AllComponents)
	return m, err == nil
}

// Rungs are the orchestrator's rungs, once it exists.
func (s metricsSource) Rungs(ctx context.Context) ([]*bus.AgentStatus, bool) {
	if s.h.orch == nil {
		return nil, false
	}
	_, rungs, err := s.h.orch.Status(ctx, bus.AllComponents)
	return rungs, err == nil
}
