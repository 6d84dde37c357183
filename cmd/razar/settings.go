package main

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
	"github.com/razar/razar/workspace"
)

// settings are everything `razar boot` runs by: its flags, then the
// variables of CONTRACT (environment first, then config/razar.env). A
// reload re-reads the variables; the flags stay as given.
type settings struct {
	// Flags.
	config         string
	retries        int
	remoteAttempts int
	longTask       bool
	once           bool
	strict         bool     // --strict: a warning about the settings is exit 2
	warnings       []string // configWarnings at boot, logged once the log is open
	natsListen     string
	natsInsecure   bool // --nats-listen-insecure: a non-loopback --nats-listen is meant
	natsURL        string
	agentsMode     string
	replicas       int // --replicas, $RAZAR_REPLICAS
	leaf           leafSettings
	busEnv         map[string]string // busVariables at boot, for reload to tell what changed

	// Variables.
	threshold     int
	warn          int
	tokenBudget   int // RAZAR_TOKEN_BUDGET: model tokens per incident, 0 none
	metricsAddr   string
	statusHosts   []string // RAZAR_STATUS_HOSTS: more host names the metrics listener answers to (host/hostguard.go)
	chakraAddr    string   // RAZAR_CHAKRA_ADDR / RAZAR_CHAKRA_PORT: the chakra heartbeat service
	verifyWindow  time.Duration
	settleWindow  time.Duration // RAZAR_SETTLE_WINDOW: a failure this soon after a heal reopens its incident
	probeInterval time.Duration
	webhook       string
	alertmanager  string
	limits        jetstream.Limits            // read at boot; a reload keeps the store's
	retention     time.Duration               // RAZAR_INCIDENT_RETENTION; 0 keeps ended incidents
	pprof         bool                        // RAZAR_PPROF=1: /debug/pprof/ beside /metrics
	approval      time.Duration               // RAZAR_APPROVAL_WINDOW
	runbook       string                      // RAZAR_RUNBOOK_URL
	hostName      string                      // RAZAR_HOST, else the hostname: the host label of every alert
	statusURL     string                      // RAZAR_STATUS_URL: the status page alerts link to ("": from the metrics listener)
	noFixMemory   bool                        // RAZAR_FIX_MEMORY=off: every incident climbs the ladder (docs/FIXES.md)
	contextBytes  int                         // RAZAR_CONTEXT_BYTES: the workspace's byte budget of file texts
	contextCalls  int                         // RAZAR_CONTEXT_CALLS: a rung's context tool calls per attempt
	fixNewFiles   orchestrator.NewFilesPolicy // RAZAR_FIX_MEMORY_NEW_FILES: approve (default) or never
	sandbox       patch.Sandbox               // RAZAR_SANDBOX, RAZAR_SANDBOX_UID, RAZAR_SANDBOX_READONLY: where validate commands run
}

// leafSettings are --leaf and its companions: the embedded server joins a
// hub as a NATS leaf node.
type leafSettings struct {
	url       string // --leaf, $RAZAR_LEAF_URL; may carry user:password: never log it unredacted
	creds     string // --leaf-creds, $RAZAR_LEAF_CREDS
	domain    string // --leaf-domain, $RAZAR_LEAF_DOMAIN; default from the hostname
	hubDomain string // --leaf-hub-domain, $RAZAR_LEAF_HUB_DOMAIN; "none": declare nothing on the hub
}

// defaultHubDomain is the JetStream domain of the hub unless
// --leaf-hub-domain says otherwise.
const defaultHubDomain = "hub"

// noHubDomain as --leaf-hub-domain: RAZAR declares nothing on the hub
// (its operator declares the sourcing stream).
const noHubDomain = "none"

// busVariables are the variables of how RAZAR reaches its bus, as the
// environment and config/razar.env set them now. They take effect at boot only.
func (c *cli) busVariables() map[string]string {
	vars := map[string]string{}
	for _, name := range []string{"RAZAR_NATS_URL", "RAZAR_REPLICAS", "RAZAR_LEAF_URL", "RAZAR_LEAF_CREDS", "RAZAR_LEAF_DOMAIN", "RAZAR_LEAF_HUB_DOMAIN"} {
		vars[name] = strings.TrimSpace(c.getenv(name))
	}
	return vars
}

