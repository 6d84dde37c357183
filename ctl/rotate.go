package ctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/agents/rotation"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/jetstream"
)

// RotateOptions are `razar rotate-keys`'s flags.
type RotateOptions struct {
	SecretsDir string        // --secrets-dir: the manifests, relative to the home
	DryRun     bool          // --dry-run: check the plan, write nothing
	Apply      bool          // --apply: open the rotation and commit it once approved
	Wait       time.Duration // --wait: how long --apply waits for the approvals
	NATS       string        // --nats: the running RAZAR's URL
	Approvers  []string      // --approver: no longer taken; refused with the way to approve
}

// RotateKeys is `razar rotate-keys --secrets-dir DIR (--dry-run | --apply [--wait 30m])`.
//
// Against a running RAZAR the rotated roster is sent to every process of
// each rotated rung (razar.agents.probe.<rung>), which says whether it can
// load the new credential in its own environment; --apply commits only
// when every rotated rung has a process and every process is ready, and
// otherwise writes nothing. With RAZAR not running the plan can only be
// checked in this command's environment, and it says so. The workflow is
// agents/rotation's; this prints it as it goes.
func (c *Client) RotateKeys(ctx context.Context, o RotateOptions) error {
	if o.SecretsDir == "" || o.DryRun == o.Apply {
		return usageErr("usage: razar rotate-keys --secrets-dir DIR (--dry-run | --apply [--wait 30m])")
	}
	if len(o.Approvers) > 0 {
		return usageErr("--approver: a name typed here approves nothing; two operator identities approve the rotation on the bus, each with `razar approve rotation <id>` (rotate-keys --apply prints the id): drop --approver")
	}
	if o.Wait <= 0 || o.Wait > rotation.TTL {
		return usageErr("--wait %v: want a duration up to %v", o.Wait, rotation.TTL)
	}
	secrets := o.SecretsDir
	if !filepath.IsAbs(secrets) {
		secrets = c.Path(secrets)
	}
	rosterPath := razar.Home(c.Home).Roster()
	old, err := os.ReadFile(rosterPath)
	if err != nil {
		return &razar.ConfigError{File: rosterPath, Msg: err.Error(), Fix: "create the roster (see docs/CONTRACT.md section 2)"}
	}
	roster, err := config.ParseRoster(rosterPath, old)
	if err != nil {
		return err
	}
	mans, err := agents.LoadManifests(secrets)
	if err != nil {
		return err
	}
	next, items, err := agents.PlanRotation(roster, mans, c.RungFor, c.Home, c.Lookup)
	if err != nil {
		return err
	}
	data, err := agents.MarshalRoster(next)
	if err != nil {
		return failed("%v", err)
	}

	nc, connErr := c.Connect(ctx, o.NATS, "razar-rotate", c.Logger())
	if connErr != nil {
		if !c.RazarDown(o.NATS) {
			return failed("%v: the running rungs cannot be asked whether they load the new credentials; nothing changed", connErr)
		}
		return c.rotateOffline(rosterPath, items, o.DryRun, connErr)
	}
	defer nc.Close()
	// RAZAR runs: the rungs' own environments decide, not this one's.
	return c.rotateOnline(ctx, &rotation.Rotation{Conn: nc, Items: items, Roster: data, Clean: cut.Sanitize}, rosterPath, old, o.DryRun, o.Wait)
}

// rotateOnline is rotate-keys with RAZAR running: the rotation's
// workflow (agents/rotation), printed as it goes.
func (c *Client) rotateOnline(ctx context.Context, r *rotation.Rotation, rosterPath string, old []byte, dry bool, wait time.Duration) error {
	answers, err := r.Probe(ctx)
	if err != nil {
		return failed("%v", err)
	}
	var problems []string
	for _, it := range r.Items {
		fmt.Fprintf(c.Stdout, "%-10s %s -> %s\n", it.Agent, rotation.OrDash(it.From), it.To())
		problems = append(problems, c.printAnswers(r, it.Agent, answers[it.Agent], "cannot run with the rotated roster")...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(c.Stderr, "razar: "+p)
		}
		c.printLiveKeyHint(r.Items)
		if dry {
			return failed("dry run: %d rotated rung process(es) would not load the new credential; nothing written", len(problems))
		}
		return failed("refusing to apply: %d rotated rung process(es) would not load the new credential; nothing changed", len(problems))
	}
	if dry {
		fmt.Fprintf(c.Stdout, "dry run: every running process of the %d rotated rung(s) loads the new credential; nothing written\n", len(r.Items))
		return nil
	}
	approval, err := r.Approve(ctx, wait, c.printOpened(wait), func(a auth.Identity) {
		fmt.Fprintf(c.Stdout, "approved by %s (%s)\n", cut.Sanitize(a.Name), a.Key)
	})
	if err != nil {
		var re *rotation.ReplyError
		if errors.As(err, &re) {
			return ReplyErr(bus.AllComponents, re.Reply, re.Err)
		}
		return failed("%v", err)
	}
	if err := r.Commit(rosterPath, old); err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.Stdout, "roster rewritten (previous kept as %s)\n", filepath.Base(rosterPath)+".prev")
	return c.rotateReload(ctx, r, approval)
}

