package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/agents/rotation"
	"github.com/razar/razar/alert"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/chakra"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/mirror"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/supervisor"
)

// The orchestrator reopens the incidents whose heal did not hold for the
// supervisor.
var _ supervisor.Reopener = (*orchestrator.Orchestrator)(nil)

// Host is a running `razar boot`: the bus, the rungs, the orchestrator,
// the supervisor, the lifecycle bus, the mirror and the metrics listener,
// wired together. Open opens what can fail at start (config, store lock,
// bus, listener); Run starts every goroutine in one errgroup and shuts
// them down in order: components, rungs, orchestrator, bus.
type Host struct {
	cfg     Config // as booted: Run reads it without the reload lock
	log     zerolog.Logger
	started time.Time

	closers []func() // run in reverse order by Close

	srv   *jetstream.Server
	trust *auth.Trust // the embedded bus's identities; nil with an external bus
	nc    *bus.Conn   // as the orchestrator identity
	ctrl  *bus.Conn   // the lifecycle listener: account CONTROL's identity, or nc
	store *jetstream.Store
	reg   *prometheus.Registry
	ln    net.Listener

	// rotations are the credential rotations waiting for two operator
	// identities (rotation verbs); in memory only.
	rotations *rotation.Verbs

	chakra   *chakra.Service // the chakra heartbeat service, fed from razar.heartbeat.*
	chakraLn net.Listener

	boot   atomic.Pointer[config.BootConfig]
	roster atomic.Pointer[config.Roster]

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

	identify func(bus.RequestInfo) (auth.Identity, error)

	reloadMu sync.Mutex
	memoryMu sync.Mutex // one memory audit at a time
	detached atomic.Bool
	detach   chan struct{} // closed by the detach verb
}

