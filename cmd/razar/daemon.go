package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	neturl "net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/agents/crown"
	"github.com/razar/razar/alert"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/chakra"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/memory"
	"github.com/razar/razar/mirror"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/supervisor"
)

// boot is `razar boot`: parse the settings, build the daemon, run it.
// The orchestrator reopens the incidents whose heal did not hold for the
// supervisor.
var _ supervisor.Reopener = (*orchestrator.Orchestrator)(nil)

func (c *cli) boot(ctx context.Context, args []string) error {
	set, err := c.bootFlags(args)
	if err != nil {
		return err
	}
	d, err := newDaemon(ctx, c, set)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// daemon is a running `razar boot`: the bus, the rungs, the orchestrator,
// the supervisor, the lifecycle bus, the mirror and the metrics listener,
// wired together. newDaemon opens what can fail at start (config, store
// lock, bus, listener); Run starts every goroutine in one errgroup and shuts
// them down in order: components, rungs, orchestrator, bus.
type daemon struct {
	c       *cli
	set     *settings
	log     zerolog.Logger
	started time.Time

	closers []func() // run in reverse order by close

	srv   *jetstream.Server
	trust *auth.Trust // the embedded bus's identities; nil with --nats
	nc    *bus.Conn   // as the orchestrator identity
	ctrl  *bus.Conn   // the lifecycle listener: account CONTROL's identity, or nc
	store *jetstream.Store
	reg   *prometheus.Registry
	ln    net.Listener

	// rotations are the credential rotations waiting for two operator
	// identities (rotation verbs); in memory only.
	rotations *auth.Approvals

	chakra   *chakra.Service // the chakra heartbeat service, fed from razar.heartbeat.*
	chakraLn net.Listener

	boot   atomic.Pointer[razar.BootConfig]
	roster atomic.Pointer[razar.Roster]

	alerts  *alert.Alerter
	metrics *orchestrator.Metrics
	orch    *orchestrator.Orchestrator
	sup     *supervisor.Supervisor
	lc      *bus.Lifecycle
	mirror  *mirror.Mirror

	// fixMetrics count the fix memory's hits, misses and heals (status page too).
	fixMetrics *orchestrator.FixMetrics

	rungMu  sync.Mutex
	rungs   map[string]context.CancelFunc // in-process rungs by name
	rungWG  sync.WaitGroup
	rungCtx context.Context

	agentsInproc bool // --agents inproc: the daemon runs and reconciles the rungs
	identify     func(bus.RequestInfo) (auth.Identity, error)

	reloadMu sync.Mutex
	memoryMu sync.Mutex // one memory audit at a time
	detached atomic.Bool
	detach   chan struct{} // closed by the detach verb
}

func newDaemon(ctx context.Context, c *cli, set *settings) (_ *daemon, err error) {
	d := &daemon{c: c, set: set, started: time.Now(), rungs: map[string]context.CancelFunc{}, detach: make(chan struct{}), agentsInproc: set.agentsMode == "inproc"}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	// Whoever else can write the home or state/ could plant the links and
	// files RAZAR trusts: refuse before touching anything.
	homeWarnings, err := homedir.Check(c.home, c.path(stateDir))
	if err != nil {
		return nil, usageErr("%v", err)
	}
	// Read both config files before starting anything: a bad file is exit 2
	// with a line that names it, not a half-started mesh.
	boot, err := loadBoot(set.config, c.home)
	if err != nil {
		return nil, err
	}
	roster, err := razar.LoadRoster(c.path(rosterFile))
	if err != nil {
		return nil, err
	}
	if err := distinctNames(boot, roster); err != nil {
		return nil, err
	}
	runAsWarnings, err := checkRunAs(set.config, boot)
	if err != nil {
		return nil, err
	}
	d.boot.Store(boot)
	d.roster.Store(roster)

	log, closeLog, err := c.daemonLogger("boot")
	if err != nil {
		return nil, err
	}
	d.log = log
	d.closers = append(d.closers, closeLog)
	for _, w := range homeWarnings {
		log.Warn().Msg(w)
	}
	for _, w := range runAsWarnings {
		log.Warn().Msg(w)
	}
	for _, w := range set.warnings {
		log.Warn().Msg(w)
	}

	url := set.natsURL
	orchCreds, ctrlCreds := c.credsFor(string(auth.Orchestrator)), c.externalControlCreds()
	if url == "" {
		unlock, err := jetstream.LockStore(c.path(stateDir))
		if err != nil {
			if errors.Is(err, jetstream.ErrStoreLocked) {
				return nil, failed("RAZAR is already running in %s: %v (talk to it with `razar status`, or stop it first)", c.home, err)
			}
			return nil, failed("lock %s: %v", c.path(stateDir), err)
		}
		d.closers = append(d.closers, unlock)
		st, err := d.openTrust(roster)
		if err != nil {
			return nil, err
		}
		sc := jetstream.ServerConfig{
			StoreDir: c.path(stateDir), Listen: set.natsListen, URLFile: c.path(natsURLFile), Log: log, Trust: st,
		}
		if l := set.leaf; l.url != "" {
			sc.Domain, sc.Leaf = l.domain, &jetstream.Leaf{URLs: l.url, Creds: l.creds, Rungs: rosterNames(roster)}
		}
		d.srv, err = jetstream.StartServer(sc)
		if err != nil {
			return nil, failed("%v", err)
		}
		if l := set.leaf; l.url != "" {
			log.Info().Str("hub", bus.RedactURL(l.url)).Str("domain", l.domain).Str("hub_domain", l.hubDomain).
				Msg("leaf node of a hub: account RAZAR's JetStream (domain " + l.domain + ") is shared with the hub for sourcing; lifecycle commands, core razar.> and the bucket stay on this host; the host runs on its own while the link is down")
		}
		d.closers = append(d.closers, d.srv.Shutdown)
		if w := set.openBusWarning(); w != "" {
			log.Warn().Str("listen", set.natsListen).Msg(w)
		}
		url = d.srv.ClientURL()
		orchCreds, ctrlCreds = d.trust.Path(string(auth.Orchestrator)), d.trust.ControlPath()
		log.Info().Str("url", url).Str("store", c.path(stateDir)).Str("identities", c.path(identitiesDir)).Msg("embedded NATS with JetStream is up; anonymous clients are refused")
	}
	var opts []bus.ConnOption
	if orchCreds != "" {
		opts = append(opts, bus.WithCreds(orchCreds))
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	d.nc, err = bus.Connect(cctx, url, "razar-boot", log, opts...)
	cancel()
	if err != nil {
		return nil, failed("%v", err)
	}
	d.closers = append(d.closers, func() { bus.Drain(d.nc, 5*time.Second) })
	d.ctrl = d.nc
	if ctrlCreds != "" {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d.ctrl, err = bus.Connect(cctx, url, "razar-lifecycle", log, bus.WithCreds(ctrlCreds))
		cancel()
		if err != nil {
			return nil, failed("lifecycle listener: %v", err)
		}
		d.closers = append(d.closers, func() { bus.Drain(d.ctrl, 5*time.Second) })
	}
	if d.identify, err = d.identifier(orchCreds, ctrlCreds); err != nil {
		return nil, err
	}
	if set.natsURL != "" {
		if err := d.refuseSharedAccount(ctx); err != nil {
			return nil, err
		}
		// Every command in the home finds the bus there, as with the
		// embedded server; without credentials: identities are files.
		if err := jetstream.WriteFileAtomic(c.path(natsURLFile), []byte(stripUserinfo(set.natsURL)+"\n"), 0o640); err != nil {
			return nil, failed("write %s: %v", c.path(natsURLFile), err)
		}
		d.closers = append(d.closers, func() { _ = os.Remove(c.path(natsURLFile)) })
	}
	storeLog := log.With().Str("component", "store").Logger()
	if d.store, err = jetstream.Open(ctx, d.nc, jetstream.WithLimits(set.limits), jetstream.WithReplicas(set.replicas),
		jetstream.WithLog(func(f string, a ...any) { storeLog.Info().Msgf(f, a...) })); err != nil {
		return nil, failed("%v", err)
	}
	if d.ln, err = net.Listen("tcp", set.metricsAddr); err != nil {
		return nil, failed("metrics listener on %s: %v (fix: set RAZAR_METRICS_ADDR or RAZAR_METRICS_PORT to a free port)", set.metricsAddr, err)
	}
	d.closers = append(d.closers, func() { d.ln.Close() })
	if d.chakraLn, err = net.Listen("tcp", set.chakraAddr); err != nil {
		return nil, failed("chakra heartbeat listener on %s: %v (fix: set RAZAR_CHAKRA_ADDR or RAZAR_CHAKRA_PORT to a free port)", set.chakraAddr, err)
	}
	d.closers = append(d.closers, func() { d.chakraLn.Close() })
	if err := d.wire(); err != nil {
		return nil, err
	}
	stopBeats, err := d.watchComponentBeats()
	if err != nil {
		return nil, failed("chakra heartbeat service: %v", err)
	}
	d.closers = append(d.closers, stopBeats)
	// The memory bundle's boot pass: every layer checked once the store is
	// open, its gauges in monitoring/boot_metrics.prom, a line in the log.
	c.initMemory(ctx, memory.SourceBoot, d.store, nil, boot.Memory, log.With().Str("subsystem", "memory").Logger())
	// Every rung's consumer exists before any rung starts (a rung may only
	// attach to its own), and rung status flows in from heartbeats.
	if err := d.orch.DeclareRungs(ctx); err != nil {
		return nil, failed("%v", err)
	}
	if d.agentsInproc {
		// The rungs of a RAZAR killed mid-attempt died with it: what they
		// held goes back to the consumers now, not after AckWait.
		if n, err := d.orch.HandBackAttempts(ctx); err != nil {
			log.Warn().Err(err).Msg("could not hand back the attempts the last RAZAR's rungs held; they resume after the consumer's ack wait")
		} else if n > 0 {
			log.Info().Int("attempts", n).Msg("handed back the attempts the last RAZAR's rungs were working on")
		}
	}
	stopWatch, err := d.orch.WatchRungs(context.WithoutCancel(ctx))
	if err != nil {
		return nil, failed("%v", err)
	}
	d.closers = append(d.closers, stopWatch)
	// The rungs' context tools, on the lifecycle listener's connection,
	// where the server stamps each request with its sender's identity.
	stopTools, err := d.orch.ServeContext(d.ctrl, d.identify)
	if err != nil {
		return nil, failed("context tools: %v", err)
	}
	d.closers = append(d.closers, stopTools)
	return d, nil
}

// wire builds the orchestrator, the supervisor and the lifecycle bus, and
// connects them: the supervisor escalates through the orchestrator, the
// orchestrator verifies fixes through the supervisor.
func (d *daemon) wire() error {
	c, set, log := d.c, d.set, d.log
	d.reg = prometheus.NewRegistry()
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := orchestrator.NewMetrics(d.reg)
	d.metrics = metrics
	d.fixMetrics = orchestrator.NewFixMetrics(d.reg)
	d.reg.MustRegister(newHostCollector(d))
	zeroSeries(metrics, componentNames(d.boot.Load()), rosterNames(d.roster.Load()))
	redact := func(s string) string { return c.redactor().Redact(s) }

	homeID, err := homedir.ID(c.path(homeIDFile))
	if err != nil {
		return err
	}
	d.alerts = alert.New(d.store, log.With().Str("subsystem", "alerts").Logger()).WithSinks(alert.Sinks{
		Webhook: set.webhook, Alertmanager: set.alertmanager, Runbook: set.runbook,
		Host: set.hostName, Home: homeID, StatusURL: d.statusURL(), StateFile: c.path(alertsFile),
	})
	d.alerts.Redact = redact
	components := func() (*razar.BootConfig, error) { return d.boot.Load(), nil }
	var sup *supervisor.Supervisor // the orchestrator verifies fixes through it, once it exists
	orch, err := orchestrator.New(d.store, orchestrator.Config{
		Alerts:         d.alerts,
		Home:           c.home,
		Roster:         func() (*razar.Roster, error) { return d.roster.Load(), nil },
		Components:     components,
		Threshold:      set.threshold,
		WarnThreshold:  set.warn,
		RemoteAttempts: set.remoteAttempts,
		LongTask:       set.longTask,
		TokenBudget:    int64(set.tokenBudget),
		VerifyWindow:   set.verifyWindow,
		SettleWindow:   set.settleWindow,
		Retention:      set.retention,
		ApprovalWindow: set.approval,
		Verify:         func(ctx context.Context, comp razar.Component) error { return sup.Verify(ctx, comp) },
		Ended: func(string, string) {
			if sup != nil {
				sup.IncidentEnded() // logs/razar_state.json no longer lists it
			}
		},
		Display:           d.display,
		Metrics:           metrics,
		FixMetrics:        d.fixMetrics,
		NoFixMemory:       set.noFixMemory,
		FixMemoryNewFiles: set.fixNewFiles,
		ContextBytes:      set.contextBytes,
		ContextCalls:      set.contextCalls,
		Sandbox:           set.sandbox,
		Redactor:          c.redactor,
		Log:               log.With().Str("subsystem", "orchestrator").Logger(),
	})
	if err != nil {
		return err
	}
	sup, err = supervisor.New(d.store, orch, d.boot.Load(), supervisor.Config{
		Home:          c.home,
		StoreError:    d.storeError,
		Retries:       set.retries,
		ProbeInterval: set.probeInterval,
		Alerts:        d.alerts,
		Redact:        redact,
		Log:           log.With().Str("subsystem", "supervisor").Logger(),
	})
	if err != nil {
		return err
	}
	d.orch, d.sup = orch, sup
	// Three probe intervals: a healthy component beats about three times
	// per window, so one late beat does not break alignment.
	d.chakra = chakra.New(chakra.Config{Window: 3 * set.probeInterval})
	d.chakra.SetComponents(d.boot.Load().Components)
	d.lc, err = bus.NewLifecycle(d.ctrl, bus.LifecycleConfig{
		Audit:    func(ctx context.Context, rec *bus.AuditRecord) error { return d.store.Audit(ctx, rec, "") },
		Redact:   redact,
		Identify: d.identify,
		Log:      log.With().Str("subsystem", "lifecycle").Logger(),
	})
	if err != nil {
		return err
	}
	orch.Register(d.lc)
	orch.RegisterFixes(d.lc)
	sup.Register(d.lc)
	d.lc.Handle(bus.VerbStatus, d.status)
	d.lc.Handle(bus.VerbReload, func(ctx context.Context, _ string, _ *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		msg, err := d.reload(ctx)
		return &bus.LifecycleReply{Message: msg}, err
	})
	d.lc.Handle(bus.VerbRecord, d.record)
	d.lc.Handle(bus.VerbMemoryAudit, d.memoryAudit)
	d.registerRotations(d.lc)
	d.lc.Handle(bus.VerbDetach, func(context.Context, string, *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
		if d.detached.CompareAndSwap(false, true) {
			close(d.detach)
		}
		return &bus.LifecycleReply{Message: "RAZAR is exiting and leaves the components running; `razar boot` here adopts them"}, nil
	})
	d.mirror = mirror.New(d.store, c.home, log.With().Str("subsystem", "mirror").Logger())
	return nil
}

// watchComponentBeats feeds the chakra service the components' heartbeats
// (kind component; the rungs' kind agent beats are WatchRungs'), each on
// its own name's subject.
func (d *daemon) watchComponentBeats() (stop func(), err error) {
	return bus.Serve(d.nc, bus.HeartbeatSubject("*"), func(m *bus.Request) {
		var hb bus.Heartbeat
		if err := bus.Decode(m.Data, &hb); err != nil || hb.Kind_ != "component" || hb.Status != bus.StatusHealthy {
			return
		}
		if _, toks, _ := bus.ParseSubject(m.Subject); len(toks) != 1 || toks[0] != hb.Name {
			return
		}
		d.chakra.Beat(hb.Name)
	})
}

// status composes the status reply: the host's components from the
// supervisor, incidents and rungs from the orchestrator.
func (d *daemon) status(ctx context.Context, component string, _ *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	view, err := d.statusView(ctx, component)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(view)
	if err != nil {
		return nil, err
	}
	return &bus.LifecycleReply{Data: data}, nil
}

// host names this RAZAR in status replies.
// statusURL is the status page alerts link to: RAZAR_STATUS_URL, else the
// metrics listener's address, named by the first RAZAR_STATUS_HOSTS name
// or the host name (RAZAR_HOST) when it listens on every address.
func (d *daemon) statusURL() string {
	if d.set.statusURL != "" {
		return d.set.statusURL
	}
	addr := d.set.metricsAddr
	if d.ln != nil {
		addr = d.ln.Addr().String()
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = d.set.hostName
		if len(d.set.statusHosts) > 0 {
			host = d.set.statusHosts[0]
		}
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// reconcileAlerts settles the alerts the last run left open before the
// boot cycle starts: one whose cause lasts (its component still
// quarantined, its incident still open, a boot-cycle alert the cycle
// settles itself) fires on; one whose cause ended while RAZAR was stopped
// (`razar release` offline) is resolved.
func (d *daemon) reconcileAlerts(ctx context.Context) {
	quarantined := map[string]bool{}
	if m, err := d.sup.View(bus.AllComponents); err == nil {
		for _, c := range m.Components {
			quarantined[c.Name] = c.Status == bus.StatusQuarantined
		}
	}
	open := map[string]bool{}
	recs, err := d.orch.Incidents(ctx)
	if err != nil {
		d.log.Warn().Err(err).Msg("could not list incidents; the last run's open alerts stay open")
		return
	}
	for _, r := range recs {
		open[r.ID] = !r.State.Final()
	}
	kept, resolved, err := d.alerts.Reconcile(ctx, func(m bus.AlertMsg) bool {
		return m.Component == bus.SystemComponent || quarantined[m.Component] || (m.Incident != "" && open[m.Incident])
	})
	if err != nil {
		d.log.Warn().Err(err).Msg("the last run's open alerts")
	}
	if kept+resolved > 0 {
		d.log.Info().Int("still_firing", kept).Int("resolved", resolved).Msg("settled the alerts the last run left open")
	}
}

func (d *daemon) host() *bus.HostInfo {
	name, _ := os.Hostname()
	return &bus.HostInfo{Name: name, Home: d.c.home, PID: os.Getpid(), Started: d.started}
}

// refuseSharedAccount stops a boot on an external bus whose account
// another RAZAR already serves. Two orchestrators in one account share
// every subject, key and consumer: a `razar stop web` meant for one host
// would stop web on all of them, and their rungs would take each other's
// escalations. One account per host keeps them apart (docs/SCALE.md §5).
// It asks before this RAZAR listens, so only another one can answer; two
// boots at the same moment can both pass, which the doc says.
func (d *daemon) refuseSharedAccount(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	rep, err := bus.Command(cctx, d.nc, bus.VerbStatus, bus.AllComponents, nil)
	if errors.Is(err, bus.ErrNotRunning) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	other := "another RAZAR"
	if rep != nil {
		var view bus.StatusView
		if json.Unmarshal(rep.Data, &view) == nil && view.Host != nil {
			other = fmt.Sprintf("the RAZAR of host %s (home %s, pid %d)", view.Host.Name, view.Host.Home, view.Host.PID)
		}
	} else if err != nil {
		// Not an answer we can read, but someone listens on the lifecycle bus.
		d.log.Warn().Err(err).Msg("checking for another RAZAR on the bus")
		return nil
	}
	return failed("%s already serves this bus account at %s: two RAZARs in one account share every subject, key and consumer, so one's commands and rungs would act on the other's components (fix: give each host its own NATS account, docs/SCALE.md section 5, or stop that RAZAR first)", other, bus.RedactURL(d.set.natsURL))
}

// statusView is what `razar status` and the status page show.
func (d *daemon) statusView(ctx context.Context, component string) (*bus.StatusView, error) {
	mission, err := d.sup.View(component)
	if err != nil {
		return nil, err
	}
	incidents, rungs, err := d.orch.Status(ctx, component)
	if err != nil && mission.Store == "" {
		return nil, err
	}
	view := &bus.StatusView{Host: d.host(), Mission: mission, Incidents: incidents, Agents: rungs}
	for _, p := range d.orch.Approvals() {
		if component == bus.AllComponents || p.Component == component {
			view.Approvals = append(view.Approvals, p)
		}
	}
	return view, nil
}

// Run boots the components and serves until ctx ends (SIGTERM, SIGINT),
// `razar detach`, or, with --once, the end of the boot cycle. SIGHUP reloads.
func (d *daemon) Run(ctx context.Context) error {
	defer d.close()
	log := d.log
	// Shut down in order: components, rungs, orchestrator, bus; each
	// layer's context is cut only when the one above it has stopped.
	var agentStop, orchStop context.CancelFunc
	d.rungCtx, agentStop = context.WithCancel(context.WithoutCancel(ctx))
	defer agentStop()
	orchCtx, orchStop := context.WithCancel(context.WithoutCancel(ctx))
	defer orchStop()

	// The last run's open alerts are settled before anything here can
	// raise one (the orchestrator resuming an incident, the boot cycle).
	d.reconcileAlerts(ctx)
	if d.agentsInproc {
		for _, e := range d.roster.Load().Agents {
			if err := d.startRung(e.Name); err != nil {
				return err
			}
		}
	}
	g, gctx := errgroup.WithContext(orchCtx)
	g.Go(func() error { return d.orch.Run(gctx) })
	g.Go(func() error { return d.lc.Run(gctx) })
	g.Go(func() error { return d.mirror.Run(gctx) })
	if l := d.set.leaf; l.url != "" && l.hubDomain != noHubDomain {
		g.Go(func() error {
			d.sourceOnHub(gctx, l)
			return nil
		})
	}
	if d.trust != nil {
		g.Go(func() error { d.renewIdentities(gctx); return nil })
	}
	g.Go(func() error { d.watchStore(gctx); return nil })
	hs := &http.Server{Handler: newHostGuard(d.set.metricsAddr, d.set.statusHosts, metricsMux(d.reg, d.set.pprof, d.statusPage)), ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error {
		if err := hs.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics server: %w", err)
		}
		return nil
	})
	cs := &http.Server{Handler: d.chakra.Handler(), ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error {
		if err := cs.Serve(d.chakraLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("chakra heartbeat server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return errors.Join(hs.Shutdown(sctx), cs.Shutdown(sctx))
	})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
				if msg, err := d.reload(gctx); err != nil {
					log.Error().Err(err).Msg("reload refused; nothing changed")
				} else {
					log.Info().Str("result", msg).Msg("reloaded on SIGHUP")
				}
			}
		}
	})
	log.Info().Str("addr", d.ln.Addr().String()).Msg("serving /metrics")
	log.Info().Str("addr", d.chakraLn.Addr().String()).Stringer("window", d.chakra.Window()).Msg("chakra heartbeat service: serving /metrics and /healthz")
	log.Info().Int("rstar_threshold", d.set.threshold).Int("warning_threshold", d.set.warn).Int("remote_attempts", d.set.remoteAttempts).
		Bool("long_task", d.set.longTask).Str("agents", d.set.agentsMode).Int("rungs", len(d.roster.Load().Agents)).Str("home", d.c.home).Msg("RAZAR is up")

	// The boot cycle runs beside the signal watch, so a stop or detach
	// during a long boot takes effect at once.
	bootCtx, stopBoot := context.WithCancel(ctx)
	defer stopBoot()
	bootDone := make(chan error, 1)
	go func() { bootDone <- d.sup.Boot(bootCtx) }()
	var runErr, bootErr error
	select {
	case bootErr = <-bootDone:
	case <-d.detach:
		stopBoot()
		bootErr = <-bootDone
	case <-gctx.Done():
		stopBoot()
		bootErr = <-bootDone
	}
	switch {
	case bootErr == nil:
	case errors.Is(bootErr, supervisor.ErrBootHalted):
		runErr = failed("%v", bootErr)
		next := "`razar resume` takes the cycle on from where it stopped"
		if d.set.once {
			next = "`razar boot` starts a new cycle (RAZAR exits: --once)"
		}
		log.Error().Msg("boot halted: the quarantined component and the escalation history are in logs/; fix it, then `razar release <component>`; then " + next)
	case ctx.Err() != nil || d.detached.Load():
	default:
		runErr = failed("boot: %v", bootErr)
		log.Error().Err(bootErr).Msg("boot cycle failed")
	}
	if !d.set.once && ctx.Err() == nil && !d.detached.Load() {
		supCtx, stopSup := context.WithCancel(ctx)
		supDone := make(chan struct{})
		go func() { defer close(supDone); d.sup.Supervise(supCtx) }()
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		case <-d.detach:
		}
		stopSup()
		<-supDone
		runErr = nil
	}
	if d.detached.Load() {
		log.Info().Msg("detaching: the components keep running; rungs, orchestrator and bus stop")
		d.sup.Detach()
	} else {
		log.Info().Msg("shutting down: components, rungs, orchestrator, bus")
		d.sup.Close()
	}
	agentStop()
	d.rungWG.Wait()
	d.mirror.Flush(5 * time.Second)
	orchStop()
	if err := g.Wait(); err != nil && runErr == nil {
		runErr = failed("%v", err)
	}
	d.alerts.Close()
	return runErr
}

