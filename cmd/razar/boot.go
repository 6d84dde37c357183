package main

import (
	"context"

	"github.com/razar/razar/host"
)

// boot is `razar boot`: parse the settings into a host.Config, open the
// host, run it.
func (c *cli) boot(ctx context.Context, args []string) error {
	set, err := c.bootFlags(args)
	if err != nil {
		return err
	}
	h, err := host.Open(ctx, set.hostConfig(c))
	if err != nil {
		return err
	}
	return h.Run(ctx)
}
