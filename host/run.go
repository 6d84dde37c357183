package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/supervisor"
)

// Run boots the components and serves until ctx ends (SIGTERM, SIGINT),
// `razar detach`, or, with Config.Once, the end of the boot cycle. SIGHUP
// reloads. It shuts down in order: components, rungs, orchestrator, bus;
// each layer's context is cut only when the one above it has stopped.
// Run closes the host when it returns. A boot cycle that halted or failed
// is its error.
func (h *Host) Run(ctx context.Context) error {
	defer h.Close()
	var agentStop, orchStop context.CancelFunc
	h.rungCtx, agentStop = context.WithCancel(context.WithoutCancel(ctx))
	defer agentStop()
	orchCtx, orchStop := context.WithCancel(context.WithoutCancel(ctx))
	defer orchStop()

	// The last run's open alerts are settled before anything here can
	// raise one (the orchestrator resuming an incident, the boot cycle).
	h.reconcileAlerts(ctx)
	if h.agentsInproc() {
		for _, e := range h.roster.Load().Agents {
			if err := h.startRung(e.Name); err != nil {
				return err
			}
		}
	}
	g, gctx := errgroup.WithContext(orchCtx)
	h.serve(g, gctx)
	stopHUP := h.reloadOnHUP(g, gctx)
	defer stopHUP()
	h.logUp()

	runErr := h.bootAndSupervise(ctx, gctx)
	h.stopComponents()
	agentStop()
	h.rungWG.Wait()
	h.mirror.Flush(5 * time.Second)
	orchStop()
	if err := g.Wait(); err != nil && runErr == nil {
		runErr = fmt.Errorf("%v", err)
	}
	h.alerts.Close()
	return runErr
}

// serve starts the orchestrator, the lifecycle server, the mirror, the
// hub sourcing, the identity renewal, the store watch and the two HTTP
// listeners in g.
func (h *Host) serve(g *errgroup.Group, gctx context.Context) {
	g.Go(func() error { return h.orch.Run(gctx) })
	g.Go(func() error { return h.lc.Run(gctx) })
	g.Go(func() error { return h.mirror.Run(gctx) })
	if l := h.cfg.Leaf; l.URL != "" && l.HubDomain != NoHubDomain {
		g.Go(func() error {
			h.sourceOnHub(gctx, l)
			return nil
		})
	}
	if h.trust != nil {
		g.Go(func() error { h.renewIdentities(gctx); return nil })
	}
	g.Go(func() error { h.watchStore(gctx); return nil })
	hs := &http.Server{Handler: h.metricsHandler(), ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error { return serveHTTP(hs, h.ln, "metrics server") })
	cs := &http.Server{Handler: h.chakra.Handler(), ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error { return serveHTTP(cs, h.chakraLn, "chakra heartbeat server") })
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return errors.Join(hs.Shutdown(sctx), cs.Shutdown(sctx))
	})
}

// serveHTTP serves s on ln until it is shut down.
func serveHTTP(s *http.Server, ln net.Listener, what string) error {
	if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// reloadOnHUP reloads on every SIGHUP until gctx ends; stop stops the
// signal's delivery.
func (h *Host) reloadOnHUP(g *errgroup.Group, gctx context.Context) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
				if msg, err := h.Reload(gctx); err != nil {
					h.log.Error().Err(err).Msg("reload refused; nothing changed")
				} else {
					h.log.Info().Str("result", msg).Msg("reloaded on SIGHUP")
				}
			}
		}
	})
	return func() { signal.Stop(hup) }
}

// logUp says where the host serves and by which settings.
func (h *Host) logUp() {
	v := h.cfg.Variables
	h.log.Info().Str("addr", h.ln.Addr().String()).Msg("serving /metrics")
	h.log.Info().Str("addr", h.chakraLn.Addr().String()).Stringer("window", h.chakra.Window()).Msg("chakra heartbeat service: serving /metrics and /healthz")
	h.log.Info().Int("rstar_threshold", v.Threshold).Int("warning_threshold", v.Warn).Int("remote_attempts", h.cfg.RemoteAttempts).
		Bool("long_task", h.cfg.LongTask).Str("agents", h.cfg.AgentsMode).Int("rungs", len(h.roster.Load().Agents)).Str("home", h.cfg.Home).Msg("RAZAR is up")
}