// leafFlags reads the leaf settings' variables for the flags left unset
// and checks them against the rest of s.
func (c *cli) leafFlags(s *settings, hostname func() (string, error)) error {
	l := &s.leaf
	for _, v := range []struct {
		dst  *string
		name string
	}{{&l.url, "RAZAR_LEAF_URL"}, {&l.creds, "RAZAR_LEAF_CREDS"}, {&l.domain, "RAZAR_LEAF_DOMAIN"}, {&l.hubDomain, "RAZAR_LEAF_HUB_DOMAIN"}} {
		if *v.dst == "" {
			*v.dst = strings.TrimSpace(c.getenv(v.name))
		}
	}
	if l.url == "" {
		if l.creds != "" {
			return usageErr("--leaf-creds without --leaf: the credential is for the link to a hub (fix: add --leaf URL of the hub's leaf-node port, or drop --leaf-creds)")
		}
		return nil
	}
	if s.natsURL != "" {
		return usageErr("--leaf with --nats: --leaf joins this host's embedded NATS server to a hub, and with --nats (or $RAZAR_NATS_URL) there is no embedded server (fix: drop --nats to embed the bus and link it to the hub, or make the external server a leaf node of the hub in its own config)")
	}
	if l.domain == "" {
		h, err := hostname()
		if err != nil {
			return usageErr("--leaf: this host's JetStream domain comes from its hostname, which is unknown (%v) (fix: --leaf-domain NAME)", err)
		}
		l.domain = jetstream.DomainFromHost(h)
	}
	if err := jetstream.ValidDomain(l.domain); err != nil {
		return usageErr("--leaf-domain: %v", err)
	}
	if l.hubDomain == "" {
		l.hubDomain = defaultHubDomain
	}
	if l.hubDomain != noHubDomain {
		if err := jetstream.ValidDomain(l.hubDomain); err != nil {
			return usageErr("--leaf-hub-domain: %v (or %q to declare nothing on the hub)", err, noHubDomain)
		}
		if l.hubDomain == l.domain {
			return usageErr("--leaf-domain %s is the hub's JetStream domain too: each JetStream needs its own (fix: --leaf-domain NAME of this host)", l.domain)
		}
	}
	return nil
}

// sandbox reads where validate commands run: RAZAR_SANDBOX (strict, the
// default, or weak), RAZAR_SANDBOX_UID ("uid" or "uid:gid", the ids they
// run as when RAZAR is root) and RAZAR_SANDBOX_READONLY (absolute paths,
// colon-separated, shown to them read-only; none at, above or in the
// home).
func (c *cli) sandbox() (patch.Sandbox, error) {
	var s patch.Sandbox
	switch v := strings.ToLower(strings.TrimSpace(c.getenv("RAZAR_SANDBOX"))); v {
	case "", "strict":
	case "weak":
		s.Weak = true
	default:
		return s, &razar.ConfigError{File: "env", Field: "RAZAR_SANDBOX", Msg: fmt.Sprintf("%q is neither strict nor weak", v), Fix: "unset it (strict: a patch is refused where the sandbox cannot be built), or set weak to let validation run as RAZAR's user there (docs/SECURITY.md)"}
	}
	if v := strings.TrimSpace(c.getenv("RAZAR_SANDBOX_UID")); v != "" {
		u, g, hasGID := strings.Cut(v, ":")
		uid, err := strconv.Atoi(u)
		gid := uid
		if err == nil && hasGID {
			gid, err = strconv.Atoi(g)
		}
		if err != nil || uid <= 0 || gid <= 0 {
			return s, &razar.ConfigError{File: "env", Field: "RAZAR_SANDBOX_UID", Msg: fmt.Sprintf("%q is not an unprivileged uid or uid:gid", v), Fix: fmt.Sprintf("unset it for %d:%d (nobody), or set e.g. 64000 or 64000:64000; never 0", patch.DefaultSandboxID, patch.DefaultSandboxID)}
		}
		s.UID, s.GID = uid, gid
	}
	for _, p := range filepath.SplitList(c.getenv("RAZAR_SANDBOX_READONLY")) {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			return s, &razar.ConfigError{File: "env", Field: "RAZAR_SANDBOX_READONLY", Msg: fmt.Sprintf("%q is not an absolute path", p), Fix: "list absolute paths separated by colons, e.g. /opt/venv:/usr/local/go"}
		}
		p = filepath.Clean(p)
		if home, err := filepath.Abs(c.home); err == nil && c.home != "" && (p == home || strings.HasPrefix(home, p+"/") || strings.HasPrefix(p, home+"/") || p == "/") {
			return s, &razar.ConfigError{File: "env", Field: "RAZAR_SANDBOX_READONLY", Msg: fmt.Sprintf("%s would show validators the RAZAR home %s (its config, identities and seeds)", p, home), Fix: "list only what validators need outside the system directories, never the home or a directory above it"}
		}
		s.ReadOnly = append(s.ReadOnly, p)
	}
	return s, nil
}

