package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/jetstream"
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
	roster, err := razar.ParseRoster(rosterPath, old)
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
	if len(data) > bus.MaxProbeRosterBytes {
		return failed("the rotated roster is %d bytes, over the %d a probe carries; nothing changed", len(data), bus.MaxProbeRosterBytes)
	}
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.Agent
	}
	answers, err := c.probeRungs(ctx, nc, names, data)
	if err != nil {
		return failed("ask the running rungs: %v; nothing changed", err)
	}
	var problems []string
	for _, it := range items {
		fmt.Fprintf(c.stdout, "%-10s %s -> %s\n", it.Agent, orDash(it.From), it.To())
		problems = append(problems, c.printAnswers(it.Agent, answers[it.Agent], "cannot run with the rotated roster")...)
	}
	if *dry {
		if len(problems) > 0 {
			c.printProblems(problems)
			c.printLiveKeyHint(items)
			return failed("dry run: %d rotated rung process(es) would not load the new credential; nothing written", len(problems))
		}
		fmt.Fprintf(c.stdout, "dry run: every running process of the %d rotated rung(s) loads the new credential; nothing written\n", len(items))
		return nil
	}
	if len(problems) > 0 {
		c.printProblems(problems)
		c.printLiveKeyHint(items)
		return failed("refusing to apply: %d rotated rung process(es) would not load the new credential; nothing changed", len(problems))
	}
	approval, err := c.awaitRotationApproval(ctx, nc, items, data, *wait)
	if err != nil {
		return err
	}
	if err := commitRoster(rosterPath, old, data); err != nil {
		return failed("%v", err)
	}
	fmt.Fprintf(c.stdout, "roster rewritten (previous kept as %s)\n", filepath.Base(rosterPath)+".prev")
	rec := c.rotationRecord(items, approval, "every running process of each rotated rung")
	if _, err := bus.Command(ctx, nc, bus.VerbRecord, bus.AllComponents, &bus.LifecycleRequest{Record: rec}); err != nil {
		fmt.Fprintf(c.stderr, "razar: warning: could not record the rotation on the audit stream: %v\n", err)
	}
	sent := time.Now().Add(-time.Second) // tolerate a little clock skew
	if err := nc.Publish(bus.AgentsReload, nil); err != nil || nc.Flush() != nil {
		return failed("roster rewritten, but the reload could not be sent (%v): run `razar agents reload`", err)
	}
	fmt.Fprintf(c.stdout, "reload sent on %s\n", bus.AgentsReload)
	store, err := jetstream.Bind(ctx, nc)
	if err != nil {
		return failed("roster rewritten and reload sent, but the rungs' status cannot be read (%v): check with `razar agents check`", err)
	}
	if bad := c.awaitReload(ctx, store, names, sent); bad > 0 {
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

// rotationApproval is a rotation as the orchestrator answers about it.
type rotationApproval struct {
	auth.Request
	State string `json:"state"`
}

// awaitRotationApproval opens the rotation of the rotated roster data on
// the bus and waits, up to wait, for two operator identities to approve
// it. A rejection, the end of its time or of wait is an error: nothing
// changed.
func (c *cli) awaitRotationApproval(ctx context.Context, nc *bus.Conn, items []agents.RotationItem, data []byte, wait time.Duration) (*rotationApproval, error) {
	var plan []string
	for _, it := range items {
		plan = append(plan, fmt.Sprintf("%s: %s -> %s", it.Agent, orDash(it.From), it.To()))
	}
	sum := sha256.Sum256(data)
	rep, err := bus.Command(ctx, nc, bus.VerbRotation, bus.AllComponents, &bus.LifecycleRequest{Summary: strings.Join(plan, "; "), Digest: hex.EncodeToString(sum[:])})
	if err != nil {
		return nil, replyErr(bus.AllComponents, rep, fmt.Errorf("open the rotation: %w; nothing changed", err))
	}
	var a rotationApproval
	if err := json.Unmarshal(rep.Data, &a); err != nil || a.ID == "" {
		return nil, failed("the orchestrator's answer to the rotation names no rotation; nothing changed")
	}
	fmt.Fprintf(c.stdout, "rotation %s waits for %d operator identities (up to %v), each with their own identity:\n  razar --creds state/identities/<name>.creds approve rotation %s\n  (razar reject rotation %s ends it)\n", a.ID, auth.Required, wait, a.ID, a.ID)
	deadline := time.Now().Add(wait)
	seen := 0
	for a.State == "pending" {
		if !time.Now().Before(deadline) {
			return nil, failed("rotation %s: no second approval within %v; nothing changed", a.ID, wait)
		}
		wctx, cancel := context.WithTimeout(ctx, rotationWaitMax+5*time.Second)
		rep, err := bus.Command(wctx, nc, bus.VerbRotationWait, bus.AllComponents, &bus.LifecycleRequest{Patch: a.ID})
		cancel()
		if ctx.Err() != nil {
			return nil, failed("rotation %s: interrupted; nothing changed", a.ID)
		}
		if err != nil {
			return nil, replyErr(bus.AllComponents, rep, fmt.Errorf("rotation %s: %w; nothing changed", a.ID, err))
		}
		if err := json.Unmarshal(rep.Data, &a); err != nil {
			return nil, failed("rotation %s: %v; nothing changed", a.ID, err)
		}
		for ; seen < len(a.Approvers); seen++ {
			fmt.Fprintf(c.stdout, "approved by %s (%s)\n", sanitize(a.Approvers[seen].Name), a.Approvers[seen].Key)
		}
	}
	if a.State != "approved" {
		who := ""
		if a.Rejected != nil {
			who = " by " + sanitize(a.Rejected.String())
		}
		return nil, failed("rotation %s %s%s; nothing changed", a.ID, a.State, who)
	}
	return &a, nil
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

// rotationRecord is the audit record of an applied rotation: who ran it
// (the OS user and host), who approved it, what changed and how the new
// credentials were checked.
func (c *cli) rotationRecord(items []agents.RotationItem, approval *rotationApproval, checked string) *bus.AuditRecord {
	type change struct {
		Agent string `json:"agent"`
		From  string `json:"from,omitempty"`
		Env   string `json:"env,omitempty"`
		File  string `json:"file,omitempty"`
	}
	var changes []string
	data := struct {
		// Rotation and Digest name the approved rotation; the orchestrator
		// records its approvers (names and keys) from the approvals it
		// received, not from this.
		Rotation  string          `json:"rotation"`
		Digest    string          `json:"digest"`
		Approvers []auth.Identity `json:"approvers"`
		// RunBy is the OS account of the process, from its uid (the
		// actor comes from $USER, which the caller sets).
		RunBy   string   `json:"run_by"`
		Changes []change `json:"changes"`
		Checked string   `json:"checked"`
	}{Rotation: approval.ID, Digest: approval.Digest, Approvers: approval.Approvers, RunBy: osAccount(), Checked: checked}
	var approved []string
	for _, a := range approval.Approvers {
		approved = append(approved, a.Name+" ("+a.Key+")")
	}
	for _, it := range items {
		to := it.Env
		if it.File != "" {
			to = agents.FileRef + it.File
		}
		changes = append(changes, it.Agent+":"+to)
		data.Changes = append(data.Changes, change{Agent: it.Agent, From: it.From, Env: it.Env, File: it.File})
	}
	raw, _ := json.Marshal(data)
	rec := &bus.AuditRecord{Event: bus.EventRotation, Component: bus.SystemComponent, Actor: c.actor(), Status: "applied",
		Message: fmt.Sprintf("credentials rotated: %s; rotation %s approved by %s; run by %s", strings.Join(changes, " "), approval.ID, strings.Join(approved, " and "), c.actor()),
		Data:    raw}
	rec.Stamp(time.Now())
	return rec
}

// osAccount names the OS account this process runs as: "name (uid N)@host".
func osAccount() string {
	name := "?"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	h, _ := os.Hostname()
	return fmt.Sprintf("%s (uid %d)@%s", name, os.Getuid(), h)
}

// commitRoster replaces the roster with data, keeping old as .prev. It
// refuses when the roster is no longer old (another change came in while
// the rotation was checked), and a failure leaves both files as they were.
func commitRoster(rosterPath string, old, data []byte) error {
	cur, err := os.ReadFile(rosterPath)
	if err != nil {
		return fmt.Errorf("re-read %s: %v; nothing changed", rosterPath, err)
	}
	if !bytes.Equal(cur, old) {
		return fmt.Errorf("%s changed while the rotation was checked; nothing changed (run it again)", rosterPath)
	}
	prev := rosterPath + ".prev"
	oldPrev, prevErr := os.ReadFile(prev)
	if err := homedir.WriteAtomic(prev, old, 0o640); err != nil {
		return fmt.Errorf("keep the previous roster: %v; nothing changed", err)
	}
	if err := homedir.WriteAtomic(rosterPath, data, 0o640); err != nil {
		if prevErr == nil {
			_ = homedir.WriteAtomic(prev, oldPrev, 0o640)
		} else {
			_ = os.Remove(prev)
		}
		return fmt.Errorf("rewrite %s: %v; nothing changed", rosterPath, err)
	}
	return nil
}

// probeRungs asks every process of each rung at once, with the candidate
// roster (nil: the roster as it is), and returns the answers by rung.
func (c *cli) probeRungs(ctx context.Context, nc *bus.Conn, names []string, candidate []byte) (map[string][]bus.ProbeReply, error) {
	type result struct {
		rung    string
		answers []bus.ProbeReply
		err     error
	}
	ch := make(chan result, len(names))
	for _, n := range names {
		go func() {
			a, err := bus.Probe(ctx, nc, n, &bus.ProbeRequest{Roster: candidate}, 0)
			ch <- result{n, a, err}
		}()
	}
	out := map[string][]bus.ProbeReply{}
	var errs []error
	for range names {
		r := <-ch
		out[r.rung] = r.answers
		errs = append(errs, r.err)
	}
	return out, errors.Join(errs...)
}

// printAnswers prints one line per process of rung and returns one line
// per problem: no process answers, or a process is not ready (what it
// says, from the bus, made safe to print).
func (c *cli) printAnswers(rung string, answers []bus.ProbeReply, notReady string) []string {
	if len(answers) == 0 {
		fmt.Fprintf(c.stdout, "%-10s   no running process answers\n", "")
		return []string{fmt.Sprintf("%s: no running process of the rung answers on %s (start `razar agent %s`, or `razar boot` with --agents inproc)", rung, bus.ProbeSubject(rung), rung)}
	}
	var problems []string
	for _, a := range answers {
		if a.Ready {
			fmt.Fprintf(c.stdout, "%-10s   process %s: ready\n", "", sanitize(a.Host))
			continue
		}
		reason := sanitize(c.redactor().Redact(a.Reason))
		fmt.Fprintf(c.stdout, "%-10s   process %s: NOT READY: %s\n", "", sanitize(a.Host), reason)
		problems = append(problems, fmt.Sprintf("%s: process %s %s, in its own environment: %s", rung, sanitize(a.Host), notReady, reason))
	}
	return problems
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

// awaitReload waits up to 5 s for each rung's readiness record to pass
// sent, prints it, and returns how many did not come back ready.
func (c *cli) awaitReload(ctx context.Context, store *jetstream.Store, names []string, sent time.Time) int {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	bad := 0
	for _, n := range names {
		for {
			st, err := store.AgentStatus(wctx, n)
			if err == nil && st.Updated.After(sent) {
				state := "ready"
				if !st.Ready {
					state, bad = sanitize(st.Reason), bad+1
				}
				fmt.Fprintf(c.stdout, "%-10s reloaded on %s: %s\n", n, sanitize(st.Host), state)
				break
			}
			select {
			case <-wctx.Done():
				bad++
				fmt.Fprintf(c.stdout, "%-10s no process answered the reload\n", n)
			case <-time.After(100 * time.Millisecond):
				continue
			}
			break
		}
	}
	return bad
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