// bootAndSupervise runs the boot cycle and then, unless Once, supervises
// until ctx or gctx ends or a detach. The boot cycle runs beside the
// signal watch, so a stop or detach during a long boot takes effect at
// once.
func (h *Host) bootAndSupervise(ctx, gctx context.Context) error {
	bootCtx, stopBoot := context.WithCancel(ctx)
	defer stopBoot()
	bootDone := make(chan error, 1)
	go func() { bootDone <- h.sup.Boot(bootCtx) }()
	var bootErr error
	select {
	case bootErr = <-bootDone:
	case <-h.detach:
		stopBoot()
		bootErr = <-bootDone
	case <-gctx.Done():
		stopBoot()
		bootErr = <-bootDone
	}
	runErr := h.bootResult(ctx, bootErr)
	if !h.cfg.Once && ctx.Err() == nil && !h.detached.Load() {
		supCtx, stopSup := context.WithCancel(ctx)
		supDone := make(chan struct{})
		go func() { defer close(supDone); h.sup.Supervise(supCtx) }()
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		case <-h.detach:
		}
		stopSup()
		<-supDone
		runErr = nil
	}
	return runErr
}

// bootResult is the error of a boot cycle that ended with bootErr, logged.
func (h *Host) bootResult(ctx context.Context, bootErr error) error {
	switch {
	case bootErr == nil:
	case errors.Is(bootErr, supervisor.ErrBootHalted):
		next := "`razar resume` takes the cycle on from where it stopped"
		if h.cfg.Once {
			next = "`razar boot` starts a new cycle (RAZAR exits: --once)"
		}
		h.log.Error().Msg("boot halted: the quarantined component and the escalation history are in logs/; fix it, then `razar release <component>`; then " + next)
		return fmt.Errorf("%v", bootErr)
	case ctx.Err() != nil || h.detached.Load():
	default:
		h.log.Error().Err(bootErr).Msg("boot cycle failed")
		return fmt.Errorf("boot: %v", bootErr)
	}
	return nil
}

// stopComponents stops the components, or leaves them running on a detach.
func (h *Host) stopComponents() {
	if h.detached.Load() {
		h.log.Info().Msg("detaching: the components keep running; rungs, orchestrator and bus stop")
		h.sup.Detach()
		return
	}
	h.log.Info().Msg("shutting down: components, rungs, orchestrator, bus")
	h.sup.Close()
}

// sourceOnHub has the hub keep a copy of this host's records: stream
// RAZAR_<domain> in the hub's domain, sourcing stream RAZAR. It waits for
// the link as long as RAZAR runs; a refusal is a warning, not a failure:
// the host works on its own all the same.
func (h *Host) sourceOnHub(ctx context.Context, l Leaf) {
	// A request the leaf credential may not send is dropped by the hub
	// unanswered, like one sent while the link is down: say so once.
	waiting := func(n int, err error) {
		if n == 5 {
			h.log.Warn().Err(err).Str("stream", jetstream.HubStream(l.Domain)).Str("hub_domain", l.HubDomain).
				Str("fix", jetstream.HubSourceCommand(l.HubDomain, l.Domain)).
				Msg("the hub has not answered the declaration of this host's copy; still trying: the link is down, or the leaf credential may not publish $JS." + l.HubDomain + ".API.STREAM.CREATE." + jetstream.HubStream(l.Domain) + " (then the hub operator runs the fix)")
		}
	}
	created, err := jetstream.SourceOnHub(ctx, h.nc, l.HubDomain, l.Domain, waiting)
	switch {
	case err == nil:
		h.log.Info().Str("stream", jetstream.HubStream(l.Domain)).Str("hub_domain", l.HubDomain).Bool("created", created).
			Msg("the hub sources this host's stream RAZAR")
	case ctx.Err() != nil:
	default:
		h.log.Warn().Err(err).Msg("the hub keeps no copy of this host's records")
	}
}