// sourceOnHub has the hub keep a copy of this host's records: stream
// RAZAR_<domain> in the hub's domain, sourcing stream RAZAR. It waits for
// the link as long as RAZAR runs; a refusal is a warning, not a failure:
// the host works on its own all the same.
func (d *daemon) sourceOnHub(ctx context.Context, l leafSettings) {
	// A request the leaf credential may not send is dropped by the hub
	// unanswered, like one sent while the link is down: say so once.
	waiting := func(n int, err error) {
		if n == 5 {
			d.log.Warn().Err(err).Str("stream", jetstream.HubStream(l.domain)).Str("hub_domain", l.hubDomain).
				Str("fix", jetstream.HubSourceCommand(l.hubDomain, l.domain)).
				Msg("the hub has not answered the declaration of this host's copy; still trying: the link is down, or the leaf credential may not publish $JS." + l.hubDomain + ".API.STREAM.CREATE." + jetstream.HubStream(l.domain) + " (then the hub operator runs the fix)")
		}
	}
	created, err := jetstream.SourceOnHub(ctx, d.nc, l.hubDomain, l.domain, waiting)
	switch {
	case err == nil:
		d.log.Info().Str("stream", jetstream.HubStream(l.domain)).Str("hub_domain", l.hubDomain).Bool("created", created).
			Msg("the hub sources this host's stream RAZAR")
	case ctx.Err() != nil:
	default:
		d.log.Warn().Err(err).Msg("the hub keeps no copy of this host's records")
	}
}

