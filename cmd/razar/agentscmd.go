package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// agentsCheck prints one line per rung and fails when a remote rung lacks
// its credential.
func (c *cli) agentsCheck(args []string) error {
	fs := c.newFlags("agents check")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	roster, err := razar.LoadRoster(c.path(rosterFile))
	if err != nil {
		return err
	}
	missing := 0
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNG\tDISPLAY\tBACKEND\tSTATE")
	for _, e := range roster.Agents {
		r := rungFor(e.Name)
		display := e.Display
		if display == "" {
			display = r.Display
		}
		state := "ready"
		if _, err := agents.Build(r, e, c.home, c.lookup); err != nil {
			state = c.redactor().Redact(err.Error())
			var ce *razar.AgentCredentialError
			if errors.As(err, &ce) && agents.Remote(e.Backend) {
				missing++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, display, e.Backend, state)
	}
	tw.Flush()
	if missing > 0 {
		return failed("%d remote rung(s) lack their credential; they will be skipped", missing)
	}
	return nil
}

// agentsReload tells every running rung to drop its cached config and
// credentials, then reports each rung's readiness as it comes back.
func (c *cli) agentsReload(ctx context.Context, args []string) error {
	fs := c.newFlags("agents reload")
	natsURL := fs.String("nats", "", "NATS `URL`")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	roster, err := razar.LoadRoster(c.path(rosterFile))
	if err != nil {
		return err
	}
	nc, err := c.connect(ctx, *natsURL, "razar-cli", c.cliLogger())
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := jetstream.Open(ctx, nc)
	if err != nil {
		return failed("%v", err)
	}
	sent := time.Now().Add(-time.Second) // tolerate a little clock skew
	if err := nc.Publish(bus.AgentsReload, nil); err != nil {
		return failed("publish %s: %v", bus.AgentsReload, err)
	}
	if err := nc.Flush(); err != nil {
		return failed("publish %s: %v", bus.AgentsReload, err)
	}
	fmt.Fprintf(c.stdout, "reload sent on %s\n", bus.AgentsReload)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, e := range roster.Agents {
		for {
			st, err := store.AgentStatus(wctx, e.Name)
			if err == nil && st.Updated.After(sent) {
				state := "ready"
				if !st.Ready {
					state = st.Reason
				}
				fmt.Fprintf(c.stdout, "%-10s reloaded on %s: %s\n", e.Name, st.Host, state)
				break
			}
			select {
			case <-wctx.Done():
				fmt.Fprintf(c.stdout, "%-10s no process answered the reload\n", e.Name)
			case <-time.After(100 * time.Millisecond):
				continue
			}
			break
		}
	}
	return nil
}
