package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
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

People's identities (operator, observer, and every one identity add mints)
expire, after 90 days unless --expires says otherwise (30d, 12h, at most
730d); the standard operator and observer on the host are renewed at boot
(same key) in their last 30 days. The machine identities (orchestrator,
control, the rungs on this host) do not expire.

  razar identity revoke <name|public-key>   ends an identity at once: the
      running server refuses it and closes its connections, no restart
  razar identity list                        name, role, key, expiry, revoked

Lifecycle commands and approvals are recorded under the identity the server
authenticated, by name and public key. Hand a creds file over as you would a
private key. The signing seeds live in state/trust/ (0700), which is never
handed out.`

// identity mints and lists the home's NATS identities.
func (c *cli) identityAdd(ctx context.Context, args []string) error {
	fs := c.newFlags("identity add")
	role := fs.String("role", "", "`ROLE` operator, observer or rung (required)")
	expiresIn := fs.String("expires", "90d", "how long the identity is accepted: `AGE` in days (30d) or a Go duration (12h), at most 730d")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *role == "" {
		return usageErr("usage: razar identity add <name> --role operator|observer|rung [--expires 90d]")
	}
	life, err := parseAge(*expiresIn)
	if err != nil || life <= 0 || life > auth.MaxExpiry {
		return usageErr("--expires %q: want a positive age of at most 730d, such as 30d or 12h (an identity that never ends cannot be minted by hand)", *expiresIn)
	}
	expires := time.Now().Add(life)
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
	path, err := trust.Mint(name, r, rungs, expires)
	if err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.stdout, "identity %s (%s), expires %s: %s\n", name, r, expires.UTC().Format(time.RFC3339), path)
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

// identityList prints the identities of the home: name, role, public
// key, expiry and revocation.
func (c *cli) identityList(ctx context.Context, args []string) error {
	fs := c.newFlags("identity list")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	dir := c.path(identitiesDir)
	if !auth.HasTrust(dir) {
		return failed("no identities in %s yet: the first `razar boot` mints them", dir)
	}
	trust, err := auth.Open(dir)
	if err != nil {
		return failed("%v", err)
	}
	list, err := trust.List()
	if err != nil {
		return failed("%v", err)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tKEY\tEXPIRES\tREVOKED")
	for _, e := range list {
		if e.Err != nil {
			fmt.Fprintf(tw, "%s\t?\t-\t-\t-\t%s\n", sanitize(e.Name), sanitize(e.Err.Error()))
			continue
		}
		expires := "never"
		if !e.Expires.IsZero() {
			expires = e.Expires.Format(time.RFC3339)
			if !e.Expires.After(now) {
				expires += " (expired)"
			}
		}
		revoked := "-"
		if !e.Revoked.IsZero() {
			revoked = e.Revoked.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sanitize(e.Name), sanitize(string(e.Role)), e.Key, expires, revoked)
	}
	return tw.Flush()
}

// identityRevoke ends an identity: it goes on the revocation list in the
// trust root, its creds file is removed, and, with RAZAR running, the
// account's new JWT is handed to the running server, which refuses the
// identity from then on and closes its open connections.
func (c *cli) identityRevoke(ctx context.Context, args []string) error {
	fs := c.newFlags("identity revoke")
	natsURL := fs.String("nats", "", "NATS `URL` of the running RAZAR (default state/nats.url)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("usage: razar identity revoke <name|public-key>")
	}
	name := pos[0]
	dir := c.path(identitiesDir)
	if !auth.HasTrust(dir) {
		return failed("no identities in %s: nothing to revoke (an external bus's identities are revoked where they were signed, e.g. `nsc revocations add-user`)", dir)
	}
	down := c.razarDown(*natsURL)
	if (name == string(auth.Orchestrator) || name == "control") && !down {
		return usageErr("%q is RAZAR's own identity and RAZAR is running: revoking it would cut RAZAR off its bus. Stop RAZAR, revoke it, then boot: a new one is minted", name)
	}
	trust, err := auth.Open(dir)
	if err != nil {
		return failed("%v", err)
	}
	r, err := trust.Revoke(name, time.Now())
	if err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.stdout, "identity %s (%s, %s) revoked %s\n", r.Name, r.Role, r.Key, r.At.Format(time.RFC3339))
	if down {
		fmt.Fprintln(c.stdout, "RAZAR is not running: the next `razar boot` refuses it")
		return nil
	}
	url, err := c.busURL(*natsURL)
	if err != nil {
		return failed("revoked in %s, but the running bus cannot be found (%v): the next `razar boot` refuses it; restart RAZAR to end it now", trust.Root(), err)
	}
	acc, tok, err := trust.AccountJWT()
	if err != nil {
		return failed("%v", err)
	}
	user, seed, err := trust.SystemUser(time.Minute)
	if err != nil {
		return failed("%v", err)
	}
	if err := bus.UpdateAccount(ctx, url, user, seed, acc, tok); err != nil {
		return failed("revoked in %s, but %v: the next `razar boot` refuses it; restart RAZAR to end it now", trust.Root(), err)
	}
	fmt.Fprintln(c.stdout, "the running server refuses it now and has closed its connections")
	return nil
}

// externalControlCreds is the lifecycle listener's identity on an external
// bus: state/trust/control.creds when the operator put one there, else
// where homes before the trust root kept it (state/identities/.trust/),
// with a warning to move it.
func (c *cli) externalControlCreds() string {
	p := auth.ControlPath(c.path(identitiesDir))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	old := auth.LegacyControlPath(c.path(identitiesDir))
	if _, err := os.Stat(old); err == nil {
		fmt.Fprintf(c.stderr, "razar: warning: SECURITY: %s is inside the identities directory, which operators hand out; move it: mkdir -m 700 -p %s && mv %s %s\n", old, filepath.Dir(p), old, p)
		return old
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