// close releases what newDaemon opened, in reverse order. Idempotent.
func (d *daemon) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// startRung runs one rung in this process until the rung context ends or
// the rung is dropped from the roster.
func (d *daemon) startRung(name string) error {
	if e, err := d.roster.Load().Agent(name); err == nil && e.Human() {
		return nil // a person on call: the orchestrator pages on its turn
	}
	// Each rung is its own client, as its own identity: the server holds an
	// in-process rung to the same permissions as one on another host.
	creds := d.c.credsFor(name)
	if d.trust != nil {
		creds = d.trust.Path(name)
	}
	opts := []bus.ConnOption{bus.WithInboxPrefix(auth.InboxPrefix(name))}
	if creds != "" {
		opts = append(opts, bus.WithCreds(creds))
	}
	cctx, ccancel := context.WithTimeout(d.rungCtx, 10*time.Second)
	nc, err := bus.Connect(cctx, d.url(), "razar-rung-"+name, d.log, opts...)
	ccancel()
	if err != nil {
		return fmt.Errorf("rung %s: %w", name, err)
	}
	store, err := jetstream.BindStream(d.rungCtx, nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("rung %s: %w", name, err)
	}
	rt, err := d.c.newRung(store, name, d.log, 0)
	if err != nil {
		nc.Close()
		return err
	}
	ctx, cancel := context.WithCancel(d.rungCtx)
	d.rungMu.Lock()
	d.rungs[name] = cancel
	d.rungMu.Unlock()
	d.rungWG.Add(1)
	go func() {
		defer d.rungWG.Done()
		defer cancel()
		defer bus.Drain(nc, 5*time.Second)
		if err := rt.Run(ctx); err != nil {
			d.log.Error().Err(err).Str("agent", name).Msg("rung stopped")
		}
	}()
	return nil
}