// defaultMetricsAddr is RAZAR_METRICS_ADDR's default: loopback only.
const defaultMetricsAddr = "127.0.0.1:9360"

// defaultChakraAddr is RAZAR_CHAKRA_ADDR's default (CONTRACT section 6):
// loopback only, as the metrics.
const defaultChakraAddr = "127.0.0.1:8000"

// readVariables fills the variable part of s from c's environment. The
// first bad value is a *razar.ConfigError naming it.
func (c *cli) readVariables(s *settings) error {
	for _, read := range []func(*settings) error{c.readLadderVars, c.readStoreVars, c.readRepairVars} {
		if err := read(s); err != nil {
			return err
		}
	}
	s.webhook = c.getenv("RAZAR_ALERT_WEBHOOK")
	s.alertmanager = c.getenv("RAZAR_ALERTMANAGER_URL")
	if s.natsURL == "" {
		s.natsURL = c.getenv("RAZAR_NATS_URL")
	}
	return nil
}

// readLadderVars reads the ladder's thresholds, the listeners and the
// supervisor's windows.
func (c *cli) readLadderVars(s *settings) error {
	var err error
	if s.threshold, err = c.envInt("RAZAR_RSTAR_THRESHOLD", orchestrator.DefaultThreshold); err != nil {
		return err
	}
	if s.warn, err = c.envInt("RAZAR_ESCALATION_WARNING_THRESHOLD", orchestrator.DefaultWarnThreshold); err != nil {
		return err
	}
	if s.tokenBudget, err = c.envInt("RAZAR_TOKEN_BUDGET", 0); err != nil {
		return err
	}
	if s.metricsAddr, err = c.metricsAddr(); err != nil {
		return err
	}
	s.statusHosts = statusHosts(c.getenv("RAZAR_STATUS_HOSTS"))
	if s.chakraAddr, err = c.chakraAddr(); err != nil {
		return err
	}
	if s.verifyWindow, err = c.envDuration("RAZAR_VERIFY_WINDOW", 10*time.Second); err != nil {
		return err
	}
	if s.settleWindow, err = c.envDuration("RAZAR_SETTLE_WINDOW", orchestrator.DefaultSettleWindow); err != nil {
		return err
	}
	if s.probeInterval, err = c.envDuration("RAZAR_HEALTH_PROBE_INTERVAL", 30*time.Second); err != nil {
		return err
	}
	return nil
}

// readStoreVars reads the store's limits and retention, the approval
// window and what alerts say of this host.
func (c *cli) readStoreVars(s *settings) error {
	var err error
	if s.limits, err = c.storeLimits(); err != nil {
		return err
	}
	s.retention = 30 * 24 * time.Hour
	if v := strings.TrimSpace(c.getenv("RAZAR_INCIDENT_RETENTION")); v != "" {
		if s.retention, err = parseAge(v); err != nil {
			return &razar.ConfigError{File: "env", Field: "RAZAR_INCIDENT_RETENTION", Msg: fmt.Sprintf("%q is not an age", v), Fix: "unset it for 30 days, or set e.g. 7d or 72h; -1 keeps ended incidents in RAZAR_STATE"}
		}
		s.retention = max(s.retention, 0) // -1: keep
	}
	s.pprof = c.getenv("RAZAR_PPROF") == "1"
	if s.approval, err = c.envDuration("RAZAR_APPROVAL_WINDOW", time.Hour); err != nil {
		return err
	}
	s.runbook = c.getenv("RAZAR_RUNBOOK_URL")
	if s.hostName, err = c.hostName(); err != nil {
		return err
	}
	if s.statusURL, err = c.statusURL(); err != nil {
		return err
	}
	return nil
}

