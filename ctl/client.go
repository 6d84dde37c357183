package ctl

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream"
)

// Client is the operator's side of one RAZAR home.
type Client struct {
	Home   string    // the RAZAR home
	Creds  string    // --creds: the NATS identity to connect as; "" for the default
	Stdout io.Writer // what the command prints
	Stderr io.Writer // warnings and progress

	// Getenv reads a variable: the environment, then config/razar.env.
	Getenv func(string) string
	// Lookup is Getenv telling unset from empty.
	Lookup config.Lookup
	// Redactor is the home's current secrets redactor.
	Redactor func() *razar.Redactor
	// RungFor is the rung package of a roster name (a generic rung for
	// one of none).
	RungFor func(string) agents.Rung
	// DaemonLogger opens logs/razar.log for a command that records there
	// (memory init, an offline memory audit).
	DaemonLogger func(process string) (zerolog.Logger, func(), error)
}

// Path is rel inside the home.
func (c *Client) Path(rel string) string { return filepath.Join(c.Home, rel) }

// home is the layout of the RAZAR home the client works on.
func (c *Client) home() razar.Home { return razar.Home(c.Home) }

// Logger logs warnings and worse to Stderr, for one-shot commands.
func (c *Client) Logger() zerolog.Logger {
	return zerolog.New(zerolog.ConsoleWriter{Out: c.Stderr, TimeFormat: "15:04:05", NoColor: true}).Level(zerolog.WarnLevel).With().Timestamp().Logger()
}

// Actor is who runs the command, for the record: $USER@hostname.
func (c *Client) Actor() string {
	u := c.Getenv("USER")
	if u == "" {
		u = "operator"
	}
	h, _ := os.Hostname()
	return u + "@" + h
}

// BusURL finds the bus: flagURL (--nats), else $RAZAR_NATS_URL, else
// state/nats.url of a running `razar boot` in this home.
func (c *Client) BusURL(flagURL string) (string, error) {
	if flagURL != "" {
		return flagURL, nil
	}
	if u := c.Getenv("RAZAR_NATS_URL"); u != "" {
		return u, nil
	}
	u, err := jetstream.ReadURLFile(c.home().NATSURLFile())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if err := c.HomeExists(); err != nil {
				return "", err
			}
			return "", failed("RAZAR is not running in %s (no %s): start it with `razar boot`, or pass --nats URL", c.Home, razar.Home("").NATSURLFile())
		}
		return "", failed("read %s: %v", c.home().NATSURLFile(), err)
	}
	return u, nil
}

// HomeExists says, as a usage error, that the home is missing or not a
// directory: "not running" would send the operator looking for a RAZAR
// that was never there.
func (c *Client) HomeExists() error {
	fi, err := os.Stat(c.Home)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usageErr("the RAZAR home %s does not exist (fix: --home DIR of the directory holding config/, or set RAZAR_HOME; run razar from that directory to use it as the home)", c.Home)
	case err != nil:
		return usageErr("the RAZAR home %s cannot be read: %v (fix: --home DIR of a home RAZAR's user can read)", c.Home, errors.Unwrap(err))
	case !fi.IsDir():
		return usageErr("the RAZAR home %s is not a directory (fix: --home DIR of the directory holding config/)", c.Home)
	}
	return nil
}

// Connect dials the bus within a short deadline, as the operator identity
// (or --creds).
func (c *Client) Connect(ctx context.Context, flagURL, name string, log zerolog.Logger) (*bus.Conn, error) {
	return c.ConnectAs(ctx, flagURL, name, string(auth.Operator), log)
}

// ConnectAs dials the bus as identity ident of the home, unless --creds or
// $RAZAR_CREDS names another. A bus without authentication takes a
// connection without identity when the home has none.
func (c *Client) ConnectAs(ctx context.Context, flagURL, name, ident string, log zerolog.Logger, opts ...bus.ConnOption) (*bus.Conn, error) {
	url, err := c.BusURL(flagURL)
	if err != nil {
		return nil, err
	}
	if creds := c.CredsFor(ident); creds != "" {
		opts = append(opts, bus.WithCreds(creds))
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nc, err := bus.Connect(cctx, url, name, log, opts...)
	if err != nil {
		return nil, failed("%v", err)
	}
	return nc, nil
}

// CredsFor is the creds file to connect as identity ident: --creds, else
// $RAZAR_CREDS, else state/identities/<ident>.creds when it exists, else
// none.
func (c *Client) CredsFor(ident string) string {
	if c.Creds != "" {
		return c.Creds
	}
	if v := c.Getenv("RAZAR_CREDS"); v != "" {
		return v
	}
	p := filepath.Join(c.home().Identities(), ident+".creds")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// RazarDown reports whether, after a failed connect, RAZAR is known not to
// run from this home: no bus was named (--nats, $RAZAR_NATS_URL) and either
// there is no state/nats.url or the store it belongs to is not locked by a
// running `razar boot` (one killed leaves its URL file behind). A bus that
// was named, or a store still in use, is a RAZAR that runs but cannot be
// reached: nothing may be judged without it.
func (c *Client) RazarDown(flagURL string) bool {
	if flagURL != "" || c.Getenv("RAZAR_NATS_URL") != "" {
		return false
	}
	if _, err := os.Stat(c.home().NATSURLFile()); errors.Is(err, os.ErrNotExist) {
		return true
	}
	unlock, err := jetstream.LockStore(c.home().StateDir())
	if err != nil {
		return false
	}
	unlock()
	return true
}

// notRunning reports whether err says no RAZAR runs in the home.
func (c *Client) notRunning(err error) bool {
	_, statErr := os.Stat(c.home().NATSURLFile())
	return errors.Is(statErr, os.ErrNotExist) || errors.Is(err, bus.ErrNotRunning)
}

// AgentNames lists the roster's rungs, for an error that says which exist.
func AgentNames(r *config.Roster) string {
	var n []string
	for _, a := range r.Agents {
		n = append(n, a.Name)
	}
	return strings.Join(n, ", ")
}