// reload re-reads config/razar.env, the roster and boot_config.json. All
// are validated first: a reload that fails changes nothing and says why.
// Then new components start, removed ones stop, changed ones restart;
// thresholds apply to new incidents; every rung drops its cached config.
func (d *daemon) reload(ctx context.Context) (string, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	env, err := d.c.readEnvFile()
	if err != nil {
		return "", err
	}
	next := *d.set
	restore := d.c.swapEnvFile(env)
	if err := d.c.readVariables(&next); err != nil {
		d.c.swapEnvFile(restore)
		return "", err
	}
	boot, err := loadBoot(d.set.config, d.c.home)
	if err != nil {
		d.c.swapEnvFile(restore)
		return "", err
	}
	roster, err := razar.LoadRoster(d.c.path(rosterFile))
	if err == nil {
		err = distinctNames(boot, roster)
	}
	var runAsWarnings []string
	if err == nil {
		runAsWarnings, err = checkRunAs(d.set.config, boot)
	}
	if err != nil {
		d.c.swapEnvFile(restore)
		return "", err
	}
	warnings := d.c.configWarnings(&next)
	if d.set.strict {
		if err := strictErr(warnings); err != nil {
			d.c.swapEnvFile(restore)
			return "", err
		}
	}
	if err := d.orch.SetThresholds(next.thresholds()); err != nil {
		d.c.swapEnvFile(restore)
		return "", err
	}
	// What a running RAZAR cannot change in place waits for the next boot; say so.
	var later []string
	for name, changed := range map[string]bool{
		"RAZAR_METRICS_ADDR/RAZAR_METRICS_PORT":      next.metricsAddr != d.set.metricsAddr,
		"RAZAR_STATUS_HOSTS":                         !slices.Equal(next.statusHosts, d.set.statusHosts),
		"RAZAR_CHAKRA_ADDR/RAZAR_CHAKRA_PORT":        next.chakraAddr != d.set.chakraAddr,
		"RAZAR_HEALTH_PROBE_INTERVAL":                next.probeInterval != d.set.probeInterval,
		"RAZAR_VERIFY_WINDOW":                        next.verifyWindow != d.set.verifyWindow,
		"RAZAR_SETTLE_WINDOW":                        next.settleWindow != d.set.settleWindow,
		"RAZAR_ALERT_WEBHOOK/RAZAR_ALERTMANAGER_URL": next.webhook != d.set.webhook || next.alertmanager != d.set.alertmanager,
		"RAZAR_HOST/RAZAR_STATUS_URL":                next.hostName != d.set.hostName || next.statusURL != d.set.statusURL,
	} {
		if changed {
			later = append(later, name)
		}
	}
	// The bus is joined once, at boot: a changed variable of it waits too.
	for name, v := range d.c.busVariables() {
		if v != d.set.busEnv[name] {
			later = append(later, name)
		}
	}
	if len(later) > 0 {
		sort.Strings(later)
		d.log.Warn().Strs("settings", later).Msg("these changed settings take effect at the next `razar boot`")
	}
	for _, w := range runAsWarnings {
		d.log.Warn().Msg(w)
	}
	// The ladder's thresholds are the orchestrator's now; d.set stays as
	// booted (Run reads it without the reload lock).
	d.boot.Store(boot)
	if d.trust != nil {
		if _, err := d.trust.Ensure(rosterNames(roster)); err != nil {
			d.log.Error().Err(err).Msg("could not mint identities for the rungs the roster added")
		}
	}
	old := d.roster.Swap(roster)
	zeroSeries(d.metrics, componentNames(boot), rosterNames(roster))
	d.chakra.SetComponents(boot.Components)
	if err := d.orch.DeclareRungs(ctx); err != nil {
		d.log.Error().Err(err).Msg("could not declare the consumers of the reloaded roster's rungs")
	}
	if d.agentsInproc {
		d.reconcileRungs(old, roster)
	}
	_ = d.nc.Publish(bus.AgentsReload, nil)
	rep := d.sup.Reload(ctx, boot)
	msg := "reloaded: " + rep.String()
	for _, w := range warnings {
		d.log.Warn().Msg(w)
		msg += "\nwarning: " + w
	}
	return msg, nil
}