// readRepairVars reads what a repair may see and do: the context budgets,
// the fix memory and the sandbox.
func (c *cli) readRepairVars(s *settings) error {
	var err error
	if s.contextBytes, err = c.envInt("RAZAR_CONTEXT_BYTES", workspace.DefaultBudget); err != nil {
		return err
	}
	if s.contextBytes == 0 || s.contextBytes > config.MaxContextBudget {
		return &razar.ConfigError{File: "env", Field: "RAZAR_CONTEXT_BYTES", Msg: fmt.Sprintf("%d is out of range", s.contextBytes),
			Fix: fmt.Sprintf("unset it for the default %d, or set a byte budget from 1 to %d", workspace.DefaultBudget, config.MaxContextBudget)}
	}
	if s.contextCalls, err = c.envInt("RAZAR_CONTEXT_CALLS", orchestrator.DefaultContextCalls); err != nil {
		return err
	}
	switch v := strings.ToLower(strings.TrimSpace(c.getenv("RAZAR_FIX_MEMORY"))); v {
	case "", "on", "1":
	case "off", "0":
		s.noFixMemory = true
	default:
		return &razar.ConfigError{File: "env", Field: "RAZAR_FIX_MEMORY", Msg: fmt.Sprintf("%q is neither on nor off", v), Fix: "unset it (on), or set on or off"}
	}
	switch v := orchestrator.NewFilesPolicy(strings.ToLower(strings.TrimSpace(c.getenv("RAZAR_FIX_MEMORY_NEW_FILES")))); v {
	case "", orchestrator.NewFilesApprove:
		s.fixNewFiles = orchestrator.NewFilesApprove
	case orchestrator.NewFilesNever:
		s.fixNewFiles = v
	default:
		return &razar.ConfigError{File: "env", Field: "RAZAR_FIX_MEMORY_NEW_FILES", Msg: fmt.Sprintf("%q is neither approve nor never", v),
			Fix: "unset it (approve: a remembered fix that adds files or executable bits waits for `razar approve`), or set never (such a fix is never replayed)"}
	}
	if s.sandbox, err = c.sandbox(); err != nil {
		return err
	}
	return nil
}

// storeLimits reads the limits of streams RAZAR and RAZAR_RESULTS and
// bucket RAZAR_STATE (docs/PROTOCOL.md section 4); an unset one keeps its
// default, -1 lifts it.
func (c *cli) storeLimits() (jetstream.Limits, error) {
	var l jetstream.Limits
	var err error
	if l.StreamMaxBytes, err = c.envSize("RAZAR_STREAM_MAX_BYTES", jetstream.DefaultStreamMaxBytes, math.MaxInt64); err != nil {
		return l, err
	}
	if l.StateMaxBytes, err = c.envSize("RAZAR_STATE_MAX_BYTES", jetstream.DefaultStateMaxBytes, math.MaxInt64); err != nil {
		return l, err
	}
	if l.ResultsMaxBytes, err = c.envSize("RAZAR_RESULTS_MAX_BYTES", jetstream.DefaultResultsMaxBytes, math.MaxInt64); err != nil {
		return l, err
	}
	n, err := c.envSize("RAZAR_STREAM_MAX_MSG_SIZE", jetstream.DefaultMaxMsgSize, math.MaxInt32)
	if err != nil {
		return l, err
	}
	l.StreamMaxMsgSize = int32(n)
	if n, err = c.envSize("RAZAR_STATE_MAX_VALUE_SIZE", jetstream.DefaultMaxValueSize, math.MaxInt32); err != nil {
		return l, err
	}
	l.StateMaxValueSize = int32(n)
	if v := strings.TrimSpace(c.getenv("RAZAR_STREAM_MAX_AGE")); v != "" {
		if l.StreamMaxAge, err = parseAge(v); err != nil {
			return l, &razar.ConfigError{File: "env", Field: "RAZAR_STREAM_MAX_AGE", Msg: fmt.Sprintf("%q is not an age", v), Fix: "unset it for 90 days, or set e.g. 30d or 720h; -1 keeps records forever"}
		}
	}
	return l, nil
}

