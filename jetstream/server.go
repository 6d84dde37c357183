package jetstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir"
)

// DefaultListen is where `razar boot` listens unless --nats-listen says otherwise.
const DefaultListen = "127.0.0.1:4222"

// ServerConfig configures the embedded nats-server.
type ServerConfig struct {
	// StoreDir holds the JetStream store (state/ in the RAZAR home). Required.
	StoreDir string
	// Listen is HOST:PORT; port -1 or 0 picks a free port. Default DefaultListen.
	Listen string
	// URLFile, when set, receives the client URL (atomically) once the server is ready.
	URLFile string
	// Log receives the server's own log lines.
	Log zerolog.Logger
	// ReadyTimeout bounds start-up. Default 10 s.
	ReadyTimeout time.Duration
	// Trust, when set, runs the server in NATS operator mode: only the
	// identities its accounts signed may connect, each with the permissions
	// in its JWT, and JetStream lives in account RAZAR. Without it the
	// server is open to anyone who reaches it (tests of the bus alone).
	Trust *auth.ServerTrust
	// Domain is the server's JetStream domain; "" for none. A leaf node
	// needs one of its own, so its stream and bucket stay local and a hub
	// reaches them only by $JS.<Domain>.API.
	Domain string
	// Leaf, when set, joins the server to a hub as a NATS leaf node; see
	// Leaf. It needs Trust (account RAZAR is what crosses) and Domain.
	Leaf *Leaf
}

// Leaf is the link of a leaf-node host to its hub. Only account RAZAR is
// bound to it, never CONTROL: lifecycle commands stay on the host. Core
// razar.> and $KV.> traffic does not cross in either direction (LeafDeny),
// so hosts sharing a hub account never see each other's escalations, and
// the hub cannot write a host's records, its bucket or send it lifecycle
// commands; what the hub gets is JetStream's API of the host's domain, to
// source stream RAZAR and read, minus every verb that would change a
// stream or touch a consumer it did not make: a hub can only read.
type Leaf struct {
	// URLs is the hub's leaf-node URLs, comma-separated (nats://,
	// nats-leaf://, tls://). user:password in a URL authenticates to a hub
	// configured by file; it is never logged.
	URLs string
	// Creds is a NATS .creds file for a hub in operator mode; "" for none.
	Creds string
	// Rungs are the roster's rungs: the hub may not create, update or
	// delete their consumers agent_<rung> (nor those of the contract's
	// ladder, auth.LadderRungs, always included). A rung added by a reload
	// is covered from the next start.
	Rungs []string
}

// LeafDeny is what the leaf link refuses: imports from the hub, exports to
// it. domain is the host's JetStream domain; rungs name the durable
// consumers (agent_<rung>) of stream RAZAR besides auth.LadderRungs'.
//
// The hub may source stream RAZAR and read (stream and consumer info,
// message gets). Denied: every write to a stream, and every consumer verb
// a hub could use against the host's rungs: pulling (MSG.NEXT) or acking
// ($JS.ACK) their escalations, pausing, unpinning, resetting, deleting,
// moving or stepping down a consumer, and creating one by a legacy
// request (CONSUMER.CREATE.<stream>, whose consumer name is in the body,
// so it could name agent_k2 and update it) or under a rung's durable name.
// The hub's sourcing consumer is created by the named request
// CONSUMER.CREATE.RAZAR.JS_SRC_<id>.<filter>, which HubSourceConfig's
// filter ">" makes the server use.
func LeafDeny(domain string, rungs []string) (imports, exports []string) {
	api := "$JS." + domain + ".API."
	imports = []string{"razar.>", "$KV.>", "$JS.ACK.>"}
	for _, verb := range []string{
		"STREAM.CREATE", "STREAM.UPDATE", "STREAM.DELETE", "STREAM.PURGE", "STREAM.MSG.DELETE", "STREAM.RESTORE",
		"STREAM.LEADER.STEPDOWN", "STREAM.PEER", "STREAM.CANCEL_MOVE",
		"CONSUMER.DELETE", "CONSUMER.MSG.NEXT", "CONSUMER.PAUSE", "CONSUMER.UNPIN", "CONSUMER.RESET",
		"CONSUMER.DURABLE.CREATE", "CONSUMER.LEADER.STEPDOWN", "CONSUMER.PEER",
		"ACCOUNT", "META", "SERVER",
	} {
		imports = append(imports, api+verb+".>")
	}
	for _, st := range []string{bus.StreamName, bus.ResultsStreamName, kvStream} {
		imports = append(imports, api+"CONSUMER.CREATE."+st) // legacy: the name is in the body
	}
	seen := map[string]bool{}
	for _, r := range append(append([]string(nil), auth.LadderRungs...), rungs...) {
		if seen[r] || !bus.ValidToken(r) {
			continue
		}
		seen[r] = true
		c := bus.ConsumerName(r)
		imports = append(imports, api+"CONSUMER.CREATE."+bus.StreamName+"."+c, api+"CONSUMER.CREATE."+bus.StreamName+"."+c+".>")
	}
	return imports, []string{"razar.>", "$KV.>"}
}