// reconcileRungs starts the in-process rungs a reloaded roster adds and
// stops those it drops. A human rung has no process: a rung that turns
// human stops, one that stops being human starts.
func (d *daemon) reconcileRungs(old, next *razar.Roster) {
	runs := func(r *razar.Roster) map[string]bool {
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
		if err := d.startRung(e.Name); err != nil {
			d.log.Error().Err(err).Str("agent", e.Name).Msg("could not start a rung the roster added")
		}
	}
	d.rungMu.Lock()
	defer d.rungMu.Unlock()
	for name := range was {
		if now[name] {
			continue
		}
		if cancel, ok := d.rungs[name]; ok {
			cancel()
			delete(d.rungs, name)
		}
	}
}

// display names a rung in records: the roster's display, else the rung
// package's, else the name.
func (d *daemon) display(name string) string {
	if e, err := d.roster.Load().Agent(name); err == nil && e.Display != "" {
		return e.Display
	}
	return rungFor(name).Display
}

// metricsMux serves /metrics and, with RAZAR_PPROF=1, the Go profiles
// under /debug/pprof/ on the same (loopback by default) listener.
func metricsMux(reg *prometheus.Registry, profiles bool, page http.HandlerFunc) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if profiles {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", page)
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
		Load:  agents.RosterLoader(c.path(rosterFile), c.home, r, c.lookup),
		Probe: agents.RosterProber(c.path(rosterFile), c.home, r, c.lookup),
		Redactor: func() (*razar.Redactor, error) {
			return (&redactors{c: c}).build()
		},
		Log: log.With().Str("subsystem", "agent").Logger(),
	})
}