// Open checks cfg and the home, reads the config files, starts or joins
// the bus, opens the store and the listeners, and wires the host. A bad
// Config, home or config file wraps razar.ErrInvalidConfig; on any error
// what was opened is closed again.
func Open(ctx context.Context, cfg Config) (_ *Host, err error) {
	if err := cfg.valid(); err != nil {
		return nil, err
	}
	h := &Host{cfg: cfg, started: time.Now(), rungs: map[string]context.CancelFunc{}, detach: make(chan struct{})}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if err := h.openConfigs(); err != nil {
		return nil, err
	}
	if err := h.openBus(ctx); err != nil {
		return nil, err
	}
	if err := h.openStore(ctx); err != nil {
		return nil, err
	}
	if err := h.wire(); err != nil {
		return nil, err
	}
	if err := h.start(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// path is rel in the home.
// home is the layout of the RAZAR home the host runs.
func (h *Host) home() razar.Home { return razar.Home(h.cfg.Home) }

// agentsInproc: the host runs and reconciles the rungs.
func (h *Host) agentsInproc() bool { return h.cfg.AgentsMode == "inproc" }

// homeError is a home that others could write: exit 2, as a bad config.
type homeError struct{ err error }

// Error is the home check's own message.
func (e *homeError) Error() string { return e.err.Error() }

// Unwrap is the home check's error and razar.ErrInvalidConfig.
func (e *homeError) Unwrap() []error { return []error{e.err, razar.ErrInvalidConfig} }

// openConfigs checks the home, reads both config files and opens the log.
func (h *Host) openConfigs() error {
	// Whoever else can write the home or state/ could plant the links and
	// files RAZAR trusts: refuse before touching anything.
	homeWarnings, err := homedir.Check(h.cfg.Home, h.home().StateDir())
	if err != nil {
		return &homeError{err}
	}
	// Read both config files before starting anything: a bad file is exit 2
	// with a line that names it, not a half-started mesh.
	boot, roster, runAsWarnings, err := loadConfigs(h.cfg.BootFile, h.cfg.Home)
	if err != nil {
		return err
	}
	h.boot.Store(boot)
	h.roster.Store(roster)
	log, closeLog, err := h.cfg.Logger("boot")
	if err != nil {
		return err
	}
	h.log = log
	h.closers = append(h.closers, closeLog)
	for _, w := range append(append(homeWarnings, runAsWarnings...), h.cfg.Warnings...) {
		log.Warn().Msg(w)
	}
	return nil
}

// openBus starts the embedded bus (or joins the external one) and
// connects the orchestrator's and the lifecycle listener's clients.
func (h *Host) openBus(ctx context.Context) error {
	url := h.cfg.NATSURL
	orchCreds := h.cfg.Creds(string(auth.Orchestrator))
	ctrlCreds := ""
	if h.cfg.ControlCreds != nil {
		ctrlCreds = h.cfg.ControlCreds()
	}
	if url == "" {
		if err := h.startServer(); err != nil {
			return err
		}
		url = h.srv.ClientURL()
		orchCreds, ctrlCreds = h.trust.Path(string(auth.Orchestrator)), h.trust.ControlPath()
		h.log.Info().Str("url", url).Str("store", h.home().StateDir()).Str("identities", h.home().Identities()).Msg("embedded NATS with JetStream is up; anonymous clients are refused")
	}
	if err := h.connect(ctx, url, orchCreds, ctrlCreds); err != nil {
		return err
	}
	var err error
	if h.identify, err = h.identifier(orchCreds, ctrlCreds); err != nil {
		return err
	}
	if h.cfg.NATSURL != "" {
		return h.joinExternal(ctx)
	}
	return nil
}

// startServer locks the store, opens the identities and starts the
// embedded server, a leaf node of a hub with Config.Leaf.
func (h *Host) startServer() error {
	unlock, err := jetstream.LockStore(h.home().StateDir())
	if err != nil {
		if errors.Is(err, jetstream.ErrStoreLocked) {
			return fmt.Errorf("RAZAR is already running in %s: %v (talk to it with `razar status`, or stop it first)", h.cfg.Home, err)
		}
		return fmt.Errorf("lock %s: %v", h.home().StateDir(), err)
	}
	h.closers = append(h.closers, unlock)
	st, err := h.openTrust(h.roster.Load())
	if err != nil {
		return err
	}
	sc := jetstream.ServerConfig{
		StoreDir: h.home().StateDir(), Listen: h.cfg.NATSListen, URLFile: h.home().NATSURLFile(), Log: h.log, Trust: st,
	}
	l := h.cfg.Leaf
	if l.URL != "" {
		sc.Domain, sc.Leaf = l.Domain, &jetstream.Leaf{URLs: l.URL, Creds: l.Creds, Rungs: rosterNames(h.roster.Load())}
	}
	if h.srv, err = jetstream.StartServer(sc); err != nil {
		return fmt.Errorf("%v", err)
	}
	if l.URL != "" {
		h.log.Info().Str("hub", bus.RedactURL(l.URL)).Str("domain", l.Domain).Str("hub_domain", l.HubDomain).
			Msg("leaf node of a hub: account RAZAR's JetStream (domain " + l.Domain + ") is shared with the hub for sourcing; lifecycle commands, core razar.> and the bucket stay on this host; the host runs on its own while the link is down")
	}
	h.closers = append(h.closers, h.srv.Shutdown)
	if w := h.cfg.OpenBusWarning; w != "" {
		h.log.Warn().Str("listen", h.cfg.NATSListen).Msg(w)
	}
	return nil
}

// connect dials the bus as the orchestrator and, with a control identity,
// as the lifecycle listener.
func (h *Host) connect(ctx context.Context, url, orchCreds, ctrlCreds string) error {
	var opts []bus.ConnOption
	if orchCreds != "" {
		opts = append(opts, bus.WithCreds(orchCreds))
	}
	var err error
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	h.nc, err = bus.Connect(cctx, url, "razar-boot", h.log, opts...)
	cancel()
	if err != nil {
		return fmt.Errorf("%v", err)
	}
	h.closers = append(h.closers, func() { bus.Drain(h.nc, 5*time.Second) })
	h.ctrl = h.nc
	if ctrlCreds == "" {
		return nil
	}
	cctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	h.ctrl, err = bus.Connect(cctx, url, "razar-lifecycle", h.log, bus.WithCreds(ctrlCreds))
	cancel()
	if err != nil {
		return fmt.Errorf("lifecycle listener: %v", err)
	}
	h.closers = append(h.closers, func() { bus.Drain(h.ctrl, 5*time.Second) })
	return nil
}

// joinExternal refuses an external bus account another RAZAR serves, and
// writes state/nats.url for the home's commands.
func (h *Host) joinExternal(ctx context.Context) error {
	if err := h.refuseSharedAccount(ctx); err != nil {
		return err
	}
	// Every command in the home finds the bus there, as with the
	// embedded server; without credentials: identities are files.
	if err := homedir.WriteAtomic(h.home().NATSURLFile(), []byte(stripUserinfo(h.cfg.NATSURL)+"\n"), 0o640); err != nil {
		return fmt.Errorf("write %s: %v", h.home().NATSURLFile(), err)
	}
	h.closers = append(h.closers, func() { _ = os.Remove(h.home().NATSURLFile()) })
	return nil
}

// openStore opens the store and the metrics and chakra listeners.
func (h *Host) openStore(ctx context.Context) error {
	v := h.cfg.Variables
	storeLog := h.log.With().Str("component", "store").Logger()
	var err error
	if h.store, err = jetstream.Open(ctx, h.nc, jetstream.WithLimits(v.Limits), jetstream.WithReplicas(h.cfg.Replicas),
		jetstream.WithLog(func(f string, a ...any) { storeLog.Info().Msgf(f, a...) })); err != nil {
		return fmt.Errorf("%v", err)
	}
	if h.ln, err = net.Listen("tcp", v.MetricsAddr); err != nil {
		return fmt.Errorf("metrics listener on %s: %v (fix: set RAZAR_METRICS_ADDR or RAZAR_METRICS_PORT to a free port)", v.MetricsAddr, err)
	}
	h.closers = append(h.closers, func() { h.ln.Close() })
	if h.chakraLn, err = net.Listen("tcp", v.ChakraAddr); err != nil {
		return fmt.Errorf("chakra heartbeat listener on %s: %v (fix: set RAZAR_CHAKRA_ADDR or RAZAR_CHAKRA_PORT to a free port)", v.ChakraAddr, err)
	}
	h.closers = append(h.closers, func() { h.chakraLn.Close() })
	return nil
}

// start starts what serves before Run: the component heartbeats, the
// memory bundle's boot pass, the rungs' consumers and watch, the context
// tools.
func (h *Host) start(ctx context.Context) error {
	stopBeats, err := h.watchComponentBeats()
	if err != nil {
		return fmt.Errorf("chakra heartbeat service: %v", err)
	}
	h.closers = append(h.closers, stopBeats)
	// The memory bundle's boot pass: every layer checked once the store is
	// open, its gauges in monitoring/boot_metrics.prom, a line in the log.
	if h.cfg.InitMemory != nil {
		h.cfg.InitMemory(ctx, h.store, h.boot.Load().Memory, h.log.With().Str("subsystem", "memory").Logger())
	}
	// Every rung's consumer exists before any rung starts (a rung may only
	// attach to its own), and rung status flows in from heartbeats.
	if err := h.orch.DeclareRungs(ctx); err != nil {
		return fmt.Errorf("%v", err)
	}
	if h.agentsInproc() {
		h.handBack(ctx)
	}
	stopWatch, err := h.orch.WatchRungs(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("%v", err)
	}
	h.closers = append(h.closers, stopWatch)
	// The rungs' context tools, on the lifecycle listener's connection,
	// where the server stamps each request with its sender's identity.
	stopTools, err := h.orch.ServeContext(h.ctrl, h.identify)
	if err != nil {
		return fmt.Errorf("context tools: %v", err)
	}
	h.closers = append(h.closers, stopTools)
	return nil
}

// handBack returns what the last RAZAR's rungs held to the consumers: the
// rungs of a RAZAR killed mid-attempt died with it, and what they held
// goes back now, not after AckWait.
func (h *Host) handBack(ctx context.Context) {
	if n, err := h.orch.HandBackAttempts(ctx); err != nil {
		h.log.Warn().Err(err).Msg("could not hand back the attempts the last RAZAR's rungs held; they resume after the consumer's ack wait")
	} else if n > 0 {
		h.log.Info().Int("attempts", n).Msg("handed back the attempts the last RAZAR's rungs were working on")
	}
}

// watchComponentBeats feeds the chakra service the components' heartbeats
// (kind component; the rungs' kind agent beats are WatchRungs'), each on
// its own name's subject.
func (h *Host) watchComponentBeats() (stop func(), err error) {
	return bus.Serve(h.nc, bus.HeartbeatSubject("*"), func(m *bus.Request) {
		var hb bus.Heartbeat
		if err := bus.Decode(m.Data, &hb); err != nil || hb.Kind_ != "component" || hb.Status != bus.StatusHealthy {
			return
		}
		if _, toks, _ := bus.ParseSubject(m.Subject); len(toks) != 1 || toks[0] != hb.Name {
			return
		}
		h.chakra.Beat(hb.Name)
	})
}

// Close releases what Open opened, in reverse order. Run calls it when it
// returns; Close is for a Host that is opened and never run. Idempotent.
func (h *Host) Close() {
	for i := len(h.closers) - 1; i >= 0; i-- {
		h.closers[i]()
	}
	h.closers = nil
}

// url is the bus the host is on.
func (h *Host) url() string {
	if h.srv != nil {
		return h.srv.ClientURL()
	}
	return h.cfg.NATSURL
}
