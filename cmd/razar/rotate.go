package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/agents/rotation"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream"
)

// The rotation verbs' limit and ids, as the running RAZAR answers them.
const (
	rotationTTL    = rotation.TTL
	rotationPrefix = rotation.Prefix
)

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

const rotateHelp = `A manifest entry names the new key's variable ("env") or a file holding
it, relative to the home ("file"; the roster then reads ${file:PATH}, which a
running rung picks up on reload). With RAZAR running, every process of each
rotated rung is asked, with the rotated roster, whether it loads the new
credential in its own environment. --apply then opens a rotation on the
bus and waits (--wait, default 30m) for two distinct operator identities to
approve it, each with their own creds file:

  razar --creds state/identities/alice.creds approve rotation <id>
  razar --creds state/identities/bob.creds approve rotation <id>
  (razar reject rotation <id> ends it)

Two approvals by one identity, or by two identities with one name, count
once. Once approved it rewrites the roster (keeping
config/razar_ai_agents.json.prev), records a rotation audit record (run by
this OS user, approved by both identities, names and public keys) and
reloads the rungs. When a process is not ready, it writes nothing and exits
1, one line per process that is not ready, or per rung with none running.
With RAZAR not running, --dry-run checks the plan in this shell's
environment only, and --apply is refused: nobody can approve it.

A manifest entry whose new key is another rung's variable or file (k2 given
RSTAR_API_KEY) is refused unless it says "shared_key": true.
`

// rotateKeys is `razar rotate-keys --secrets-dir DIR (--dry-run | --apply [--wait 30m])`.
//
// Against a running RAZAR the rotated roster is sent to every process of
// each rotated rung (razar.agents.probe.<rung>), which says whether it can
// load the new credential in its own environment; --apply commits only
// when every rotated rung has a process and every process is ready, and
// otherwise writes nothing. With RAZAR not running the plan can only be
// checked in this command's environment, and it says so.
func (c *cli) rotateKeys(ctx context.Context, args []string) error {
	fs := c.newFlags("rotate-keys")
	dir := fs.String("secrets-dir", "", "`DIR` of rotation manifests (*.json, *.yaml), relative to the home")
	dry := fs.Bool("dry-run", false, "print the plan and check it (with the running rungs when RAZAR runs); write nothing")
	apply := fs.Bool("apply", false, "open the rotation, wait for two operator identities to approve it, then rewrite the roster")
	wait := fs.Duration("wait", 30*time.Minute, "how long --apply waits for the approvals (at most 30m)")
	natsURL := fs.String("nats", "", "NATS `URL` of the running RAZAR")
	var approvers multiFlag
	fs.Var(&approvers, "approver", "no longer taken: two operator identities approve on the bus (razar approve rotation <id>)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *dir == "" || *dry == *apply {
		return usageErr("usage: razar rotate-keys --secrets-dir DIR (--dry-run | --apply [--wait 30m])")
	}
	if len(approvers) > 0 {
		return usageErr("--approver: a name typed here approves nothing; two operator identities approve the rotation on the bus, each with `razar approve rotation <id>` (rotate-keys --apply prints the id): drop --approver")
	}
	if *wait <= 0 || *wait > rotationTTL {
		return usageErr("--wait %v: want a duration up to %v", *wait, rotationTTL)
	}
	secrets := *dir
	if !filepath.IsAbs(secrets) {
		secrets = c.path(secrets)
	}
	rosterPath := c.path(rosterFile)
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
	next, items, err := agents.PlanRotation(roster, mans, rungFor, c.home, c.lookup)
	if err != nil {
		return err
	}
	data, err := agents.MarshalRoster(next)
	if err != nil {
		return failed("%v", err)
	}

	nc, connErr := c.connect(ctx, *natsURL, "razar-rotate", c.cliLogger())
	if connErr != nil {
		if !c.razarDown(*natsURL) {
			return failed("%v: the running rungs cannot be asked whether they load the new credentials; nothing changed", connErr)
		}
		return c.rotateOffline(rosterPath, items, *dry, connErr)
	}
	defer nc.Close()
	// RAZAR runs: the rungs' own environments decide, not this one's.
	return c.rotateOnline(ctx, &rotation.Rotation{Conn: nc, Items: items, Roster: data, Clean: sanitize}, rosterPath, old, *dry, *wait)
}

