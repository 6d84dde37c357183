package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
)

const identityHelp = `Identities are NATS users of this home's embedded bus, each a creds file
(state/identities/<name>.creds, 0600) that the nats CLI takes with --creds:

  nats --creds state/identities/operator.creds --server "$(cat state/nats.url)" \
      req razar.lifecycle.status._all ''

The first boot mints orchestrator, operator, observer and one per rung. Roles:
  operator  lifecycle commands (stop, start, approve, ...), rung probes, and reading everything
  observer  reading everything, and status
  rung      one rung's own attempts, results, heartbeat and probe, for a rung on another host
            (the name is the rung's: razar identity add k2 --role rung)

Lifecycle commands and approvals are recorded under the identity the server
authenticated. Hand a creds file over as you would a private key; to revoke
one, see docs/SECURITY.md.`

// identity mints and lists the home's NATS identities.
func (c *cli) identityAdd(ctx context.Context, args []string) error {
	fs := c.newFlags("identity add")
	role := fs.String("role", "", "`ROLE` operator, observer or rung (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *role == "" {
		return usageErr("usage: razar identity add <name> --role operator|observer|rung")
	}
	name := pos[0]
	r, err := auth.ParseRole(*role)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := auth.ValidName(name); err != nil {
		return usageErr("%v", err)
	}
	roster, rerr := razar.LoadRoster(c.path(rosterFile))
	var rungs []string
	if rerr == nil {
		for _, a := range roster.Agents {
			rungs = append(rungs, a.Name)
		}
	}
	if r == auth.Rung {
		if rerr != nil {
			return rerr
		}
		if _, err := roster.Agent(name); err != nil {
			return usageErr("rung %q is not in %s: a rung identity is named after its rung (one of %s)", name, c.path(rosterFile), agentNames(roster))
		}
		name = strings.ToLower(name)
	}
	if reserved(name) && r != auth.Rung {
		return usageErr("%q is a reserved identity name; pick another (alice, ops-2, ...)", name)
	}
	trust, err := auth.Open(c.path(identitiesDir))
	if err != nil {
		return failed("%v", err)
	}
	path, err := trust.Mint(name, r, rungs)
	if errors.Is(err, auth.ErrExists) {
		return failed("%v", err)
	}
	if err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.stdout, "identity %s (%s): %s\n", name, r, path)
	fmt.Fprintf(c.stdout, "use it with: nats --creds %s ... or razar --creds %s ...\n", path, path)
	return nil
}

// reserved names are the standard identities Ensure mints.
func reserved(name string) bool {
	switch strings.ToLower(name) {
	case string(auth.Orchestrator), string(auth.Operator), string(auth.Observer), "control":
		return true
	}
	return false
}

// identityList prints the identities of the home.
func (c *cli) identityList(ctx context.Context, args []string) error {
	fs := c.newFlags("identity list")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	dir := c.path(identitiesDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return failed("no identities in %s yet: the first `razar boot` mints them", dir)
	}
	if err != nil {
		return failed("%v", err)
	}
	var lines []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".creds") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		id, err := auth.ReadCreds(p)
		if err != nil {
			lines = append(lines, fmt.Sprintf("%-16s %-12s %s", strings.TrimSuffix(e.Name(), ".creds"), "?", err))
			continue
		}
		lines = append(lines, fmt.Sprintf("%-16s %-12s %s", id.Name, id.Role, p))
	}
	sort.Strings(lines)
	fmt.Fprintf(c.stdout, "%-16s %-12s %s\n", "NAME", "ROLE", "FILE")
	for _, l := range lines {
		fmt.Fprintln(c.stdout, l)
	}
	return nil
}

// externalControlCreds is the lifecycle listener's identity on an external
// bus: state/identities/.trust/control.creds when the operator put one there.
func (c *cli) externalControlCreds() string {
	p := auth.ControlPath(c.path(identitiesDir))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// offlineTrust is the trust of the private server a command starts to read
// the store while RAZAR is stopped. A home that never booted has none to
// read, so it is an error, not a fresh set of keys.
func (c *cli) offlineTrust() (*auth.ServerTrust, error) {
	if !auth.HasTrust(c.path(identitiesDir)) {
		return nil, failed("no identities in %s: the store was not written by this RAZAR home's `razar boot`", c.path(identitiesDir))
	}
	t, err := auth.Open(c.path(identitiesDir))
	if err != nil {
		return nil, failed("%v", err)
	}
	st, err := t.Server()
	if err != nil {
		return nil, failed("%v", err)
	}
	return st, nil
}
