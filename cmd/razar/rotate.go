package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// rotateKeys is `razar rotate-keys --secrets-dir DIR (--dry-run | --apply --approver A --approver B)`.
func (c *cli) rotateKeys(ctx context.Context, args []string) error {
	fs := c.newFlags("rotate-keys")
	dir := fs.String("secrets-dir", "", "`DIR` of rotation manifests (*.json, *.yaml), relative to the home")
	dry := fs.Bool("dry-run", false, "print the plan and validate it; write nothing")
	apply := fs.Bool("apply", false, "rewrite the roster (needs two --approver)")
	natsURL := fs.String("nats", "", "NATS `URL` for the audit record and the reload")
	var approvers multiFlag
	fs.Var(&approvers, "approver", "a `NAME` who approved the rotation (twice, two different people)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *dir == "" || *dry == *apply {
		return usageErr("usage: razar rotate-keys --secrets-dir DIR (--dry-run | --apply --approver A --approver B)")
	}
	var approved []string
	if *apply {
		if approved, err = checkApprovers(approvers); err != nil {
			return usageErr("%v", err)
		}
	}
	secrets := *dir
	if !filepath.IsAbs(secrets) {
		secrets = c.path(secrets)
	}
	rosterPath := c.path(rosterFile)
	roster, err := razar.LoadRoster(rosterPath)
	if err != nil {
		return err
	}
	mans, err := agents.LoadManifests(secrets)
	if err != nil {
		return err
	}
	next, items, err := agents.PlanRotation(roster, mans, rungFor, c.home, c.lookup)
	if err != nil {
		return err
	}
	bad := 0
	for _, it := range items {
		state := "set"
		if !it.Set {
			state = "NOT SET"
		}
		line := fmt.Sprintf("%-10s %s -> %s (%s)", it.Agent, orDash(it.From), it.Env, state)
		if it.Err != nil {
			bad++
			line += ": " + c.redactor().Redact(it.Err.Error())
		} else {
			line += ": loads"
		}
		fmt.Fprintln(c.stdout, line)
	}
	if *dry {
		fmt.Fprintf(c.stdout, "dry run: the rotated roster is valid; nothing written (%d agent(s), %d problem(s))\n", len(items), bad)
		if bad > 0 {
			return failed("%d new credential(s) would not load", bad)
		}
		return nil
	}
	if bad > 0 {
		return failed("refusing to apply: %d new credential(s) would not load; nothing changed", bad)
	}
	data, err := agents.MarshalRoster(next)
	if err != nil {
		return failed("%v", err)
	}
	old, err := os.ReadFile(rosterPath)
	if err != nil {
		return failed("%v", err)
	}
	prev := rosterPath + ".prev"
	if err := jetstream.WriteFileAtomic(prev, old, 0o640); err != nil {
		return failed("keep the previous roster: %v; nothing changed", err)
	}
	if err := jetstream.WriteFileAtomic(rosterPath, data, 0o640); err != nil {
		return failed("rewrite %s: %v; nothing changed", rosterPath, err)
	}
	fmt.Fprintf(c.stdout, "roster rewritten (previous kept as %s)\n", filepath.Base(prev))

	var changes []string
	for _, it := range items {
		changes = append(changes, it.Agent+":"+it.Env)
	}
	rec := &bus.AuditRecord{Event: bus.EventRotation, Component: bus.SystemComponent, Actor: strings.Join(approved, ","),
		Status: "applied", Message: "credentials rotated: " + strings.Join(changes, " ")}
	nc, err := c.connect(ctx, *natsURL, "razar-rotate", c.cliLogger())
	if err != nil {
		fmt.Fprintln(c.stderr, "razar: warning: RAZAR is not running: no audit record was written and no reload sent; rungs read the new roster when they start")
		return nil
	}
	defer nc.Close()
	store, err := jetstream.Open(ctx, nc)
	if err == nil {
		rec.Stamp(time.Now())
		err = store.Audit(ctx, rec, "")
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "razar: warning: could not record the rotation on the audit stream: %v\n", err)
	}
	if err := nc.Publish(bus.AgentsReload, nil); err == nil && nc.Flush() == nil {
		fmt.Fprintln(c.stdout, "reload broadcast: running rungs now use the new credentials")
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
