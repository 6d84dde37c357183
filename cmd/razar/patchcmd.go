package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
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
	dir := filepath.Join(c.home, orchestrator.PatchDir, name)
	target, err := pickPatch(dir, *id)
	if err != nil {
		return failed("nothing to roll back for %s: %v", name, err)
	}
	files, err := patch.Revert(comp.Workdir, filepath.Join(dir, target))
	if err != nil {
		if errors.Is(err, patch.ErrNothingToRevert) {
			return failed("nothing to roll back for %s: %v", name, err)
		}
		return failed("roll back %s patch %s: %v", name, target, err)
	}
	fmt.Fprintf(c.stdout, "%s: patch %s rolled back (%d file(s) restored)\n", name, target, len(files))
	// The runbook's next check is that the roster matches the boot
	// snapshot: refresh the snapshot from the roster now in force.
	if roster, err := os.ReadFile(c.path(rosterFile)); err == nil {
		if err := jetstream.WriteFileAtomic(c.path(supervisor.RosterSnapshot), roster, 0o644); err == nil {
			fmt.Fprintf(c.stdout, "boot snapshot %s updated from %s\n", supervisor.RosterSnapshot, rosterFile)
		}
	}

	rec := &bus.AuditRecord{Event: bus.EventReverted, Component: name, PatchID: target, Status: "reverted",
		Reason: "rolled back by " + c.actor() + " with razar rollback-patch", Actor: c.actor()}
	for _, f := range files {
		rec.Files = append(rec.Files, bus.PatchFile{Path: f.Path, OldPath: f.OldPath, Op: f.Op, SHA256Before: f.SHA256Before, SHA256After: f.SHA256After})
	}
	rec.Stamp(time.Now())
	nc, err := c.connect(ctx, *natsURL, "razar-cli", c.cliLogger())
	if err != nil {
		// RAZAR is not running: the mirror is not there to write the record.
		line, _ := json.Marshal(rec)
		if err := orchestrator.AppendLine(c.path(orchestrator.PatchHistoryFile), line); err != nil {
			return failed("record the rollback in %s: %v", orchestrator.PatchHistoryFile, err)
		}
		fmt.Fprintf(c.stdout, "recorded in %s; RAZAR is not running, so %s was not restarted\n", orchestrator.PatchHistoryFile, name)
		return nil
	}
	defer nc.Close()
	store, err := jetstream.Open(ctx, nc)
	if err == nil {
		err = store.Audit(ctx, rec, "")
	}
	if err != nil {
		return failed("files restored, but the reverted record could not be written: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := bus.Command(cctx, nc, bus.VerbRestart, name, &bus.LifecycleRequest{Actor: c.actor()})
	if err != nil {
		return failed("files restored and recorded, but the restart failed: %v", err)
	}
	fmt.Fprintf(c.stdout, "%s: %s\n", name, rep.Message)
	return nil
}

// pickPatch returns the named patch, or the newest applied one under dir.
func pickPatch(dir, id string) (string, error) {
	if id != "" {
		m, err := patch.ReadManifest(filepath.Join(dir, id))
		if err != nil {
			return "", fmt.Errorf("patch %s: %w", id, err)
		}
		if m.State != patch.StateApplied {
			return "", fmt.Errorf("patch %s is %s, not applied", id, m.State)
		}
		return id, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("no applied patch under %s", dir)
	}
	type cand struct {
		id      string
		created time.Time
	}
	var cands []cand
	for _, e := range entries {
		m, err := patch.ReadManifest(filepath.Join(dir, e.Name()))
		if err == nil && m.State == patch.StateApplied {
			cands = append(cands, cand{e.Name(), m.Created})
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no applied patch under %s", dir)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].created.After(cands[j].created) })
	return cands[0].id, nil
}
