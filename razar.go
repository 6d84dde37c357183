package razar

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// Status is a rung's own verdict on one attempt, as it reports it.
type Status string

// The statuses a rung may answer with.
const (
	StatusFixed Status = "fixed"
	StatusNoFix Status = "no_fix"
	StatusError Status = "error"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool {
	return s == StatusFixed || s == StatusNoFix || s == StatusError
}

// Outcome is how the orchestrator judged an attempt once it ended.
type Outcome string

// The outcomes of an attempt. Every outcome but OutcomeHealed is a failed attempt.
const (
	OutcomeHealed   Outcome = "healed"   // the rung answered fixed and the fix held
	OutcomeNoFix    Outcome = "no_fix"   // the rung answered without a fix
	OutcomeError    Outcome = "error"    // the rung reported an error
	OutcomeRejected Outcome = "rejected" // the rung answered fixed but the fix did not hold
	OutcomeTimeout  Outcome = "timeout"  // no answer before the attempt's deadline
	OutcomeAborted  Outcome = "aborted"  // an operator aborted the incident mid-attempt
	OutcomePassed   Outcome = "passed"   // a human rung's operator handed the turn on (razar pass)
)

// Attempt is one finished turn-step of one rung on one incident. The whole
// list of them is the context every later rung receives.
type Attempt struct {
	Number   int       `json:"attempt"`
	Rung     string    `json:"rung"`
	Pass     int       `json:"pass"`
	Outcome  Outcome   `json:"outcome"`
	Error    string    `json:"error,omitempty"`
	Summary  string    `json:"summary,omitempty"`
	Diff     string    `json:"diff,omitempty"`
	Reason   string    `json:"reason,omitempty"` // why a fix was rejected
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Where the attempt's full texts are, when a record holds only their
	// summary (the stored incident): the stream sequence of its attempt
	// audit record, and the size and SHA-256 of its diff.
	Seq        uint64 `json:"seq,omitempty"`
	DiffBytes  int    `json:"diff_bytes,omitempty"`
	DiffSHA256 string `json:"diff_sha256,omitempty"`
	// Actor is the authenticated operator who answered a human rung's
	// page (resolve or pass), for the record.
	Actor string `json:"actor,omitempty"`
	// Shortened marks an attempt of an escalation's history sent as one
	// line (number, rung, outcome, reason clipped, the diff's size and
	// hash) rather than in full; the `attempt` tool returns it whole.
	Shortened bool `json:"shortened,omitempty"`
}

// Failed reports whether the attempt counts against RAZAR_RSTAR_THRESHOLD.
func (a Attempt) Failed() bool { return a.Outcome != OutcomeHealed && a.Outcome != OutcomeAborted }

// Task is what a rung is asked to do: one attempt at one incident, with the
// incident's whole history.
type Task struct {
	Incident  string
	Component string
	Error     string
	Attempt   int
	Pass      int
	Rung      string
	Workdir   string // the component's workdir, the only tree a fix may touch
	Deadline  time.Time
	History   []Attempt
	// Shortened counts the attempts of History sent as one line (number,
	// rung, outcome, reason, the diff's size and hash) rather than in full;
	// the `attempt` tool returns any of them whole.
	Shortened int
	// Workspace is what the rung is shown of the component (nil from an
	// orchestrator that sends none).
	Workspace *Workspace
	// Tools, when set, serve the rung's razar.context requests for this
	// attempt; nil where the rung has no bus (a test).
	Tools Tools
}

// Fix is a rung's answer to a Task. Diff is a git-style unified diff
// confined to the component's workdir, or empty when the rung changed
// nothing itself. Candidates are alternative patches (rStar): RAZAR
// validates each in turn and keeps the first that holds.
type Fix struct {
	Status     Status
	Summary    string
	Diff       string
	Candidates []Candidate
	// Usage is what the model spent on the attempt, all turns summed.
	Usage Usage
}

// Candidate is one alternative patch.
type Candidate struct {
	Summary string `json:"summary,omitempty"`
	Diff    string `json:"diff"`
}

// Agent is a repair backend: given a task, propose a fix. Repair returns an
// error only when it could not produce an answer at all; the runtime turns that
// into a StatusError result. Implementations must honour ctx's deadline.
type Agent interface {
	Repair(ctx context.Context, t Task) (Fix, error)
}

// AgentFunc adapts a function to Agent.
type AgentFunc func(ctx context.Context, t Task) (Fix, error)

// Repair calls f.
func (f AgentFunc) Repair(ctx context.Context, t Task) (Fix, error) { return f(ctx, t) }

var _ Agent = AgentFunc(nil)

// IncidentState is where an incident stands.
type IncidentState string

// Incident states. Every state but IncidentOpen is final.
const (
	IncidentOpen    IncidentState = "open"
	IncidentHealed  IncidentState = "healed"
	IncidentFailed  IncidentState = "failed"
	IncidentAborted IncidentState = "aborted"
)

// Final reports whether the incident is over.
func (s IncidentState) Final() bool { return s != IncidentOpen }

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidName checks a component or agent name against ^[a-z0-9][a-z0-9_-]{0,63}$,
// which also makes it a valid NATS subject token and KV key part.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q is not a valid name: use 1-64 of a-z 0-9 _ -, starting with a letter or digit", name)
	}
	return nil
}
