package jetstream

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/razar/razar/auth"
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
}

// Server is a running embedded nats-server with JetStream.
type Server struct {
	ns      *server.Server
	urlFile string
	once    sync.Once
}

// StartServer starts an embedded nats-server with JetStream and waits until
// it accepts connections. Errors name the listen address or store directory.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded NATS: no store directory")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: want HOST:PORT: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: port is not a number", cfg.Listen)
	}
	if port == 0 {
		port = -1
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded NATS store %s: %w", cfg.StoreDir, err)
	}
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
		if err := adoptOpenStore(cfg.StoreDir, t.RAZAR, cfg.Log); err != nil {
			return nil, err
		}
		res := &server.MemAccResolver{}
		for pub, tok := range t.Accounts {
			if err := res.Store(pub, tok); err != nil {
				return nil, fmt.Errorf("embedded NATS: load account %s: %w", pub, err)
			}
		}
		opts.TrustedOperators = []*jwt.OperatorClaims{t.Operator}
		opts.AccountResolver = res
		opts.SystemAccount = t.SystemAccount
		// A reader's JWT, with its deny list, makes a CONNECT line longer
		// than the default 4 KiB.
		opts.MaxControlLine = 64 << 10
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS on %s: %w", cfg.Listen, err)
	}
	ns.SetLoggerV2(&serverLog{log: cfg.Log.With().Str("subsystem", "nats-server").Logger()}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(cfg.ReadyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("embedded NATS did not come up on %s within %v (port in use? another razar running? try --nats-listen 127.0.0.1:0 or --nats URL)", cfg.Listen, cfg.ReadyTimeout)
	}
	s := &Server{ns: ns, urlFile: cfg.URLFile}
	if cfg.URLFile != "" {
		if err := WriteFileAtomic(cfg.URLFile, []byte(ns.ClientURL()+"\n"), 0o640); err != nil {
			s.Shutdown()
			return nil, fmt.Errorf("write %s: %w", cfg.URLFile, err)
		}
	}
	return s, nil
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

// WriteFileAtomic writes data to path atomically, never through a symlink;
// see homedir.WriteAtomic.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return homedir.WriteAtomic(path, data, perm)
}

// serverLog routes nats-server's logger through zerolog.
type serverLog struct{ log zerolog.Logger }

func (l *serverLog) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l *serverLog) Warnf(format string, v ...any)   { l.log.Warn().Msgf(format, v...) }
func (l *serverLog) Fatalf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l *serverLog) Errorf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l *serverLog) Debugf(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
func (l *serverLog) Tracef(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
