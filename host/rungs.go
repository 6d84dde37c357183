package host

import (
	"context"
	"fmt"
	"time"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream"
)

// startRung runs one rung in this process until the rung context ends or
// the rung is dropped from the roster.
func (h *Host) startRung(name string) error {
	if e, err := h.roster.Load().Agent(name); err == nil && e.Human() {
		return nil // a person on call: the orchestrator pages on its turn
	}
	// Each rung is its own client, as its own identity: the server holds an
	// in-process rung to the same permissions as one on another host.
	creds := h.cfg.Creds(name)
	if h.trust != nil {
		creds = h.trust.Path(name)
	}
	opts := []bus.ConnOption{bus.WithInboxPrefix(auth.InboxPrefix(name))}
	if creds != "" {
		opts = append(opts, bus.WithCreds(creds))
	}
	cctx, ccancel := context.WithTimeout(h.rungCtx, 10*time.Second)
	nc, err := bus.Connect(cctx, h.url(), "razar-rung-"+name, h.log, opts...)
	ccancel()
	if err != nil {
		return fmt.Errorf("rung %s: %w", name, err)
	}
	store, err := jetstream.BindStream(h.rungCtx, nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("rung %s: %w", name, err)
	}
	rt, err := h.cfg.NewRung(store, name, h.log)
	if err != nil {
		nc.Close()
		return err
	}
	ctx, cancel := context.WithCancel(h.rungCtx)
	h.rungMu.Lock()
	h.rungs[name] = cancel
	h.rungMu.Unlock()
	h.rungWG.Add(1)
	go func() {
		defer h.rungWG.Done()
		defer cancel()
		defer bus.Drain(nc, 5*time.Second)
		if err := rt.Run(ctx); err != nil {
			h.log.Error().Err(err).Str("agent", name).Msg("rung stopped")
		}
	}()
	return nil
}

// reconcileRungs starts the in-process rungs a reloaded roster adds and
// stops those it drops. A human rung has no process: a rung that turns
// human stops, one that stops being human starts.
func (h *Host) reconcileRungs(old, next *config.Roster) {
	runs := func(r *config.Roster) map[string]bool {
		out := map[string]bool{}
		for _, e := range r.Agents {
			if !e.Human() {
				out[e.Name] = true
			}
		}
		return out
	}
	was, now := runs(old), runs(next)
	for _, e := range next.Agents {
		if !now[e.Name] || was[e.Name] {
			continue
		}
		if err := h.startRung(e.Name); err != nil {
			h.log.Error().Err(err).Str("agent", e.Name).Msg("could not start a rung the roster added")
		}
	}
	h.rungMu.Lock()
	defer h.rungMu.Unlock()
	for name := range was {
		if now[name] {
			continue
		}
		if cancel, ok := h.rungs[name]; ok {
			cancel()
			delete(h.rungs, name)
		}
	}
}

// display names a rung in records: the roster's display, else the rung
// package's, else the name.
func (h *Host) display(name string) string {
	if e, err := h.roster.Load().Agent(name); err == nil && e.Display != "" {
		return e.Display
	}
	if h.cfg.RungDisplay != nil {
		return h.cfg.RungDisplay(name)
	}
	return name
}
