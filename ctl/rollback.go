package ctl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
)

// RollbackOptions are `razar rollback-patch`'s.
type RollbackOptions struct {
	Patch     string // --patch: the patch to roll back (default the last applied)
	NATS      string // --nats URL
	Config    string // --config: the boot config (default config/boot_config.json)
	Component string
}

// RollbackPatch restores the files of the component's last applied patch
// (or the one named), records a reverted entry, and restarts the
// component if RAZAR is running.
func (c *Client) RollbackPatch(ctx context.Context, o RollbackOptions) error {
	name := o.Component
	if err := razar.ValidName(name); err != nil {
		return usageErr("component: %v", err)
	}
	if o.Config == "" {
		o.Config = c.home().BootConfig()
	}
	boot, err := config.LoadBoot(o.Config, c.Home)
	if err != nil {
		return err
	}
	comp, err := boot.Component(name)
	if errors.Is(err, razar.ErrNotFound) {
		return UnknownComponent(name)
	} else if err != nil {
		return usageErr("%v", err)
	}
	rb, err := orchestrator.RollbackPatch(c.Home, comp, o.Patch, c.Actor())
	if err != nil {
		if errors.Is(err, patch.ErrNothingToRevert) || errors.Is(err, razar.ErrNotFound) {
			return failed("nothing to roll back for %s: %v", name, err)
		}
		return failed("%v", err)
	}
	if rb.Resumed {
		fmt.Fprintf(c.Stdout, "%s: finishing the rollback of patch %s an earlier run began\n", name, rb.Patch)
	}
	fmt.Fprintf(c.Stdout, "%s: patch %s rolled back (%d file(s) restored)\n", name, rb.Patch, len(rb.Files))
	if rb.Snapshot {
		fmt.Fprintf(c.Stdout, "boot snapshot %s updated from %s\n", razar.Home("").RosterSnapshot(), razar.Home("").Roster())
	}
	return c.recordRollback(ctx, name, rb, o.NATS)
}

// recordRollback has the running RAZAR record the rollback and restart the
// component; with RAZAR stopped it records it in the home's patch history.
func (c *Client) recordRollback(ctx context.Context, name string, rb *orchestrator.Rollback, natsURL string) error {
	rec := rb.Record
	nc, err := c.Connect(ctx, natsURL, "razar-cli", c.Logger())
	if err != nil {
		// RAZAR is not running: the mirror is not there to write the record.
		if err := orchestrator.RecordRollbackOffline(c.Home, rec); err != nil {
			return failed("files restored, but the rollback was not recorded in %s: %v (run `razar rollback-patch %s` again to record it)", razar.Home("").PatchHistory(), err, name)
		}
		fmt.Fprintf(c.Stdout, "recorded in %s; RAZAR is not running, so %s was not restarted\n", razar.Home("").PatchHistory(), name)
		return nil
	}
	defer nc.Close()
	// The orchestrator writes the record: it is the only writer of the
	// stream, and it names the identity that asked. Sent again (a run
	// killed before its answer), the stream keeps one.
	if orchestrator.PendingRollback(c.Home, name, rb.Patch) {
		if _, err := c.Command(ctx, nc, bus.VerbRecord, name, &bus.LifecycleRequest{Record: rec}); err != nil {
			return failed("files restored, but the reverted record could not be written: %v (run `razar rollback-patch %s` again, or RAZAR writes it at its next start)", err, name)
		}
	}
	// The restored code may not be healthy: RAZAR then holds the
	// component stopped, with the reason, and says so; the rollback is
	// done either way.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := c.Command(cctx, nc, bus.VerbRestart, name, &bus.LifecycleRequest{Actor: c.Actor(), Patch: rb.Patch})
	if err != nil {
		return failed("files restored and recorded, but the restart failed: %v", err)
	}
	fmt.Fprintf(c.Stdout, "%s: %s\n", name, rep.Message)
	return nil
}
