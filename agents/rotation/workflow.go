package rotation

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
	"strings"
	"time"

	"github.com/razar/razar/agents"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/jetstream"
)

// Rotation is the workflow of `razar rotate-keys` against a running RAZAR:
// the rotated roster is checked by every process of each rotated rung
// (Probe), opened on the bus and approved by two operator identities
// (Approve), committed keeping the previous roster (Commit), recorded
// (Record) and reloaded (SendReload, AwaitReload). Each step that fails
// leaves the roster as it was, up to Commit. What it reports goes through
// the callbacks of each step; printing is the caller's.
type Rotation struct {
	// Conn is the caller's connection to the running RAZAR, as an operator.
	Conn *bus.Conn
	// Items are the rotation's changes, one per rotated rung.
	Items []agents.RotationItem
	// Roster is the rotated roster, as it will be written.
	Roster []byte
	// Clean makes text from the bus safe to show (nil: as is).
	Clean func(string) string
}

// Approval is a rotation as the orchestrator answers about it.
type Approval struct {
	auth.Request
	State string `json:"state"`
}

// ReplyError is a rotation verb the running RAZAR refused; Reply is its
// answer (nil when none came), which says whether the request was bad.
type ReplyError struct {
	Reply *bus.LifecycleReply
	Err   error
}

// Error is the refusal's message.
func (e *ReplyError) Error() string { return e.Err.Error() }

// Unwrap is the refusal.
func (e *ReplyError) Unwrap() error { return e.Err }

func (r *Rotation) clean(s string) string {
	if r.Clean == nil {
		return s
	}
	return r.Clean(s)
}

// Names are the rotated rungs.
func (r *Rotation) Names() []string {
	names := make([]string, len(r.Items))
	for i, it := range r.Items {
		names[i] = it.Agent
	}
	return names
}

// Probe asks every process of each rotated rung whether it loads the
// rotated roster in its own environment, and returns the answers by rung.
func (r *Rotation) Probe(ctx context.Context) (map[string][]bus.ProbeReply, error) {
	if len(r.Roster) > bus.MaxProbeRosterBytes {
		return nil, fmt.Errorf("the rotated roster is %d bytes, over the %d a probe carries; nothing changed", len(r.Roster), bus.MaxProbeRosterBytes)
	}
	answers, err := ProbeRungs(ctx, r.Conn, r.Names(), r.Roster)
	if err != nil {
		return nil, fmt.Errorf("ask the running rungs: %v; nothing changed", err)
	}
	return answers, nil
}

// ProbeRungs asks every process of each rung at once, with the candidate
// roster (nil: the roster as it is), and returns the answers by rung.
func ProbeRungs(ctx context.Context, nc *bus.Conn, names []string, candidate []byte) (map[string][]bus.ProbeReply, error) {
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

// Problems are the lines of a rung's answers that stop a rotation: no
// process answers, or a process is not ready (what it says, redacted and
// made safe to show).
func (r *Rotation) Problems(rung string, answers []bus.ProbeReply, notReady string, redact func(string) string) []string {
	if len(answers) == 0 {
		return []string{fmt.Sprintf("%s: no running process of the rung answers on %s (start `razar agent %s`, or `razar boot` with --agents inproc)", rung, bus.ProbeSubject(rung), rung)}
	}
	var problems []string
	for _, a := range answers {
		if !a.Ready {
			problems = append(problems, fmt.Sprintf("%s: process %s %s, in its own environment: %s", rung, r.clean(a.Host), notReady, r.clean(redact(a.Reason))))
		}
	}
	return problems
}

// Approve opens the rotation on the bus and waits, up to wait, for two
// operator identities to approve it; opened is told of the open rotation,
// approved of each approver as it comes. A rejection, the end of its time
// or of wait is an error (a *ReplyError for a refused verb): nothing
// changed.
func (r *Rotation) Approve(ctx context.Context, wait time.Duration, opened func(*Approval), approved func(auth.Identity)) (*Approval, error) {
	a, err := r.open(ctx)
	if err != nil {
		return nil, err
	}
	opened(a)
	deadline := time.Now().Add(wait)
	seen := 0
	for a.State == "pending" {
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("rotation %s: no second approval within %v; nothing changed", a.ID, wait)
		}
		if a, err = r.wait(ctx, a.ID); err != nil {
			return nil, err
		}
		for ; seen < len(a.Approvers); seen++ {
			approved(a.Approvers[seen])
		}
	}
	if a.State != "approved" {
		who := ""
		if a.Rejected != nil {
			who = " by " + r.clean(a.Rejected.String())
		}
		return nil, fmt.Errorf("rotation %s %s%s; nothing changed", a.ID, a.State, who)
	}
	return a, nil
}

