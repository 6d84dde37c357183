package jetstream

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
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

// WriteFileAtomic writes data to a temp file beside path, syncs it and renames
// it over path, so a crash leaves the old file or the new one, never half.
// The new file has mode perm: pass 0o600 or 0o640 for files of the home.
//
// It never writes through a symlink: the temp file gets a fresh random name
// and is created with O_EXCL|O_NOFOLLOW, so nothing planted under that name
// (a file, a link, even a dangling one) is opened, and the rename replaces a
// link at path instead of following it.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := createTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable; a failure here loses nothing written.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// createTemp creates a new, empty file (0600) named prefix and a random
// suffix in dir, trying another name while one is taken.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		f, err := openNew(filepath.Join(dir, prefix+rand.Text()))
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create a temp file in %s: every name tried was taken", dir)
}

// openNew creates name for writing, failing with fs.ErrExist when anything
// at all is there already, a symlink included: it never opens an existing
// file or follows a link.
func openNew(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
}

// serverLog routes nats-server's logger through zerolog.
type serverLog struct{ log zerolog.Logger }

func (l *serverLog) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l *serverLog) Warnf(format string, v ...any)   { l.log.Warn().Msgf(format, v...) }
func (l *serverLog) Fatalf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l *serverLog) Errorf(format string, v ...any)  { l.log.Error().Msgf(format, v...) }
func (l *serverLog) Debugf(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
func (l *serverLog) Tracef(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
