package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/ctl"
	"github.com/razar/razar/jetstream"
)

// agentCmd is `razar agent <name>`: one rung as its own process.
func (c *cli) agentCmd() *cobra.Command {
	var natsURL string
	var workers int
	cmd := c.native("agent", "<name> [--nats URL] [--creds F]", "run one rung as its own process", "", func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return usageErr("usage: razar agent <name>")
		}
		return c.agent(ctx, strings.ToLower(args[0]), natsURL, workers)
	})
	cmd.Flags().StringVar(&natsURL, "nats", "", "NATS `URL` (default $RAZAR_NATS_URL, else state/nats.url)")
	cmd.Flags().IntVar(&workers, "workers", 2, "attempts this process works at once")
	cmd.ValidArgsFunction = c.completeRungs
	return cmd
}

// agent runs the rung name of the roster on the bus until ctx ends.
func (c *cli) agent(ctx context.Context, name, natsURL string, workers int) error {
	roster, err := config.LoadRoster(razar.Home(c.home).Roster())
	if err != nil {
		return err
	}
	e, err := roster.Agent(name)
	if err != nil {
		return usageErr("agent %q is not in %s (fix: add it to the roster, or pick one of %s)", name, razar.Home(c.home).Roster(), ctl.AgentNames(roster))
	}
	if e.Human() {
		return usageErr("agent %q is a human rung (backend human): no process runs it; RAZAR pages on its turn, and `razar ack|resolve|pass <component>` answers", name)
	}
	log, closeLog, err := c.daemonLogger("agent-" + name)
	if err != nil {
		return err
	}
	defer closeLog()
	nc, err := c.client().ConnectAs(ctx, natsURL, "razar-agent-"+name, name, log, bus.WithInboxPrefix(auth.InboxPrefix(name)))
	if err != nil {
		return err
	}
	defer bus.Drain(nc, 5*time.Second)
	store, err := jetstream.BindStream(ctx, nc)
	if err != nil {
		return failed("%v", err)
	}
	if workers < 1 {
		return usageErr("--workers must be 1 or more")
	}
	rt, err := c.newRung(store, name, log, workers)
	if err != nil {
		return err
	}
	log.Info().Str("agent", name).Str("url", nc.ConnectedURL()).Msg("rung is up")
	return rt.Run(ctx)
}
