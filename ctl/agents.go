package ctl

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/razar/razar/agents/rotation"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/jetstream"
)

// AgentsCheck prints one line per rung and fails when a remote rung cannot
// run. With RAZAR running, the lines are the running rungs' own view: every
// process of every rung is asked (razar.agents.probe.<rung>) whether it can
// build its backend from the roster, in its own environment. Otherwise the
// check can only be made in this command's environment, and it says so.
func (c *Client) AgentsCheck(ctx context.Context, natsURL string, local bool) error {
	roster, err := config.LoadRoster(c.home().Roster())
	if err != nil {
		return err
	}
	if local {
		return c.agentsCheckLocal(roster)
	}
	nc, err := c.Connect(ctx, natsURL, "razar-cli", c.Logger())
	if err != nil {
		if !c.RazarDown(natsURL) {
			return failed("%v: the running rungs cannot be asked (--local checks this shell's environment instead)", err)
		}
		fmt.Fprintf(c.Stderr, "razar: note: %v\nrazar: note: the running rungs could not be asked; this is this shell's view (its environment), not theirs\n", err)
		return c.agentsCheckLocal(roster)
	}
	defer nc.Close()
	names := make([]string, len(roster.Agents))
	for i, e := range roster.Agents {
		names[i] = e.Name
	}
	answers, err := rotation.ProbeRungs(ctx, nc, names, nil)
	if err != nil {
		return failed("ask the running rungs: %v", err)
	}
	fmt.Fprintln(c.Stdout, "the running rungs' view: each process checked the roster in its own environment")
	if bad := c.printProbes(roster, answers); bad > 0 {
		return failed("%d remote rung(s) cannot run on every process; they will be skipped where they cannot", bad)
	}
	return nil
}

// printProbes prints a line per process of each rung and returns how many
// remote rungs cannot run on every process.
func (c *Client) printProbes(roster *config.Roster, answers map[string][]bus.ProbeReply) int {
	bad := 0
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNG\tDISPLAY\tBACKEND\tPROCESS\tSTATE")
	for _, e := range roster.Agents {
		display := e.Display
		if display == "" {
			display = c.RungFor(e.Name).Display
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
				state, down = cut.Sanitize(c.Redactor().Redact(a.Reason)), true
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, display, e.Backend, cut.Sanitize(a.Host), state)
		}
		if down && agents.Remote(e.Backend) {
			bad++
		}
	}
	tw.Flush()
	return bad
}

// agentsCheckLocal is agents check in this command's own environment.
func (c *Client) agentsCheckLocal(roster *config.Roster) error {
	missing := 0
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNG\tDISPLAY\tBACKEND\tSTATE (this shell's environment)")
	for _, e := range roster.Agents {
		r := c.RungFor(e.Name)
		display := e.Display
		if display == "" {
			display = r.Display
		}
		state := "ready"
		if _, err := agents.Build(r, e, c.Home, c.Lookup); err != nil {
			state = c.Redactor().Redact(err.Error())
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

// AgentsReload tells every running rung to drop its cached config and
// credentials, then reports each rung's readiness as it comes back.
func (c *Client) AgentsReload(ctx context.Context, natsURL string) error {
	roster, err := config.LoadRoster(c.home().Roster())
	if err != nil {
		return err
	}
	nc, err := c.Connect(ctx, natsURL, "razar-cli", c.Logger())
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
	fmt.Fprintf(c.Stdout, "reload sent on %s\n", bus.AgentsReload)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, e := range roster.Agents {
		c.awaitRung(wctx, store, e.Name, sent)
	}
	return nil
}

// awaitRung prints the status rung reports after sent, or that none came
// before ctx ended.
func (c *Client) awaitRung(ctx context.Context, store *jetstream.Store, rung string, sent time.Time) {
	for {
		st, err := store.AgentStatus(ctx, rung)
		if err == nil && st.Updated.After(sent) {
			state := "ready"
			if !st.Ready {
				state = st.Reason
			}
			fmt.Fprintf(c.Stdout, "%-10s reloaded on %s: %s\n", rung, st.Host, state)
			return
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(c.Stdout, "%-10s no process answered the reload\n", rung)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
