package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/agents/crown"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/ctl"
	"github.com/razar/razar/host"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/memory"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
)

// hostConfig is the host.Config of `razar boot` with settings s: its
// flags and variables, and what only cmd knows (the five rungs, the
// memory bundle's records, how config/razar.env is re-read) as functions.
func (s *settings) hostConfig(c *cli) host.Config {
	return host.Config{
		Home: c.home, BootFile: s.config,
		Retries: s.retries, RemoteAttempts: s.remoteAttempts, LongTask: s.longTask, Once: s.once,
		NATSListen: s.natsListen, NATSURL: s.natsURL, OpenBusWarning: s.openBusWarning(),
		AgentsMode: s.agentsMode, Replicas: s.replicas,
		Leaf:      host.Leaf{URL: s.leaf.url, Creds: s.leaf.creds, Domain: s.leaf.domain, HubDomain: s.leaf.hubDomain},
		Variables: s.variables(),
		Warnings:  s.warnings,

		Logger:       c.daemonLogger,
		Redactor:     c.redactor,
		Creds:        func(ident string) string { return c.client().CredsFor(ident) },
		ControlCreds: func() string { return c.client().ExternalControlCreds() },
		NewRung: func(store *jetstream.Store, name string, log zerolog.Logger) (*agents.Runtime, error) {
			return c.newRung(store, name, log, 0)
		},
		RungDisplay: func(name string) string { return rungFor(name).Display },
		InitMemory: func(ctx context.Context, store *jetstream.Store, cfg *config.MemoryConfig, log zerolog.Logger) {
			ctl.InitMemory(ctx, c.home, memory.SourceBoot, store, nil, cfg, log)
		},
		MemoryAudit: func(ctx context.Context, store *jetstream.Store, items int, actor string, log zerolog.Logger) *memory.AuditReport {
			rep := ctl.RunMemoryAudit(ctx, store, razar.Home(c.home).Patches(), items, nil)
			ctl.RecordMemoryAudit(ctx, c.home, store, rep, actor, log)
			return rep
		},
		Reread: func() (*host.Reread, error) { return c.reread(s) },
		Build:  buildInfo(),
	}
}

// variables are the variable part of s, which a reload re-reads, in the
// types of the packages that use them.
func (s *settings) variables() host.Variables {
	v, l, sb := s.vars, s.vars.Limits, s.vars.Sandbox
	return host.Variables{
		Threshold: v.Threshold, Warn: v.Warn, TokenBudget: v.TokenBudget,
		MetricsAddr: v.MetricsAddr, StatusHosts: host.StatusHosts(v.StatusHosts), ChakraAddr: v.ChakraAddr,
		VerifyWindow: v.VerifyWindow, SettleWindow: v.SettleWindow, ProbeInterval: v.ProbeInterval,
		Webhook: v.Webhook, Alertmanager: v.Alertmanager, Retention: v.Retention,
		Limits: jetstream.Limits{StreamMaxBytes: l.StreamMaxBytes, StreamMaxMsgSize: l.StreamMaxMsgSize, StreamMaxAge: l.StreamMaxAge,
			ResultsMaxBytes: l.ResultsMaxBytes, StateMaxBytes: l.StateMaxBytes, StateMaxValueSize: l.StateMaxValueSize},
		Pprof: v.Pprof, Approval: v.Approval, Runbook: v.Runbook, HostName: v.HostName, StatusURL: v.StatusURL,
		NoFixMemory: v.NoFixMemory, ContextBytes: v.ContextBytes, ContextCalls: v.ContextCalls,
		FixNewFiles: orchestrator.NewFilesPolicy(v.FixNewFiles),
		Sandbox:     patch.Sandbox{Weak: sb.Weak, UID: sb.UID, GID: sb.GID, ReadOnly: sb.ReadOnly},
	}
}

// reread re-reads config/razar.env and the variables for a reload of a
// RAZAR booted with s. The env file's settings are installed; Undo puts
// the old ones back.
func (c *cli) reread(s *settings) (*host.Reread, error) {
	env, err := c.env.ReadFile()
	if err != nil {
		return nil, err
	}
	next := *s
	restore := c.env.Swap(env)
	undo := func() { c.env.Swap(restore) }
	if err := c.readVariables(&next); err != nil {
		undo()
		return nil, err
	}
	r := &host.Reread{Variables: next.variables(), Warnings: c.configWarnings(&next), Undo: undo}
	if s.strict {
		r.StrictErr = strictErr(r.Warnings)
	}
	for name, v := range c.busVariables() {
		if v != s.busEnv[name] {
			r.BusChanged = append(r.BusChanged, name)
		}
	}
	return r, nil
}

// newRung builds the runtime of one rung, in this process.
func (c *cli) newRung(store *jetstream.Store, name string, log zerolog.Logger, workers int) (*agents.Runtime, error) {
	r := rungFor(name)
	display := r.Display
	if roster, err := config.LoadRoster(razar.Home(c.home).Roster()); err == nil {
		if e, err := roster.Agent(name); err == nil && e.Display != "" {
			display = e.Display
		}
	}
	var handshake func(context.Context, *bus.MissionBrief) *bus.HandshakeAck
	if name == crown.Name {
		handshake = crown.Handshake(c.home)
	}
	return agents.New(store, agents.Config{
		Name: name, Display: display, Handshake: handshake, Workers: workers,
		Load:     agents.RosterLoader(razar.Home(c.home).Roster(), c.home, r, c.lookup),
		Probe:    agents.RosterProber(razar.Home(c.home).Roster(), c.home, r, c.lookup),
		Redactor: func() (*razar.Redactor, error) { return c.newSecrets().Build() },
		Log:      log.With().Str("subsystem", "agent").Logger(),
	})
}