// ValidDomain reports whether d can be a JetStream domain (and part of a
// stream name): letters, digits, '-' and '_', at most 64.
func ValidDomain(d string) error {
	if d == "" || len(d) > 64 {
		return fmt.Errorf("JetStream domain %q: want 1 to 64 characters", d)
	}
	for _, r := range d {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("JetStream domain %q: %q is not allowed (letters, digits, '-' and '_' only)", d, r)
		}
	}
	return nil
}

// DomainFromHost is a JetStream domain made of a hostname: its first label,
// lowercased, every character a domain may not hold replaced by '_';
// "razar" for an empty name.
func DomainFromHost(host string) string {
	host, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(host)), ".")
	var b strings.Builder
	for _, r := range host {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	if b.Len() == 0 {
		return "razar"
	}
	return b.String()
}

// leafRemote is the server's remote for l, bound to account acc.
func leafRemote(l *Leaf, acc, domain string) (*server.RemoteLeafOpts, error) {
	r := &server.RemoteLeafOpts{LocalAccount: acc, Credentials: l.Creds}
	for _, raw := range strings.Split(l.URLs, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("--leaf %q: want nats://HOST:PORT, nats-leaf://HOST:PORT or tls://HOST:PORT", bus.RedactURL(raw))
		}
		switch u.Scheme {
		case "nats", "nats-leaf":
		case "tls":
			r.TLS = true
			r.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
		default:
			return nil, fmt.Errorf("--leaf %s: scheme %q: want nats://, nats-leaf:// or tls://", bus.RedactURL(raw), u.Scheme)
		}
		r.URLs = append(r.URLs, u)
	}
	if len(r.URLs) == 0 {
		return nil, errors.New("--leaf: no hub URL")
	}
	if l.Creds != "" {
		if _, err := os.Stat(l.Creds); err != nil {
			return nil, fmt.Errorf("--leaf-creds: %w", err)
		}
	}
	r.DenyImports, r.DenyExports = LeafDeny(domain, l.Rungs)
	return r, nil
}

// Server is a running embedded nats-server with JetStream.
type Server struct {
	ns      *server.Server
	urlFile string
	once    sync.Once
	// storeDir and js are what JetStream was started with, so Reenable
	// starts it again the same way.
	storeDir string
	js       server.JetStreamConfig
	mu       sync.Mutex // serialises Reenable
	// failed is the first store write failure the server logged since
	// JetStream last started; nil while none.
	failed *atomic.Pointer[string]
}

// StartServer starts an embedded nats-server with JetStream and waits until
// it accepts connections. Errors name the listen address or store directory.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded NATS: no store directory")
	}
	cfg = cfg.withDefaults()
	host, port, err := listenHostPort(cfg.Listen)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded NATS store %s: %w", cfg.StoreDir, err)
	}
	opts, err := serverOptions(cfg, host, port)
	if err != nil {
		return nil, err
	}
	ns, failed, err := startNATS(cfg, opts)
	if err != nil {
		return nil, err
	}
	s := &Server{ns: ns, urlFile: cfg.URLFile, storeDir: cfg.StoreDir, failed: failed}
	if js := ns.JetStreamConfig(); js != nil {
		s.js = *js
	}
	if cfg.URLFile != "" {
		if err := homedir.WriteAtomic(cfg.URLFile, []byte(ns.ClientURL()+"\n"), 0o640); err != nil {
			s.Shutdown()
			return nil, fmt.Errorf("write %s: %w", cfg.URLFile, err)
		}
	}
	return s, nil
}

// withDefaults fills the listen address and the ready timeout left unset.
func (cfg ServerConfig) withDefaults() ServerConfig {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	return cfg
}