// envSize reads a size in bytes ("1073741824", "512MiB", "1G"), -1 for no
// limit, or def when unset.
func (c *cli) envSize(name string, def, most int64) (int64, error) {
	v := strings.TrimSpace(c.getenv(name))
	if v == "" {
		return def, nil
	}
	if v == "-1" {
		return -1, nil
	}
	bad := &razar.ConfigError{File: "env", Field: name, Msg: fmt.Sprintf("%q is not a size in bytes", v), Fix: fmt.Sprintf("unset it for the default %d, or set bytes with an optional KiB, MiB or GiB (e.g. 512MiB); -1 lifts the limit", def)}
	num, unit := v, int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if len(v) > len(u.suffix) && strings.EqualFold(v[len(v)-len(u.suffix):], u.suffix) {
			num, unit = strings.TrimSpace(v[:len(v)-len(u.suffix)]), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > most/unit {
		return 0, bad
	}
	return n * unit, nil
}

// hostName is RAZAR_HOST, else the machine's hostname: the name alerts
// carry as their host label.
func (c *cli) hostName() (string, error) {
	if h := strings.TrimSpace(c.getenv("RAZAR_HOST")); h != "" {
		return h, nil
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "", &razar.ConfigError{File: "env", Field: "RAZAR_HOST", Msg: fmt.Sprintf("unset, and the hostname is unknown (%v)", err),
			Fix: "set RAZAR_HOST to the name alerts should carry for this machine"}
	}
	return h, nil
}

// statusURL is RAZAR_STATUS_URL, the status page as an operator reaches
// it, which alerts link to; "" lets the daemon derive it from the metrics
// listener. A value must be an absolute http or https URL.
func (c *cli) statusURL() (string, error) {
	v := strings.TrimSpace(c.getenv("RAZAR_STATUS_URL"))
	if v == "" {
		return "", nil
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &razar.ConfigError{File: "env", Field: "RAZAR_STATUS_URL", Msg: fmt.Sprintf("%q is not an http(s) URL", v),
			Fix: "set the status page's address as operators open it, e.g. http://razar-1.example:9360/, or unset it"}
	}
	return v, nil
}

// metricsAddr is RAZAR_METRICS_ADDR, else 127.0.0.1 with RAZAR_METRICS_PORT,
// else 127.0.0.1:9360.
func (c *cli) metricsAddr() (string, error) {
	return c.listenAddr("RAZAR_METRICS_ADDR", "RAZAR_METRICS_PORT", defaultMetricsAddr)
}

// chakraAddr is RAZAR_CHAKRA_ADDR, else 127.0.0.1 with RAZAR_CHAKRA_PORT,
// else 127.0.0.1:8000.
func (c *cli) chakraAddr() (string, error) {
	return c.listenAddr("RAZAR_CHAKRA_ADDR", "RAZAR_CHAKRA_PORT", defaultChakraAddr)
}

// listenAddr reads a listener's HOST:PORT variable, else its port variable
// on 127.0.0.1, else def: a listener RAZAR opens is on loopback unless an
// address says otherwise.
func (c *cli) listenAddr(addrVar, portVar, def string) (string, error) {
	if a := strings.TrimSpace(c.getenv(addrVar)); a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return "", &razar.ConfigError{File: "env", Field: addrVar, Msg: fmt.Sprintf("%q is not HOST:PORT", a), Fix: "set e.g. " + def}
		}
		return a, nil
	}
	if p := strings.TrimSpace(c.getenv(portVar)); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return "", &razar.ConfigError{File: "env", Field: portVar, Msg: fmt.Sprintf("%q is not a port", p), Fix: "set a number from 0 to 65535 (0 picks a free one)"}
		}
		return net.JoinHostPort("127.0.0.1", p), nil
	}
	return def, nil
}

// bootFlags parses `razar boot`'s flags into s.
func (c *cli) bootFlags(args []string) (*settings, error) {
	s := &settings{}
	fs := c.newFlags("boot")
	defineBootFlags(fs.FlagSet, s)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErr("boot takes no arguments, got %q", pos[0])
	}
	if err := c.checkBootFlags(s); err != nil {
		return nil, err
	}
	return s, nil
}

