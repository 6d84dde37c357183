package ctl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/statuspage"
)

// AuditOptions are `razar audit`'s.
type AuditOptions struct {
	NATS      string // --nats URL
	Since     string // --since: a duration (1h, 2d) or an RFC 3339 time
	Component string // --component: only this component's records
	Incident  string // --incident: one incident, attempt by attempt
	JSON      bool   // --json: JSON lines (with --incident: its raw records)
}

// Audit replays the audit trail from the stream; with an incident it shows
// that one attempt by attempt (statuspage.WriteText).
func (c *Client) Audit(ctx context.Context, o AuditOptions) error {
	from, filter, err := o.check()
	if err != nil {
		return err
	}
	log := c.Logger()
	store, closeStore, err := c.OpenStore(ctx, o.NATS, "razar-audit")
	if err != nil {
		return err
	}
	defer closeStore()
	if o.Incident != "" && !o.JSON {
		// One incident, read as a whole: each attempt with what its rung
		// saw and did (--json keeps the raw records).
		inc, err := statuspage.Load(ctx, store, o.Incident)
		if errors.Is(err, razar.ErrNotFound) {
			return failed("no audit records for incident %s", o.Incident)
		}
		if err != nil {
			return failed("%v", err)
		}
		return statuspage.WriteText(c.Stdout, inc)
	}
	n := 0
	err = store.Scan(ctx, filter, from, false, func(seq uint64, subject string, data []byte) error {
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err != nil {
			log.Warn().Err(err).Uint64("seq", seq).Str("subject", subject).Msg("skipping a malformed record")
			return nil
		}
		if o.Incident != "" && r.Incident != o.Incident {
			return nil
		}
		r.Seq = seq
		n++
		c.PrintRecord(&r, o.JSON)
		return nil
	})
	if err != nil {
		return failed("%v", err)
	}
	if n == 0 && o.Incident != "" {
		return failed("no audit records for incident %s", o.Incident)
	}
	return nil
}

// check vets the options and returns where the replay starts and which
// subjects it reads.
func (o AuditOptions) check() (time.Time, string, error) {
	var from time.Time
	if o.Since != "" {
		if d, err := config.ParseAge(o.Since); err == nil && d > 0 {
			from = time.Now().Add(-d) // 1h, 90m, 2d
		} else if t, err := time.Parse(time.RFC3339, o.Since); err == nil {
			from = t
		} else {
			return from, "", usageErr("--since %q: use a duration such as 1h or 2d, or an RFC 3339 time", o.Since)
		}
	}
	if o.Incident != "" && !bus.ValidToken(o.Incident) {
		return from, "", usageErr("--incident %q: not an incident id (they look like inc-20260102-150405-a1b2c3)", o.Incident)
	}
	filter := bus.AuditAll
	if o.Component != "" {
		if err := razar.ValidName(o.Component); err != nil && o.Component != bus.SystemComponent {
			return from, "", usageErr("--component: %v (RAZAR's own records: --component %s)", err, bus.SystemComponent)
		}
		filter = bus.AuditComponent(o.Component)
	}
	return from, filter, nil
}

// OpenStore connects to the running bus; when RAZAR is not running from
// this home, it serves the home's JetStream store with a private embedded
// server for as long as the command needs it, so the record of truth can be
// read after the fact.
func (c *Client) OpenStore(ctx context.Context, natsURL, name string) (*jetstream.Store, func(), error) {
	if natsURL == "" && c.Getenv("RAZAR_NATS_URL") == "" {
		_, noURL := os.Stat(c.home().NATSURLFile())
		_, noStore := os.Stat(filepath.Join(c.home().StateDir(), "jetstream"))
		if errors.Is(noURL, os.ErrNotExist) && noStore == nil {
			return c.openOffline(ctx, name)
		}
	}
	nc, err := c.Connect(ctx, natsURL, name, c.Logger())
	if err != nil {
		return nil, nil, err
	}
	store, err := jetstream.Bind(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, nil, failed("%v", err)
	}
	return store, nc.Close, nil
}

// openOffline serves the home's store with a private server on loopback,
// with RAZAR stopped: this command holds the store, as its owner.
func (c *Client) openOffline(ctx context.Context, name string) (_ *jetstream.Store, _ func(), err error) {
	log := c.Logger()
	unlock, err := jetstream.LockStore(c.home().StateDir())
	if err != nil {
		return nil, nil, failed("%v: RAZAR runs here without state/nats.url; pass --nats URL", err)
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	undo = append(undo, unlock)
	// The private server trusts the home's identities like `razar boot`
	// does: it is on loopback, but not open.
	st, err := c.offlineTrust()
	if err != nil {
		return nil, nil, err
	}
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: c.home().StateDir(), Listen: "127.0.0.1:0", Log: log, Trust: st})
	if err != nil {
		return nil, nil, failed("read the store in %s: %v", c.home().StateDir(), err)
	}
	undo = append(undo, srv.Shutdown)
	nc, err := c.ConnectAs(ctx, srv.ClientURL(), name, string(auth.Orchestrator), log)
	if err != nil {
		return nil, nil, err
	}
	undo = append(undo, nc.Close)
	store, err := jetstream.Bind(ctx, nc)
	if err != nil {
		return nil, nil, failed("%v", err)
	}
	return store, func() { nc.Close(); srv.Shutdown(); unlock() }, nil
}