// openTrust opens the home's identities (state/identities/), mints the
// missing standard ones, and returns what the embedded server trusts.
func (d *daemon) openTrust(roster *razar.Roster) (*auth.ServerTrust, error) {
	trust, err := auth.Open(d.c.path(identitiesDir))
	if err != nil {
		return nil, failed("%v", err)
	}
	if moved := trust.Moved(); len(moved) > 0 {
		d.log.Info().Strs("files", moved).Str("to", trust.Root()).Msg("moved the trust root out of state/identities/, which operators hand out, into its own directory")
	}
	done, err := trust.Ensure(rosterNames(roster))
	if err != nil {
		return nil, failed("%v", err)
	}
	if len(done.Minted) > 0 {
		d.log.Info().Strs("identities", done.Minted).Str("dir", d.c.path(identitiesDir)).Msg("minted NATS identities")
	}
	if len(done.Renewed) > 0 {
		d.log.Info().Strs("identities", done.Renewed).Msg("renewed people's standard identities that were about to expire (same keys, new expiry)")
	}
	st, err := trust.Server()
	if err != nil {
		return nil, failed("%v", err)
	}
	d.trust = trust
	return st, nil
}

// renewInterval is how often a running RAZAR renews the host's standard
// people's identities, so one running for months keeps a usable
// operator.creds (auth.Trust.Ensure renews in the last 30 days).
const renewInterval = 12 * time.Hour

