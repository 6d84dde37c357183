package main

import (
	"net"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
	"github.com/razar/razar/workspace"
)

// settings are everything `razar boot` runs by: its flags, then the
// variables of docs/CONTRACT.md (environment first, then config/razar.env)
// as package config reads them. A reload re-reads the variables; the
// flags stay as given.
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

	vars config.Settings // the variables
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

// readVariables fills the variable part of s from c's environment. The
// first bad value is a *razar.ConfigError naming it.
func (c *cli) readVariables(s *settings) error {
	v, err := config.ReadSettings(config.Vars(c.getenv), c.home, config.Defaults{
		Threshold: orchestrator.DefaultThreshold, WarnThreshold: orchestrator.DefaultWarnThreshold,
		SettleWindow: orchestrator.DefaultSettleWindow, ContextBytes: workspace.DefaultBudget,
		ContextCalls: orchestrator.DefaultContextCalls, SandboxID: patch.DefaultSandboxID,
		Limits: config.StoreLimits{StreamMaxBytes: jetstream.DefaultStreamMaxBytes, StateMaxBytes: jetstream.DefaultStateMaxBytes,
			ResultsMaxBytes: jetstream.DefaultResultsMaxBytes, StreamMaxMsgSize: jetstream.DefaultMaxMsgSize, StateMaxValueSize: jetstream.DefaultMaxValueSize},
	})
	if err != nil {
		return err
	}
	s.vars = *v
	if s.natsURL == "" {
		s.natsURL = v.NATSURL
	}
	return nil
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
		s.config = razar.Home(c.home).BootConfig()
	}
	if err := c.env.FileErr(); err != nil {
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
		if s.replicas, err = config.Vars(c.getenv).Int("RAZAR_REPLICAS", 1); err != nil {
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