// open opens the rotation: its plan and the rotated roster's digest.
func (r *Rotation) open(ctx context.Context) (*Approval, error) {
	var plan []string
	for _, it := range r.Items {
		plan = append(plan, fmt.Sprintf("%s: %s -> %s", it.Agent, OrDash(it.From), it.To()))
	}
	sum := sha256.Sum256(r.Roster)
	rep, err := bus.Command(ctx, r.Conn, bus.VerbRotation, bus.AllComponents, &bus.LifecycleRequest{Summary: strings.Join(plan, "; "), Digest: hex.EncodeToString(sum[:])})
	if err != nil {
		return nil, &ReplyError{rep, fmt.Errorf("open the rotation: %w; nothing changed", err)}
	}
	var a Approval
	if err := json.Unmarshal(rep.Data, &a); err != nil || a.ID == "" {
		return nil, errors.New("the orchestrator's answer to the rotation names no rotation; nothing changed")
	}
	return &a, nil
}

// wait asks for rotation id once it is decided, or after WaitMax.
func (r *Rotation) wait(ctx context.Context, id string) (*Approval, error) {
	wctx, cancel := context.WithTimeout(ctx, WaitMax+5*time.Second)
	rep, err := bus.Command(wctx, r.Conn, bus.VerbRotationWait, bus.AllComponents, &bus.LifecycleRequest{Patch: id})
	cancel()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("rotation %s: interrupted; nothing changed", id)
	}
	if err != nil {
		return nil, &ReplyError{rep, fmt.Errorf("rotation %s: %w; nothing changed", id, err)}
	}
	var a Approval
	if err := json.Unmarshal(rep.Data, &a); err != nil {
		return nil, fmt.Errorf("rotation %s: %v; nothing changed", id, err)
	}
	return &a, nil
}

// Commit replaces the roster at rosterPath with the rotated one, keeping
// old as .prev. It refuses when the roster is no longer old (another
// change came in while the rotation was checked), and a failure leaves
// both files as they were.
func (r *Rotation) Commit(rosterPath string, old []byte) error {
	return CommitRoster(rosterPath, old, r.Roster)
}

// CommitRoster replaces the roster with data, keeping old as .prev; see
// Rotation.Commit.
func CommitRoster(rosterPath string, old, data []byte) error {
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

// Record sends the audit record of the applied rotation to the running
// RAZAR, which checks it names approval and records it.
func (r *Rotation) Record(ctx context.Context, approval *Approval, checked, actor string) error {
	rec := NewRecord(r.Items, approval, checked, actor)
	_, err := bus.Command(ctx, r.Conn, bus.VerbRecord, bus.AllComponents, &bus.LifecycleRequest{Record: rec})
	return err
}

// NewRecord is the audit record of an applied rotation: who ran it
// (actor, the OS user and host), who approved it, what changed and how
// the new credentials were checked.
func NewRecord(items []agents.RotationItem, approval *Approval, checked, actor string) *bus.AuditRecord {
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
	for _, it := range items {
		to := it.Env
		if it.File != "" {
			to = agents.FileRef + it.File
		}
		changes = append(changes, it.Agent+":"+to)
		data.Changes = append(data.Changes, change{Agent: it.Agent, From: it.From, Env: it.Env, File: it.File})
	}
	raw, _ := json.Marshal(data)
	rec := &bus.AuditRecord{Event: bus.EventRotation, Component: bus.SystemComponent, Actor: actor, Status: "applied",
		Message: fmt.Sprintf("credentials rotated: %s; rotation %s approved by %s; run by %s", strings.Join(changes, " "), approval.ID, approverNames(approval.Request), actor),
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

// SendReload has every rung re-read the roster, and returns when it was
// sent, less a second of clock skew, for AwaitReload.
func (r *Rotation) SendReload() (time.Time, error) {
	sent := time.Now().Add(-time.Second) // tolerate a little clock skew
	if err := r.Conn.Publish(bus.AgentsReload, nil); err != nil || r.Conn.Flush() != nil {
		return sent, fmt.Errorf("roster rewritten, but the reload could not be sent (%v): run `razar agents reload`", err)
	}
	return sent, nil
}

// AwaitReload waits up to 5 s for each rotated rung's readiness record to
// pass sent, tells reloaded of each (nil: no process answered), and
// returns how many did not come back ready.
func (r *Rotation) AwaitReload(ctx context.Context, store *jetstream.Store, sent time.Time, reloaded func(rung string, st *bus.AgentStatus)) int {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	bad := 0
	for _, n := range r.Names() {
		st := awaitStatus(wctx, store, n, sent)
		if st == nil || !st.Ready {
			bad++
		}
		reloaded(n, st)
	}
	return bad
}

// awaitStatus is rung's readiness record once it is newer than sent, nil
// if none is by the end of ctx.
func awaitStatus(ctx context.Context, store *jetstream.Store, rung string, sent time.Time) *bus.AgentStatus {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := store.AgentStatus(ctx, rung)
		if err == nil && st.Updated.After(sent) {
			return st
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// OrDash is s, or "-" for an empty one.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
