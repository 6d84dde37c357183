// Package bustest makes a real embedded JetStream server for a test in one
// line: a random loopback port, a temp store, shut down in t.Cleanup.
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/wait"
	"github.com/razar/razar/jetstream"
)

// Env is a running embedded server with one client connection and a Store.
type Env struct {
	Server *jetstream.Server
	URL    string
	NC     *bus.Conn
	// NATS is NC's nats.go connection, for a test that needs the raw client.
	NATS  *nats.Conn
	Store *jetstream.Store
	Dir   string
}

// New starts a server on 127.0.0.1 with a random port and its store in a
// temp dir, connects, and declares the RAZAR stream and bucket.
func New(t testing.TB) *Env {
	t.Helper()
	dir := t.TempDir()
	return NewAt(t, razar.Home(dir).StateDir(), "127.0.0.1:-1")
}

// NewAt is New with a given store directory and listen address, so a test can
// stop a server and start another on the same store.
func NewAt(t testing.TB, storeDir, listen string) *Env {
	t.Helper()
	return start(t, storeDir, listen, nil, "")
}

// OpenHome serves the store of a RAZAR home that `razar boot` wrote (and
// no longer runs), trusting the home's identities as boot did, and
// connects as its orchestrator identity: the test reads what RAZAR stored.
func OpenHome(t testing.TB, home string) *Env {
	t.Helper()
	tr, err := auth.Open(razar.Home(home).Identities())
	if err != nil {
		t.Fatalf("identities of %s: %v", home, err)
	}
	st, err := tr.Server()
	if err != nil {
		t.Fatal(err)
	}
	return start(t, razar.Home(home).StateDir(), "127.0.0.1:-1", st, tr.Path(string(auth.Orchestrator)))
}

func start(t testing.TB, storeDir, listen string, trust *auth.ServerTrust, creds string) *Env {
	t.Helper()
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: storeDir, Listen: listen, Log: zerolog.Nop(), Trust: trust})
	if err != nil {
		t.Fatalf("start embedded NATS: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var opts []bus.ConnOption
	if creds != "" {
		opts = append(opts, bus.WithCreds(creds))
	}
	nc, err := bus.Connect(ctx, srv.ClientURL(), "bustest", zerolog.Nop(), opts...)
	if err != nil {
		srv.Shutdown()
		t.Fatalf("connect: %v", err)
	}
	st, err := jetstream.Open(ctx, nc)
	if err != nil {
		nc.Close()
		srv.Shutdown()
		t.Fatalf("open store: %v", err)
	}
	e := &Env{Server: srv, URL: srv.ClientURL(), NC: nc, NATS: nc.NATS(), Store: st, Dir: storeDir}
	t.Cleanup(e.Close)
	return e
}

// Close closes the connection and shuts the server down. Idempotent.
func (e *Env) Close() {
	e.NC.Close()
	e.Server.Shutdown()
}

// Conn opens another connection to the server, closed in t.Cleanup.
func (e *Env) Conn(t testing.TB, name string) *bus.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, e.URL, name, zerolog.Nop())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Lazy formats as what it returns when a failure message is printed, not
// when Eventually's arguments are taken: for state that changes while the
// condition is polled.
type Lazy func() string

func (l Lazy) String() string { return l() }

// Eventually polls cond until it is true or d passes, then fails the test
// with msg formatted with args ("condition not met within d: msg"). It is
// internal/wait's Until, the one way a test waits for a condition; a test
// that can say why it is still waiting uses wait.For.
func Eventually(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	wait.Until(t, d, cond, msg, args...)
}