// printOpened prints how to approve an opened rotation.
func (c *Client) printOpened(wait time.Duration) func(*rotation.Approval) {
	return func(a *rotation.Approval) {
		fmt.Fprintf(c.Stdout, "rotation %s waits for %d operator identities (up to %v), each with their own identity:\n  razar --creds state/identities/<name>.creds approve rotation %s\n  (razar reject rotation %s ends it)\n", a.ID, auth.Required, wait, a.ID, a.ID)
	}
}

// rotateReload records the committed rotation, has the rungs reload and
// prints how each came back.
func (c *Client) rotateReload(ctx context.Context, r *rotation.Rotation, approval *rotation.Approval) error {
	if err := r.Record(ctx, approval, "every running process of each rotated rung", c.Actor()); err != nil {
		fmt.Fprintf(c.Stderr, "razar: warning: could not record the rotation on the audit stream: %v\n", err)
	}
	sent, err := r.SendReload()
	if err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.Stdout, "reload sent on %s\n", bus.AgentsReload)
	store, err := jetstream.Bind(ctx, r.Conn)
	if err != nil {
		return failed("roster rewritten and reload sent, but the rungs' status cannot be read (%v): check with `razar agents check`", err)
	}
	bad := r.AwaitReload(ctx, store, sent, func(n string, st *bus.AgentStatus) {
		if st == nil {
			fmt.Fprintf(c.Stdout, "%-10s no process answered the reload\n", n)
			return
		}
		state := "ready"
		if !st.Ready {
			state = cut.Sanitize(st.Reason)
		}
		fmt.Fprintf(c.Stdout, "%-10s reloaded on %s: %s\n", n, cut.Sanitize(st.Host), state)
	})
	if bad > 0 {
		return failed("roster rewritten, but %d rotated rung(s) did not come back ready; `razar agents check` says why (the previous roster is %s)", bad, razar.Home("").RosterPrev())
	}
	return nil
}

// rotateOffline is rotate-keys with RAZAR not running: the plan is checked
// in this command's environment, the only one at hand, and the output says
// that the rungs could not be asked. --apply is refused: a rotation is
// approved by two operator identities on the bus, and there is none.
func (c *Client) rotateOffline(rosterPath string, items []agents.RotationItem, dry bool, why error) error {
	bad := 0
	for _, it := range items {
		state := "set"
		if !it.Set {
			state = "NOT SET"
		}
		line := fmt.Sprintf("%-10s %s -> %s (%s here)", it.Agent, rotation.OrDash(it.From), it.To(), state)
		if it.Err != nil {
			bad++
			line += ": " + c.Redactor().Redact(it.Err.Error())
		} else {
			line += ": loads"
		}
		fmt.Fprintln(c.Stdout, line)
	}
	fmt.Fprintf(c.Stderr, "razar: warning: %v\nrazar: warning: the running rungs could not be asked: the new credentials were checked in this shell's environment only, which need not be the rungs'\n", why)
	if !dry {
		return failed("refusing to apply with RAZAR not running: a rotation is approved by two operator identities on the bus (`razar approve rotation <id>`), and there is no bus; start RAZAR (`razar boot`) and run it again; nothing changed (%s untouched)", rosterPath)
	}
	fmt.Fprintf(c.Stdout, "dry run: the rotated roster is valid; nothing written (%d agent(s), %d problem(s) in this shell's environment)\n", len(items), bad)
	if bad > 0 {
		return failed("%d new credential(s) would not load here", bad)
	}
	return nil
}

// printAnswers prints one line per process of rung and returns one line
// per problem (rotation.Rotation.Problems): no process answers, or a
// process is not ready.
func (c *Client) printAnswers(r *rotation.Rotation, rung string, answers []bus.ProbeReply, notReady string) []string {
	if len(answers) == 0 {
		fmt.Fprintf(c.Stdout, "%-10s   no running process answers\n", "")
	}
	for _, a := range answers {
		if a.Ready {
			fmt.Fprintf(c.Stdout, "%-10s   process %s: ready\n", "", cut.Sanitize(a.Host))
			continue
		}
		fmt.Fprintf(c.Stdout, "%-10s   process %s: NOT READY: %s\n", "", cut.Sanitize(a.Host), cut.Sanitize(c.Redactor().Redact(a.Reason)))
	}
	return r.Problems(rung, answers, notReady, c.Redactor().Redact)
}

// printLiveKeyHint says, after running rungs refused a rotation to a new
// variable, how to rotate without a restart: a running rung sees only the
// environment it started with, so "export" in a shell never reaches it,
// while a key file named by the manifest is read at every reload.
func (c *Client) printLiveKeyHint(items []agents.RotationItem) {
	for _, it := range items {
		if it.Env == "" {
			continue
		}
		fmt.Fprintf(c.Stderr, "razar: hint: a running rung sees only the environment it started with, so exporting %s now does not reach it; "+
			"write the new key to a file only RAZAR's user can read and name it in the manifest instead, read at every reload: "+
			"{\"agents\": [{\"name\": %q, \"file\": \"secrets/%s.key\"}]} (or an absolute path, e.g. under $CREDENTIALS_DIRECTORY)\n", it.Env, it.Agent, it.Agent)
	}
}