// listenHostPort splits --nats-listen into the server's host and port; port
// 0 becomes -1, nats-server's "pick a free port".
func listenHostPort(listen string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("--nats-listen %q: want HOST:PORT: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("--nats-listen %q: port is not a number", listen)
	}
	if port == 0 {
		port = -1
	}
	return host, port, nil
}

// serverOptions builds the embedded server's options: the base, then the
// identities, the JetStream domain and the leaf remote when configured.
func serverOptions(cfg ServerConfig, host string, port int) (*server.Options, error) {
	opts := &server.Options{
		ServerName:            "razar",
		Host:                  host,
		Port:                  port,
		JetStream:             true,
		StoreDir:              cfg.StoreDir,
		NoSigs:                true,
		DisableShortFirstPing: true,
	}
	if t := cfg.Trust; t != nil {
		if err := trustOptions(opts, cfg, t); err != nil {
			return nil, err
		}
	}
	if cfg.Domain != "" {
		if err := ValidDomain(cfg.Domain); err != nil {
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
		opts.JetStreamDomain = cfg.Domain
	}
	if cfg.Leaf != nil {
		if cfg.Trust == nil || cfg.Domain == "" {
			return nil, errors.New("embedded NATS: a leaf node needs the identities (account RAZAR) and a JetStream domain")
		}
		r, err := leafRemote(cfg.Leaf, cfg.Trust.RAZAR, cfg.Domain)
		if err != nil {
			return nil, err
		}
		opts.LeafNode.Remotes = []*server.RemoteLeafOpts{r}
	}
	return opts, nil
}

// trustOptions adopts a store opened without identities and loads the
// operator, its accounts and the system account into opts.
func trustOptions(opts *server.Options, cfg ServerConfig, t *auth.ServerTrust) error {
	if err := adoptOpenStore(cfg.StoreDir, t.RAZAR, cfg.Log); err != nil {
		return err
	}
	res := &server.MemAccResolver{}
	for pub, tok := range t.Accounts {
		if err := res.Store(pub, tok); err != nil {
			return fmt.Errorf("embedded NATS: load account %s: %w", pub, err)
		}
	}
	opts.TrustedOperators = []*jwt.OperatorClaims{t.Operator}
	opts.AccountResolver = res
	opts.SystemAccount = t.SystemAccount
	// A reader's JWT, with its deny list, makes a CONNECT line longer
	// than the default 4 KiB.
	opts.MaxControlLine = 64 << 10
	return nil
}

// startNATS starts the server with its log routed to cfg.Log and waits for
// it to accept connections, shutting it down if it does not in time.
func startNATS(cfg ServerConfig, opts *server.Options) (*server.Server, *atomic.Pointer[string], error) {
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded NATS on %s: %w", cfg.Listen, err)
	}
	failed := new(atomic.Pointer[string])
	ns.SetLoggerV2(&serverLog{log: cfg.Log.With().Str("subsystem", "nats-server").Logger(), failed: failed}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(cfg.ReadyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, nil, fmt.Errorf("embedded NATS did not come up on %s within %v (port in use? another razar running? try --nats-listen 127.0.0.1:0 or --nats URL)", cfg.Listen, cfg.ReadyTimeout)
	}
	return ns, failed, nil
}

// adoptOpenStore moves the JetStream data of a home that ran before
// identities (the server's global account, $G) into account RAZAR, once,
// so an upgrade keeps its stream and bucket.
func adoptOpenStore(storeDir, account string, log zerolog.Logger) error {
	js := filepath.Join(storeDir, "jetstream")
	old, next := filepath.Join(js, "$G"), filepath.Join(js, account)
	if _, err := os.Stat(filepath.Join(old, "streams")); err != nil {
		return nil
	}
	if _, err := os.Stat(next); err == nil {
		return nil
	}
	if err := os.Rename(old, next); err != nil {
		return fmt.Errorf("embedded NATS: move the store of the unauthenticated bus (%s) into account RAZAR: %w", old, err)
	}
	log.Info().Str("from", old).Str("to", next).Msg("moved the stream and bucket of the bus without identities into account RAZAR")
	return nil
}

// ErrStoreDisabled is StoreError's sentinel: the embedded server cannot
// write its store. A write that fails (a full disk) leaves the stream or
// bucket it was for refusing every later write, and a clustered server
// turns JetStream off: nothing can be recorded until Reenable succeeds.
var ErrStoreDisabled = errors.New("the record store (JetStream) cannot write")

// minFree is the room below which the store's filesystem counts as full;
// minFreeToReenable the room it must have again before Reenable restarts
// JetStream: less, and the first writes would fail again at once.
const (
	minFree           = 1 << 20
	minFreeToReenable = 4 << 20
)

// writeFailure is what the server logs when a write to its store fails.
func writeFailure(line string) bool {
	return strings.Contains(line, "no space left") || strings.Contains(line, "Critical write error") ||
		strings.Contains(line, "resources, will be DISABLED")
}

// StoreError is nil while the server's store can be written, else an
// error wrapping ErrStoreDisabled that names the store's directory, the
// room left on its filesystem and why: JetStream turned off, a write that
// failed (the stream or bucket refuses writes from then on), or less than
// 1 MiB free.
func (s *Server) StoreError() error {
	free, ferr := freeBytes(s.storeDir)
	room := "unknown"
	if ferr == nil {
		room = fmt.Sprintf("%d KiB", free>>10)
	}
	why := ""
	switch {
	case !s.ns.JetStreamEnabled():
		why = "JetStream is off after a write failed"
	case s.failed.Load() != nil:
		why = "a write failed: " + *s.failed.Load()
	case ferr == nil && free < minFree:
		why = "its filesystem is full"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s (%s, %s free); RAZAR starts it again once there is room, without a restart (fix: free space on that filesystem)", ErrStoreDisabled, why, s.storeDir, room)
}

// Reenable restarts the server's JetStream after a write to its store
// failed, once the store's filesystem has room again: the streams and the
// bucket are read back from disk, so no stored record is lost, their
// write errors are cleared, and clients keep their connections. It is nil
// when the store can be written (already, or again); an error says what
// still stops it.
func (s *Server) Reenable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.StoreError() == nil {
		return nil
	}
	if n, err := freeBytes(s.storeDir); err != nil {
		return fmt.Errorf("restart the record store: %w", err)
	} else if n < minFreeToReenable {
		return fmt.Errorf("restart the record store: %d KiB free in %s, want %d KiB", n>>10, s.storeDir, minFreeToReenable>>10)
	}
	if s.ns.JetStreamEnabled() && s.failed.Load() == nil {
		return nil // the disk was full, but no write failed: nothing to restart
	}
	if s.ns.JetStreamEnabled() {
		if err := s.ns.ShutdownJetStream(); err != nil {
			return fmt.Errorf("restart the record store: stop JetStream: %w", err)
		}
	}
	s.failed.Store(nil)
	cfg := s.js
	cfg.StoreDir = s.storeDir // EnableJetStream adds "jetstream" itself
	if err := s.ns.EnableJetStream(&cfg); err != nil {
		return fmt.Errorf("restart the record store in %s: %w", s.storeDir, err)
	}
	return nil
}

// freeBytes is the room an unprivileged writer has on dir's filesystem.
func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Shutdown stops the server, waits for it, and removes the URL file. Idempotent.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		if s.urlFile != "" {
			_ = os.Remove(s.urlFile)
		}
	})
}

