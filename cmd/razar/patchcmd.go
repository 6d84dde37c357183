package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
	"github.com/razar/razar/supervisor"
)

// rollbackPatch is `razar rollback-patch <component> [--patch ID]`: it
// restores the files of the last applied patch (or the one named), records
// a reverted entry, and restarts the component if RAZAR is running.
func (c *cli) rollbackPatch(ctx context.Context, args []string) error {
	fs := c.newFlags("rollback-patch")
	id := fs.String("patch", "", "the patch `ID` to roll back (default: the last applied)")
	natsURL := fs.String("nats", "", "NATS `URL`")
	cfgPath := fs.String("config", "", "boot config `file` (default config/boot_config.json)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("usage: razar rollback-patch <component> [--patch ID]")
	}
	name := pos[0]
	if err := razar.ValidName(name); err != nil {
		return usageErr("component: %v", err)
	}
	if *cfgPath == "" {
		*cfgPath = c.path(bootConfigFile)
	}
	boot, err := loadBoot(*cfgPath, c.home)
	if err != nil {
		return err
	}
	comp, err := boot.Component(name)
	if errors.Is(err, razar.ErrNotFound) {
		return unknownComponent(name)
	} else if err != nil {
		return usageErr("%v", err)
	}
	rb, err := orchestrator.RollbackPatch(c.home, comp, *id, c.actor())
	if err != nil {
		if errors.Is(err, patch.ErrNothingToRevert) || errors.Is(err, razar.ErrNotFound) {
			return failed("nothing to roll back for %s: %v", name, err)
		}
		return failed("%v", err)
	}
	if rb.Resumed {
		fmt.Fprintf(c.stdout, "%s: finishing the rollback of patch %s an earlier run began\n", name, rb.Patch)
	}
	fmt.Fprintf(c.stdout, "%s: patch %s rolled back (%d file(s) restored)\n", name, rb.Patch, len(rb.Files))
	if rb.Snapshot {
		fmt.Fprintf(c.stdout, "boot snapshot %s updated from %s\n", supervisor.RosterSnapshot, rosterFile)
	}
	rec := rb.Record
	nc, err := c.connect(ctx, *natsURL, "razar-cli", c.cliLogger())
	if err != nil {
		// RAZAR is not running: the mirror is not there to write the record.
		if err := orchestrator.RecordRollbackOffline(c.home, rec); err != nil {
			return failed("files restored, but the rollback was not recorded in %s: %v (run `razar rollback-patch %s` again to record it)", razar.Home("").PatchHistory(), err, name)
		}
		fmt.Fprintf(c.stdout, "recorded in %s; RAZAR is not running, so %s was not restarted\n", razar.Home("").PatchHistory(), name)
		return nil
	}
	defer nc.Close()
	// The orchestrator writes the record: it is the only writer of the
	// stream, and it names the identity that asked. Sent again (a run
	// killed before its answer), the stream keeps one.
	if orchestrator.PendingRollback(c.home, name, rb.Patch) {
		if _, err := c.command(ctx, nc, bus.VerbRecord, name, &bus.LifecycleRequest{Record: rec}); err != nil {
			return failed("files restored, but the reverted record could not be written: %v (run `razar rollback-patch %s` again, or RAZAR writes it at its next start)", err, name)
		}
	}
	// The restored code may not be healthy: RAZAR then holds the
	// component stopped, with the reason, and says so; the rollback is
	// done either way.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := c.command(cctx, nc, bus.VerbRestart, name, &bus.LifecycleRequest{Actor: c.actor(), Patch: rb.Patch})
	if err != nil {
		return failed("files restored and recorded, but the restart failed: %v", err)
	}
	fmt.Fprintf(c.stdout, "%s: %s\n", name, rep.Message)
	return nil
}