// rotateOnline is rotate-keys with RAZAR running: the rotation's
// workflow (agents/rotation), printed as it goes.
func (c *cli) rotateOnline(ctx context.Context, r *rotation.Rotation, rosterPath string, old []byte, dry bool, wait time.Duration) error {
	answers, err := r.Probe(ctx)
	if err != nil {
		return failed("%v", err)
	}
	var problems []string
	for _, it := range r.Items {
		fmt.Fprintf(c.stdout, "%-10s %s -> %s\n", it.Agent, orDash(it.From), it.To())
		problems = append(problems, c.printAnswers(r, it.Agent, answers[it.Agent], "cannot run with the rotated roster")...)
	}
	if len(problems) > 0 {
		c.printProblems(problems)
		c.printLiveKeyHint(r.Items)
		if dry {
			return failed("dry run: %d rotated rung process(es) would not load the new credential; nothing written", len(problems))
		}
		return failed("refusing to apply: %d rotated rung process(es) would not load the new credential; nothing changed", len(problems))
	}
	if dry {
		fmt.Fprintf(c.stdout, "dry run: every running process of the %d rotated rung(s) loads the new credential; nothing written\n", len(r.Items))
		return nil
	}
	approval, err := r.Approve(ctx, wait, c.printOpened(wait), func(a auth.Identity) {
		fmt.Fprintf(c.stdout, "approved by %s (%s)\n", sanitize(a.Name), a.Key)
	})
	if err != nil {
		var re *rotation.ReplyError
		if errors.As(err, &re) {
			return replyErr(bus.AllComponents, re.Reply, re.Err)
		}
		return failed("%v", err)
	}
	if err := r.Commit(rosterPath, old); err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.stdout, "roster rewritten (previous kept as %s)\n", filepath.Base(rosterPath)+".prev")
	return c.rotateReload(ctx, r, approval)
}

// printOpened prints how to approve an opened rotation.
func (c *cli) printOpened(wait time.Duration) func(*rotation.Approval) {
	return func(a *rotation.Approval) {
		fmt.Fprintf(c.stdout, "rotation %s waits for %d operator identities (up to %v), each with their own identity:\n  razar --creds state/identities/<name>.creds approve rotation %s\n  (razar reject rotation %s ends it)\n", a.ID, auth.Required, wait, a.ID, a.ID)
	}
}

// rotateReload records the committed rotation, has the rungs reload and
// prints how each came back.
func (c *cli) rotateReload(ctx context.Context, r *rotation.Rotation, approval *rotation.Approval) error {
	if err := r.Record(ctx, approval, "every running process of each rotated rung", c.actor()); err != nil {
		fmt.Fprintf(c.stderr, "razar: warning: could not record the rotation on the audit stream: %v\n", err)
	}
	sent, err := r.SendReload()
	if err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.stdout, "reload sent on %s\n", bus.AgentsReload)
	store, err := jetstream.Bind(ctx, r.Conn)
	if err != nil {
		return failed("roster rewritten and reload sent, but the rungs' status cannot be read (%v): check with `razar agents check`", err)
	}
	bad := r.AwaitReload(ctx, store, sent, func(n string, st *bus.AgentStatus) {
		if st == nil {
			fmt.Fprintf(c.stdout, "%-10s no process answered the reload\n", n)
			return
		}
		state := "ready"
		if !st.Ready {
			state = sanitize(st.Reason)
		}
		fmt.Fprintf(c.stdout, "%-10s reloaded on %s: %s\n", n, sanitize(st.Host), state)
	})
	if bad > 0 {
		return failed("roster rewritten, but %d rotated rung(s) did not come back ready; `razar agents check` says why (the previous roster is %s.prev)", bad, rosterFile)
	}
	return nil
}