// ReadURLFile reads the URL a running `razar boot` wrote. It returns
// os.ErrNotExist (wrapped) when RAZAR is not running from that home.
func ReadURLFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "", fmt.Errorf("%s is empty", path)
	}
	return string(b), nil
}

// serverLog routes nats-server's logger through zerolog, and notes in
// failed the first store write failure the server reports: the server
// tells of one only in its log.
type serverLog struct {
	log    zerolog.Logger
	failed *atomic.Pointer[string]
}

func (l *serverLog) note(format string, v ...any) {
	if line := fmt.Sprintf(format, v...); writeFailure(line) {
		l.failed.CompareAndSwap(nil, &line)
	}
}

func (l *serverLog) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l *serverLog) Warnf(format string, v ...any) {
	l.note(format, v...)
	l.log.Warn().Msgf(format, v...)
}
func (l *serverLog) Fatalf(format string, v ...any) {
	l.note(format, v...)
	l.log.Error().Msgf(format, v...)
}
func (l *serverLog) Errorf(format string, v ...any) {
	l.note(format, v...)
	l.log.Error().Msgf(format, v...)
}
func (l *serverLog) Debugf(format string, v ...any) { l.log.Trace().Msgf(format, v...) }
func (l *serverLog) Tracef(format string, v ...any) { l.log.Trace().Msgf(format, v...) }