// renewIdentities renews the host's standard operator and observer in
// their last days, every renewInterval, until ctx ends.
func (d *daemon) renewIdentities(ctx context.Context) {
	t := time.NewTicker(renewInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		done, err := d.trust.Ensure(rosterNames(d.roster.Load()))
		if err != nil {
			d.log.Error().Err(err).Msg("could not renew the standard identities")
			continue
		}
		if len(done.Renewed) > 0 {
			d.log.Info().Strs("identities", done.Renewed).Msg("renewed people's standard identities that were about to expire (same keys, new expiry)")
		}
	}
}

// identifier is how the lifecycle server knows who sent a request. On the
// embedded bus: the JWT the server puts in Nats-Request-Info, verified
// against account RAZAR. On an external bus with a control identity: the
// same, against the key that signed RAZAR's own identity (identities
// signed by another key of that account are not trusted). Without one, requests
// are unauthenticated; approvals are then refused.
func (d *daemon) identifier(orchCreds, ctrlCreds string) (func(bus.RequestInfo) (auth.Identity, error), error) {
	if d.trust != nil {
		return func(ri bus.RequestInfo) (auth.Identity, error) { return d.trust.Identify(ri.JWT, ri.User) }, nil
	}
	if ctrlCreds == "" || orchCreds == "" {
		d.log.Warn().Msg("SECURITY: no control identity for this external bus (state/trust/control.creds): lifecycle commands carry no authenticated identity and approvals are refused; see docs/SECURITY.md")
		return nil, nil
	}
	signers, err := auth.SignerOf(orchCreds)
	if err != nil {
		return nil, failed("%v", err)
	}
	return func(ri bus.RequestInfo) (auth.Identity, error) { return auth.IdentifyJWT(ri.JWT, ri.User, signers...) }, nil
}

// url is the bus the daemon is on.
func (d *daemon) url() string {
	if d.srv != nil {
		return d.srv.ClientURL()
	}
	return d.set.natsURL
}

func rosterNames(r *razar.Roster) []string {
	var out []string
	for _, a := range r.Agents {
		out = append(out, strings.ToLower(a.Name))
	}
	return out
}

// recordable are the audit events a CLI command may ask the orchestrator to
// store: what it did itself, to files, with RAZAR running.
var recordable = map[bus.Event]bool{bus.EventReverted: true, bus.EventRotation: true}

