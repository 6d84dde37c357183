package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/razar/razar/host"
)

// bootCmd is `razar boot`: parse the settings into a host.Config, open the
// host, run it.
func (c *cli) bootCmd() *cobra.Command {
	s := &settings{}
	cmd := c.native("boot", "[flags]", "boot the components, run the bus, the rungs and the orchestrator", bootHelp, func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usageErr("boot takes no arguments, got %q", args[0])
		}
		if err := c.checkBootFlags(s); err != nil {
			return err
		}
		h, err := host.Open(ctx, s.hostConfig(c))
		if err != nil {
			return err
		}
		return h.Run(ctx)
	})
	defineBootFlags(cmd.Flags(), s)
	return cmd
}
