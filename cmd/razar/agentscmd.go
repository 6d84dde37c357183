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

// agentsCheck prints one line per rung and fails when a remote rung cannot
// run. With RAZAR running, the lines are the running rungs' own view: every
// process of every rung is asked (razar.agents.probe.<rung>) whether it can
// build its backend from the roster, in its own environment. Otherwise the
// check can only be made in this command's environment, and it says so.
func (c *cli) agentsCheck(ctx context.Context, args []string) error {
	fs := c.newFlags("agents check")
	natsURL := fs.String("nats", "", "NATS `URL` of the running RAZAR")
	local := fs.Bool("local", false, "check in this shell's environment only, without asking the running rungs")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("agents check takes no arguments, got %q", pos[0])
	}
	roster, err := razar.LoadRoster(c.path(rosterFile))
	if err != nil {
		return err
	}
	if *local {
		return c.agentsCheckLocal(roster)
	}
	nc, err := c.connect(ctx, *natsURL, "razar-cli", c.cliLogger())
	if err != nil {
		if !c.razarDown(*natsURL) {
			return failed("%v: the running rungs cannot be asked (--local checks this shell's environment instead)", err)
		}
		fmt.Fprintf(c.stderr, "razar: note: %v\nrazar: note: the running rungs could not be asked; this is this shell's view (its environment), not theirs\n", err)
		return c.agentsCheckLocal(roster)
	}
	defer nc.Close()
	names := make([]string, len(roster.Agents))
	for i, e := range roster.Agents {
		names[i] = e.Name
	}
	answers, err := c.probeRungs(ctx, nc, names, nil)
	if err != nil {
		return failed("ask the running rungs: %v", err)
	}
	fmt.Fprintln(c.stdout, "the running rungs' view: each process checked the roster in its own environment")
	bad := 0
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNG\tDISPLAY\tBACKEND\tPROCESS\tSTATE")
	for _, e := range roster.Agents {
		display := e.Display
		if display == "" {
			display = rungFor(e.Name).Display
		}
		got := answers[e.Name]
		if len(got) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\tno running process answers on %s\n", e.Name, display, e.Backend, bus.ProbeSubject(e.Name))
			if agents.Remote(e.Backend) {
				bad++
			}
			continue
		}
		down := false
		for _, a := range got {
			state := "ready"
			if !a.Ready {
				state, down = sanitize(c.redactor().Redact(a.Reason)), true
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, display, e.Backend, sanitize(a.Host), state)
		}
		if down && agents.Remote(e.Backend) {
			bad++
		}
	}
	tw.Flush()
	if bad > 0 {
		return failed("%d remote rung(s) cannot run on every process; they will be skipped where they cannot", bad)
	}
	return nil
}

// agentsCheckLocal is agents check in this command's own environment.
func (c *cli) agentsCheckLocal(roster *razar.Roster) error {
	missing := 0
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNG\tDISPLAY\tBACKEND\tSTATE (this shell's environment)")
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
	store, err := jetstream.Bind(ctx, nc)
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
