package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/agents/crown"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/orchestrator"
)

type bootFlags struct {
	config         string
	retries        int
	remoteAttempts int
	longTask       bool
	once           bool
	natsListen     string
	natsURL        string
	agentsMode     string
}

func (c *cli) boot(ctx context.Context, args []string) error {
	var f bootFlags
	fs := c.newFlags("boot")
	fs.StringVar(&f.config, "config", "", "boot config `file` (default config/boot_config.json in the home)")
	fs.IntVar(&f.retries, "retries", 3, "local restarts before the first escalation")
	fs.IntVar(&f.remoteAttempts, "remote-attempts", 1, "attempts per rung turn")
	fs.BoolVar(&f.longTask, "long-task", false, "keep escalating past the ladder, with capped backoff, until a fix holds or `razar abort`")
	fs.BoolVar(&f.once, "once", false, "exit after the boot cycle: 0 when every component is healthy")
	fs.StringVar(&f.natsListen, "nats-listen", jetstream.DefaultListen, "`HOST:PORT` of the embedded NATS server")
	fs.StringVar(&f.natsURL, "nats", "", "use the NATS server or cluster at `URL` instead of embedding one (default $RAZAR_NATS_URL)")
	fs.StringVar(&f.agentsMode, "agents", "inproc", "inproc: run every rung in this process; external: run none (start them with `razar agent`)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("boot takes no arguments, got %q", pos[0])
	}
	if f.agentsMode != "inproc" && f.agentsMode != "external" {
		return usageErr("--agents %q: use inproc or external", f.agentsMode)
	}
	if f.retries < 0 || f.remoteAttempts < 1 {
		return usageErr("--retries must be ≥ 0 and --remote-attempts ≥ 1")
	}
	if f.config == "" {
		f.config = c.path(bootConfigFile)
	}
	if f.natsURL == "" {
		f.natsURL = c.getenv("RAZAR_NATS_URL")
	}
	threshold, err := c.envInt("RAZAR_RSTAR_THRESHOLD", orchestrator.DefaultThreshold)
	if err != nil {
		return err
	}
	warn, err := c.envInt("RAZAR_ESCALATION_WARNING_THRESHOLD", orchestrator.DefaultWarnThreshold)
	if err != nil {
		return err
	}
	metricsPort, err := c.envInt("RAZAR_METRICS_PORT", 9360)
	if err != nil {
		return err
	}
	verifyWindow, err := c.envDuration("RAZAR_VERIFY_WINDOW", 10*time.Second)
	if err != nil {
		return err
	}
	probeInterval, err := c.envDuration("RAZAR_HEALTH_PROBE_INTERVAL", 30*time.Second)
	if err != nil {
		return err
	}
	// Read both config files before starting anything: a bad file is exit 2
	// with a line that names it, not a half-started mesh.
	if _, err := razar.LoadBootConfig(f.config); err != nil {
		return err
	}
	roster, err := razar.LoadRoster(c.path(rosterFile))
	if err != nil {
		return err
	}

	log, closeLog, err := c.daemonLogger("boot")
	if err != nil {
		return err
	}
	defer closeLog()

	url := f.natsURL
	var srv *jetstream.Server
	if url == "" {
		unlock, err := jetstream.LockStore(c.path(stateDir))
		if err != nil {
			if errors.Is(err, jetstream.ErrStoreLocked) {
				return failed("RAZAR is already running in %s: %v (talk to it with `razar status`, or stop it first)", c.home, err)
			}
			return failed("lock %s: %v", c.path(stateDir), err)
		}
		defer unlock()
		srv, err = jetstream.StartServer(jetstream.ServerConfig{
			StoreDir: c.path(stateDir), Listen: f.natsListen, URLFile: c.path(natsURLFile), Log: log,
		})
		if err != nil {
			return failed("%v", err)
		}
		defer srv.Shutdown()
		url = srv.ClientURL()
		log.Info().Str("url", url).Str("store", c.path(stateDir)).Msg("embedded NATS with JetStream is up")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	nc, err := bus.Connect(cctx, url, "razar-boot", log)
	cancel()
	if err != nil {
		return failed("%v", err)
	}
	defer bus.Drain(nc, 5*time.Second)
	store, err := jetstream.Open(ctx, nc)
	if err != nil {
		return failed("%v", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := orchestrator.NewMetrics(reg)
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(metricsPort))
	if err != nil {
		return failed("metrics listener on port %d: %v (fix: set RAZAR_METRICS_PORT to a free port)", metricsPort, err)
	}
	log.Info().Str("addr", ln.Addr().String()).Msg("serving /metrics")

	// Shut down in order: rungs first, then the orchestrator, then the bus.
	agentCtx, stopAgents := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAgents()
	orchCtx, stopOrch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOrch()

	var agentWG sync.WaitGroup
	if f.agentsMode == "inproc" {
		for _, e := range roster.Agents {
			rt, err := c.newRung(store, e.Name, log, 0)
			if err != nil {
				return err
			}
			agentWG.Add(1)
			go func() {
				defer agentWG.Done()
				if err := rt.Run(agentCtx); err != nil {
					log.Error().Err(err).Str("agent", e.Name).Msg("rung stopped")
				}
			}()
		}
	}

	alerts := orchestrator.NewAlerter(store, log.With().Str("subsystem", "alerts").Logger()).WithSinks(orchestrator.AlertSinks{
		Webhook:      c.getenv("RAZAR_ALERT_WEBHOOK"),
		Alertmanager: c.getenv("RAZAR_ALERTMANAGER_URL"),
	})
	alerts.Redact = func(s string) string { return c.redactor().Redact(s) }
	defer alerts.Close()
	orch, err := orchestrator.New(store, orchestrator.Config{
		Alerts:         alerts,
		Home:           c.home,
		Roster:         func() (*razar.Roster, error) { return razar.LoadRoster(c.path(rosterFile)) },
		Components:     func() (*razar.BootConfig, error) { return loadBoot(f.config, c.home) },
		Threshold:      threshold,
		WarnThreshold:  warn,
		RemoteAttempts: f.remoteAttempts,
		LongTask:       f.longTask,
		VerifyWindow:   verifyWindow,
		Display:        displayName(c),
		Metrics:        metrics,
		Redactor:       c.redactor,
		Log:            log.With().Str("subsystem", "orchestrator").Logger(),
	})
	if err != nil {
		return err
	}
	sup, err := orchestrator.NewSupervisor(store, orch, orchestrator.SupervisorConfig{
		Home:          c.home,
		Components:    func() (*razar.BootConfig, error) { return loadBoot(f.config, c.home) },
		Retries:       f.retries,
		ProbeInterval: probeInterval,
		Log:           log.With().Str("subsystem", "supervisor").Logger(),
	})
	if err != nil {
		return err
	}
	lc := orchestrator.NewLifecycle(store, log.With().Str("subsystem", "lifecycle").Logger())
	lc.Redact = alerts.Redact
	orch.Register(lc)
	sup.Register(lc)
	mirror := orchestrator.NewMirror(store, c.home, log.With().Str("subsystem", "mirror").Logger())

	g, gctx := errgroup.WithContext(orchCtx)
	g.Go(func() error { return orch.Run(gctx) })
	g.Go(func() error { return lc.Run(gctx) })
	g.Go(func() error { return mirror.Run(gctx) })
	hs := &http.Server{Handler: metricsMux(reg), ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	})

	log.Info().Int("rstar_threshold", threshold).Int("warning_threshold", warn).Int("remote_attempts", f.remoteAttempts).
		Bool("long_task", f.longTask).Str("agents", f.agentsMode).Int("rungs", len(roster.Agents)).Str("home", c.home).Msg("RAZAR is up")

	var runErr error
	bootErr := sup.Boot(ctx)
	switch {
	case bootErr == nil:
	case errors.Is(bootErr, orchestrator.ErrBootHalted):
		runErr = failed("%v", bootErr)
		log.Error().Msg("boot halted: the quarantined component and the escalation history are in logs/; fix it, then `razar release <component>` and `razar start <component>`")
	case ctx.Err() != nil:
	default:
		runErr = failed("boot: %v", bootErr)
		log.Error().Err(bootErr).Msg("boot cycle failed")
	}
	if !f.once && ctx.Err() == nil {
		supCtx, stopSup := context.WithCancel(ctx)
		supDone := make(chan struct{})
		go func() { defer close(supDone); sup.Supervise(supCtx) }()
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		}
		stopSup()
		<-supDone
		runErr = nil
	}
	log.Info().Msg("shutting down: components, rungs, orchestrator, bus")
	sup.Close()
	stopAgents()
	agentWG.Wait()
	mirror.Flush(5 * time.Second)
	stopOrch()
	if err := g.Wait(); err != nil && runErr == nil {
		runErr = failed("%v", err)
	}
	return runErr
}

func metricsMux(reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "RAZAR: metrics at /metrics")
	})
	return mux
}

// newRung builds the runtime of one rung, in this process.
func (c *cli) newRung(store *jetstream.Store, name string, log zerolog.Logger, workers int) (*agents.Runtime, error) {
	r := rungFor(name)
	display := r.Display
	if roster, err := razar.LoadRoster(c.path(rosterFile)); err == nil {
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
		Load: agents.RosterLoader(c.path(rosterFile), c.home, r, c.lookup),
		Redactor: func() (*razar.Redactor, error) {
			return (&redactors{c: c}).build()
		},
		Log: log.With().Str("subsystem", "agent").Logger(),
	})
}

// displayName names a rung in records: the roster's display, else the rung
// package's, else the name.
func displayName(c *cli) func(string) string {
	return func(name string) string {
		if roster, err := razar.LoadRoster(c.path(rosterFile)); err == nil {
			if e, err := roster.Agent(name); err == nil && e.Display != "" {
				return e.Display
			}
		}
		return rungFor(name).Display
	}
}