// record stores an audit record a CLI command sent (razar rollback-patch,
// razar rotate-keys). The orchestrator is the only writer of the stream;
// the record names the authenticated identity that sent it.
func (d *daemon) record(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	rec := req.Record
	if rec == nil {
		return nil, fmt.Errorf("%w: record: the request carries no record", razar.ErrBadPayload)
	}
	if !recordable[rec.Event] {
		return nil, fmt.Errorf("%w: record: a %q record is RAZAR's own to write; only reverted and rotation records may be sent", razar.ErrBadPayload, rec.Event)
	}
	rec.Component = bus.SystemComponent
	if component != bus.AllComponents {
		if _, err := d.boot.Load().Component(component); err != nil {
			return nil, err
		}
		rec.Component = component
	}
	if rec.Event == bus.EventRotation {
		if err := d.approvedRotation(ctx, rec); err != nil {
			return nil, err
		}
	}
	rec.Actor = recordActor(req.Who, rec.Actor)
	rec.ActorKey = req.ActorKey()
	rec.Stamp(time.Now())
	msgID := ""
	if rec.Event == bus.EventReverted && rec.PatchID != "" {
		// One rollback, one record, however often a killed rollback-patch
		// (or RAZAR's start) sends it again.
		msgID = orchestrator.RevertedMsgID(rec.Component, rec.PatchID)
	}
	if err := d.store.Audit(ctx, rec, msgID); err != nil {
		return nil, err
	}
	if msgID != "" {
		if err := orchestrator.RollbackRecorded(d.c.home, rec.Component, rec.PatchID); err != nil {
			d.log.Warn().Err(err).Str("component", rec.Component).Str("patch", rec.PatchID).Msg("reverted record written, but the rollback's note was not updated (its next start sends it again, deduplicated)")
		}
	}
	if rec.Event == bus.EventReverted && rec.PatchID != "" && d.orch != nil {
		// A rollback-patch: what the patch carried, the fix memory forgets.
		if err := d.orch.PatchRolledBack(ctx, rec.Component, rec.PatchID); err != nil {
			return nil, fmt.Errorf("recorded, but the fix memory was not told of the rollback (it is at the next start): %w", err)
		}
	}
	return &bus.LifecycleReply{Message: "recorded"}, nil
}

// memoryAudit runs `razar memory audit` for a CLI: the orchestrator is the
// only writer of the stream and the bucket. The report is the reply's data
// and a memory audit record.
func (d *daemon) memoryAudit(ctx context.Context, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	if component != bus.AllComponents {
		return nil, fmt.Errorf("%w: memory_audit is about RAZAR's own stores: send it to %s", razar.ErrBadPayload, bus.LifecycleSubject(bus.VerbMemoryAudit, bus.AllComponents))
	}
	items := req.Items
	if items == 0 {
		items = memory.DefaultAuditItems
	}
	if items < 0 || items > memory.MaxAuditItems {
		return nil, fmt.Errorf("%w: items %d: want 1 to %d", razar.ErrBadPayload, items, memory.MaxAuditItems)
	}
	if !d.memoryMu.TryLock() {
		return nil, errors.New("a memory audit is already running; wait for it")
	}
	defer d.memoryMu.Unlock()
	rep := runMemoryAudit(ctx, d.store, d.c.path(orchestrator.PatchDir), items, nil)
	d.c.recordMemoryAudit(ctx, d.store, rep, req.ActorName(), d.log)
	data, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	return &bus.LifecycleReply{Message: fmt.Sprintf("memory audit %s done", rep.Run), Data: data}, nil
}

// recordActor names who sent a record: the identity, and the approvers the
// record itself names (a rotation's), which are names typed, not identities.
func recordActor(who *auth.Identity, typed string) string {
	if who == nil {
		return typed + " (unverified)"
	}
	if typed == "" || typed == who.Name {
		return who.Name
	}
	return who.Name + " for " + typed
}

func componentNames(b *razar.BootConfig) []string {
	var out []string
	for _, c := range b.Components {
		out = append(out, c.Name)
	}
	return out
}

// distinctNames refuses a component named like a rung: both beat on
// razar.heartbeat.<name>, which the rung's identity may publish, so the
// rung could beat for the component. It refuses a rung named "memory" too:
// that is the rung name of attempts made with a remembered fix.
func distinctNames(boot *razar.BootConfig, roster *razar.Roster) error {
	for i, a := range roster.Agents {
		if a.Name == orchestrator.MemoryRung {
			return &razar.ConfigError{File: rosterFile, Field: fmt.Sprintf("agents[%d].name", i),
				Msg: fmt.Sprintf("%q is the rung name of attempts made with a remembered fix (docs/FIXES.md): records could not tell the two apart", a.Name),
				Fix: "rename the rung"}
		}
	}
	for i, c := range boot.Components {
		if _, err := roster.Agent(c.Name); err == nil {
			return &razar.ConfigError{File: bootConfigFile, Field: fmt.Sprintf("components[%d].name", i),
				Msg: fmt.Sprintf("%q is also the name of a rung in %s: the two would share razar.heartbeat.%s", c.Name, rosterFile, c.Name),
				Fix: "rename the component"}
		}
	}
	return nil
}

// stripUserinfo drops user and password from each URL of a (comma-separated)
// NATS URL list, for state/nats.url.
func stripUserinfo(urls string) string {
	var out []string
	for _, u := range strings.Split(urls, ",") {
		u = strings.TrimSpace(u)
		if p, err := neturl.Parse(u); err == nil && p.User != nil {
			p.User = nil
			u = p.String()
		}
		out = append(out, u)
	}
	return strings.Join(out, ",")
}
