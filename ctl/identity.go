package ctl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/cut"
)

// IdentityAddOptions are `razar identity add`'s.
type IdentityAddOptions struct {
	Name    string
	Role    string // --role: operator, observer or rung
	Expires string // --expires: an age (30d) or a Go duration (12h)
}

// IdentityAdd mints a NATS identity of the home
// (state/identities/<name>.creds) and prints where it is.
func (c *Client) IdentityAdd(_ context.Context, o IdentityAddOptions) error {
	life, err := config.ParseAge(o.Expires)
	if err != nil || life <= 0 || life > auth.MaxExpiry {
		return usageErr("--expires %q: want a positive age of at most 730d, such as 30d or 12h (an identity that never ends cannot be minted by hand)", o.Expires)
	}
	expires := time.Now().Add(life)
	r, err := auth.ParseRole(o.Role)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := auth.ValidName(o.Name); err != nil {
		return usageErr("%v", err)
	}
	name, rungs, err := c.identityName(o.Name, r)
	if err != nil {
		return err
	}
	trust, err := auth.Open(c.home().Identities())
	if err != nil {
		return failed("%v", err)
	}
	path, err := trust.Mint(name, r, rungs, expires)
	if err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.Stdout, "identity %s (%s), expires %s: %s\n", name, r, expires.UTC().Format(time.RFC3339), path)
	fmt.Fprintf(c.Stdout, "use it with: nats --creds %s ... or razar --creds %s ...\n", path, path)
	return nil
}

// identityName checks the name of a new identity of role r against the
// roster (a rung identity is named after its rung) and the reserved names,
// and returns it with the roster's rungs.
func (c *Client) identityName(name string, r auth.Role) (string, []string, error) {
	roster, rerr := config.LoadRoster(c.home().Roster())
	var rungs []string
	if rerr == nil {
		for _, a := range roster.Agents {
			rungs = append(rungs, a.Name)
		}
	}
	if r == auth.Rung {
		if rerr != nil {
			return "", nil, rerr
		}
		if _, err := roster.Agent(name); err != nil {
			return "", nil, usageErr("rung %q is not in %s: a rung identity is named after its rung (one of %s)", name, c.home().Roster(), AgentNames(roster))
		}
		name = strings.ToLower(name)
	}
	if reserved(name) && r != auth.Rung {
		return "", nil, usageErr("%q is a reserved identity name; pick another (alice, ops-2, ...)", name)
	}
	return name, rungs, nil
}

// reserved names are the standard identities Ensure mints.
func reserved(name string) bool {
	switch strings.ToLower(name) {
	case string(auth.Orchestrator), string(auth.Operator), string(auth.Observer), "control":
		return true
	}
	return false
}

// IdentityList prints the identities of the home: name, role, public
// key, expiry and revocation.
func (c *Client) IdentityList(context.Context) error {
	dir := c.home().Identities()
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
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tKEY\tEXPIRES\tREVOKED")
	for _, e := range list {
		if e.Err != nil {
			fmt.Fprintf(tw, "%s\t?\t-\t-\t-\t%s\n", cut.Sanitize(e.Name), cut.Sanitize(e.Err.Error()))
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cut.Sanitize(e.Name), cut.Sanitize(string(e.Role)), e.Key, expires, revoked)
	}
	return tw.Flush()
}

// IdentityRevoke ends an identity: it goes on the revocation list in the
// trust root, its creds file is removed, and, with RAZAR running, the
// account's new JWT is handed to the running server, which refuses the
// identity from then on and closes its open connections.
func (c *Client) IdentityRevoke(ctx context.Context, name, natsURL string) error {
	dir := c.home().Identities()
	if !auth.HasTrust(dir) {
		return failed("no identities in %s: nothing to revoke (an external bus's identities are revoked where they were signed, e.g. `nsc revocations add-user`)", dir)
	}
	down := c.RazarDown(natsURL)
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
	fmt.Fprintf(c.Stdout, "identity %s (%s, %s) revoked %s\n", r.Name, r.Role, r.Key, r.At.Format(time.RFC3339))
	if down {
		fmt.Fprintln(c.Stdout, "RAZAR is not running: the next `razar boot` refuses it")
		return nil
	}
	url, err := c.BusURL(natsURL)
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
	fmt.Fprintln(c.Stdout, "the running server refuses it now and has closed its connections")
	return nil
}

// ExternalControlCreds is the lifecycle listener's identity on an external
// bus: state/trust/control.creds when the operator put one there, else
// where homes before the trust root kept it (state/identities/.trust/),
// with a warning to move it.
func (c *Client) ExternalControlCreds() string {
	p := auth.ControlPath(c.home().Identities())
	if _, err := os.Stat(p); err == nil {
		return p
	}
	old := auth.LegacyControlPath(c.home().Identities())
	if _, err := os.Stat(old); err == nil {
		fmt.Fprintf(c.Stderr, "razar: warning: SECURITY: %s is inside the identities directory, which operators hand out; move it: mkdir -m 700 -p %s && mv %s %s\n", old, filepath.Dir(p), old, p)
		return old
	}
	return ""
}

// offlineTrust is the trust of the private server a command starts to read
// the store while RAZAR is stopped. A home that never booted has none to
// read, so it is an error, not a fresh set of keys.
func (c *Client) offlineTrust() (*auth.ServerTrust, error) {
	if !auth.HasTrust(c.home().Identities()) {
		return nil, failed("no identities in %s: the store was not written by this RAZAR home's `razar boot`", c.home().Identities())
	}
	t, err := auth.Open(c.home().Identities())
	if err != nil {
		return nil, failed("%v", err)
	}
	st, err := t.Server()
	if err != nil {
		return nil, failed("%v", err)
	}
	return st, nil
}