// rotateOffline is rotate-keys with RAZAR not running: the plan is checked
// in this command's environment, the only one at hand, and the output says
// that the rungs could not be asked. --apply is refused: a rotation is
// approved by two operator identities on the bus, and there is none.
func (c *cli) rotateOffline(rosterPath string, items []agents.RotationItem, dry bool, why error) error {
	bad := 0
	for _, it := range items {
		state := "set"
		if !it.Set {
			state = "NOT SET"
		}
		line := fmt.Sprintf("%-10s %s -> %s (%s here)", it.Agent, orDash(it.From), it.To(), state)
		if it.Err != nil {
			bad++
			line += ": " + c.redactor().Redact(it.Err.Error())
		} else {
			line += ": loads"
		}
		fmt.Fprintln(c.stdout, line)
	}
	fmt.Fprintf(c.stderr, "razar: warning: %v\nrazar: warning: the running rungs could not be asked: the new credentials were checked in this shell's environment only, which need not be the rungs'\n", why)
	if !dry {
		return failed("refusing to apply with RAZAR not running: a rotation is approved by two operator identities on the bus (`razar approve rotation <id>`), and there is no bus; start RAZAR (`razar boot`) and run it again; nothing changed (%s untouched)", rosterPath)
	}
	fmt.Fprintf(c.stdout, "dry run: the rotated roster is valid; nothing written (%d agent(s), %d problem(s) in this shell's environment)\n", len(items), bad)
	if bad > 0 {
		return failed("%d new credential(s) would not load here", bad)
	}
	return nil
}

// razarDown reports whether, after a failed connect, RAZAR is known not to
// run from this home: no bus was named (--nats, $RAZAR_NATS_URL) and either
// there is no state/nats.url or the store it belongs to is not locked by a
// running `razar boot` (one killed leaves its URL file behind). A bus that
// was named, or a store still in use, is a RAZAR that runs but cannot be
// reached: nothing may be judged without it.
func (c *cli) razarDown(flagURL string) bool {
	if flagURL != "" || c.getenv("RAZAR_NATS_URL") != "" {
		return false
	}
	if _, err := os.Stat(c.path(natsURLFile)); errors.Is(err, os.ErrNotExist) {
		return true
	}
	unlock, err := jetstream.LockStore(c.path(stateDir))
	if err != nil {
		return false
	}
	unlock()
	return true
}

// probeRungs asks every process of each rung at once, with the candidate
// roster (nil: the roster as it is), and returns the answers by rung.
func (c *cli) probeRungs(ctx context.Context, nc *bus.Conn, names []string, candidate []byte) (map[string][]bus.ProbeReply, error) {
	return rotation.ProbeRungs(ctx, nc, names, candidate)
}

// printAnswers prints one line per process of rung and returns one line
// per problem (rotation.Rotation.Problems): no process answers, or a
// process is not ready.
func (c *cli) printAnswers(r *rotation.Rotation, rung string, answers []bus.ProbeReply, notReady string) []string {
	if len(answers) == 0 {
		fmt.Fprintf(c.stdout, "%-10s   no running process answers\n", "")
	}
	for _, a := range answers {
		if a.Ready {
			fmt.Fprintf(c.stdout, "%-10s   process %s: ready\n", "", sanitize(a.Host))
			continue
		}
		fmt.Fprintf(c.stdout, "%-10s   process %s: NOT READY: %s\n", "", sanitize(a.Host), sanitize(c.redactor().Redact(a.Reason)))
	}
	return r.Problems(rung, answers, notReady, c.redactor().Redact)
}

// printLiveKeyHint says, after running rungs refused a rotation to a new
// variable, how to rotate without a restart: a running rung sees only the
// environment it started with, so "export" in a shell never reaches it,
// while a key file named by the manifest is read at every reload.
func (c *cli) printLiveKeyHint(items []agents.RotationItem) {
	for _, it := range items {
		if it.Env == "" {
			continue
		}
		fmt.Fprintf(c.stderr, "razar: hint: a running rung sees only the environment it started with, so exporting %s now does not reach it; "+
			"write the new key to a file only RAZAR's user can read and name it in the manifest instead, read at every reload: "+
			"{\"agents\": [{\"name\": %q, \"file\": \"secrets/%s.key\"}]} (or an absolute path, e.g. under $CREDENTIALS_DIRECTORY)\n", it.Env, it.Agent, it.Agent)
	}
}

func (c *cli) printProblems(problems []string) {
	for _, p := range problems {
		fmt.Fprintln(c.stderr, "razar: "+p)
	}
}

func orDash(s string) string { return rotation.OrDash(s) }