// defineBootFlags defines `razar boot`'s flags on fs, into s.
func defineBootFlags(fs *pflag.FlagSet, s *settings) {
	fs.StringVar(&s.config, "config", "", "boot config `file` (default config/boot_config.json in the home)")
	fs.IntVar(&s.retries, "retries", 3, "local restarts of a crash loop before it is escalated")
	fs.IntVar(&s.remoteAttempts, "remote-attempts", 1, "attempts per rung turn")
	fs.BoolVar(&s.longTask, "long-task", false, "keep escalating past the ladder, with capped backoff, until a fix holds or `razar abort`")
	fs.BoolVar(&s.once, "once", false, "exit after the boot cycle: 0 when every component is healthy")
	fs.BoolVar(&s.strict, "strict", false, "refuse to boot (exit 2) on a warning about the settings: a variable in config/razar.env RAZAR does not read, RAZAR_ESCALATION_WARNING_THRESHOLD=0")
	fs.StringVar(&s.natsListen, "nats-listen", jetstream.DefaultListen, "`HOST:PORT` of the embedded NATS server; loopback only unless --nats-listen-insecure")
	fs.BoolVar(&s.natsInsecure, "nats-listen-insecure", false, "let --nats-listen be an address other machines reach: the embedded server has no TLS")
	fs.StringVar(&s.natsURL, "nats", "", "use the NATS server or cluster at `URL` instead of embedding one (default $RAZAR_NATS_URL)")
	fs.IntVar(&s.replicas, "replicas", 0, "replicas of stream RAZAR, bucket RAZAR_STATE and the rungs' consumers on a NATS cluster (default $RAZAR_REPLICAS, else 1)")
	fs.StringVar(&s.leaf.url, "leaf", "", "join the embedded NATS server to a hub as a leaf node at `URL` (nats://HOST:PORT of the hub's leafnodes listener; user:password@ for a hub configured by file) (default $RAZAR_LEAF_URL)")
	fs.StringVar(&s.leaf.creds, "leaf-creds", "", "NATS .creds `FILE` of the leaf link, for a hub in operator mode (default $RAZAR_LEAF_CREDS)")
	fs.StringVar(&s.leaf.domain, "leaf-domain", "", "this host's JetStream domain `NAME`: its stream stays local, the hub reaches it by $JS.NAME.API (default $RAZAR_LEAF_DOMAIN, else the hostname)")
	fs.StringVar(&s.leaf.hubDomain, "leaf-hub-domain", "", "the hub's JetStream domain `NAME`, where RAZAR declares stream RAZAR_<leaf-domain> sourcing this host's records; none: declare nothing (default $RAZAR_LEAF_HUB_DOMAIN, else hub)")
	fs.StringVar(&s.agentsMode, "agents", "inproc", "`MODE` inproc: run every rung in this process; external: run none (start them with `razar agent`)")
}

// checkBootFlags checks boot's flags, reads the variables and fills in
// what the flags left to them.
func (c *cli) checkBootFlags(s *settings) error {
	if s.agentsMode != "inproc" && s.agentsMode != "external" {
		return usageErr("--agents %q: use inproc or external", s.agentsMode)
	}
	if s.retries < 0 || s.remoteAttempts < 1 {
		return usageErr("--retries must be ≥ 0 and --remote-attempts ≥ 1")
	}
	if s.config == "" {
		s.config = c.path(bootConfigFile)
	}
	if err := c.envFileErr(); err != nil {
		return err
	}
	if err := c.readVariables(s); err != nil {
		return err
	}
	s.warnings = c.configWarnings(s)
	if s.strict {
		if err := strictErr(s.warnings); err != nil {
			return err
		}
	}
	if s.replicas == 0 {
		var err error
		if s.replicas, err = c.envInt("RAZAR_REPLICAS", 1); err != nil {
			return err
		}
	}
	if s.replicas < 1 || s.replicas > 5 {
		return usageErr("--replicas %d: JetStream takes 1 to 5 replicas", s.replicas)
	}
	if s.replicas > 1 && s.natsURL == "" {
		return usageErr("--replicas %d: the embedded server is one node and holds one replica (fix: --nats URL of a NATS cluster of at least %d servers, or --replicas 1)", s.replicas, s.replicas)
	}
	if err := c.leafFlags(s, os.Hostname); err != nil {
		return err
	}
	s.busEnv = c.busVariables()
	if s.natsURL == "" && !s.natsInsecure && !loopbackListen(s.natsListen) {
		return usageErr("--nats-listen %s: the embedded NATS server has no TLS, and whoever reaches the bus can stop components and apply patches (fix: listen on 127.0.0.1, the default; use --nats for a TLS cluster; or add --nats-listen-insecure to expose it anyway)", s.natsListen)
	}
	return nil
}

// loopbackListen reports whether a HOST:PORT listens on loopback only. An
// empty host means every interface; a name other than localhost may
// resolve anywhere. A malformed address passes: the server names it.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// openBusWarning is what `razar boot` logs when its embedded bus listens
// beyond loopback, "" when it does not.
func (s *settings) openBusWarning() string {
	if s.natsURL != "" || loopbackListen(s.natsListen) {
		return ""
	}
	return "SECURITY: the embedded NATS bus listens on " + s.natsListen + " without TLS (--nats-listen-insecure): the bus can stop components and apply patches, and it is open to the network; anyone who can sniff it or reach it with an identity has that power"
}

// thresholds are the ladder settings of new incidents.
func (s *settings) thresholds() orchestrator.Thresholds {
	return orchestrator.Thresholds{Threshold: s.threshold, WarnThreshold: s.warn, RemoteAttempts: s.remoteAttempts, LongTask: s.longTask,
		TokenBudget: int64(s.tokenBudget)}
}
