package bus

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/razar/razar"
)

// KV keys of bucket RAZAR_STATE.
const (
	incidentKeyPrefix = "incident."
	agentKeyPrefix    = "agent."
	componentKeyPref  = "component."
	// IncidentKeys matches every incident key.
	IncidentKeys = incidentKeyPrefix + ">"
	// AgentKeys matches every agent status key.
	AgentKeys = agentKeyPrefix + ">"
)

// IncidentKey is the RAZAR_STATE key of one incident: incident.<id>.
func IncidentKey(id string) string { return incidentKeyPrefix + id }

// AgentKey is the RAZAR_STATE key of one rung's readiness: agent.<name>.
func AgentKey(name string) string { return agentKeyPrefix + name }

// ComponentKey is the RAZAR_STATE key of one component's state: component.<name>.
func ComponentKey(name string) string { return componentKeyPref + name }

// Cursor is where an incident stands on the ladder. It is advanced only by
// the orchestrator, with compare-and-set on the incident's KV revision.
type Cursor struct {
	Phase        string `json:"phase"`         // "local" or "takeover"
	Pass         int    `json:"pass"`          // 1-based pass of the local stack, or takeover round
	Index        int    `json:"index"`         // position in the local stack
	Used         int    `json:"used"`          // attempts used in the current turn
	Failed       int    `json:"failed"`        // failed attempts of the incident, all rungs
	PassAttempts int    `json:"pass_attempts"` // attempts made in the current pass
	Extended     bool   `json:"extended"`      // past the normal ladder, in --long-task mode
	Extra        int    `json:"extra"`         // attempts and waits in extended mode (drives backoff)
	// OtherPass is the pass of the phase not current: in the takeover phase
	// the local stack's last pass, in the local phase the takeover rung's
	// last round. --long-task hands turns back to the local stack while the
	// takeover rung cannot run; this keeps both counts going.
	OtherPass int `json:"other_pass,omitempty"`
}

// Pending is the attempt an incident is waiting on.
type Pending struct {
	Attempt  int       `json:"attempt"`
	Rung     string    `json:"rung"`
	Pass     int       `json:"pass"`
	Started  time.Time `json:"started"`
	Deadline time.Time `json:"deadline"`
	// A human rung's acknowledged page: who acknowledged it and when; the
	// deadline then is the ack's end (the rung's ack_timeout after it).
	AckedBy string    `json:"acked_by,omitempty"`
	Acked   time.Time `json:"acked,omitzero"`
	// Fix is the id of the remembered fix a rung "memory" attempt tries
	// (docs/FIXES.md), so a restarted orchestrator resumes the same one.
	Fix string `json:"fix,omitempty"`
}

// Policy is the ladder an incident was opened with, kept so a restarted
// orchestrator resumes it under the same rules.
type Policy struct {
	Local          []string `json:"local"`
	Takeover       string   `json:"takeover,omitempty"`
	Threshold      int      `json:"threshold"`
	RemoteAttempts int      `json:"remote_attempts"`
	LongTask       bool     `json:"long_task"`
	WarnThreshold  int      `json:"warn_threshold"`
	// TokenBudget is RAZAR_TOKEN_BUDGET: the model tokens (prompt and
	// completion) the incident may spend; reached, the ladder ends. 0: no
	// budget.
	TokenBudget int64 `json:"token_budget,omitempty"`
}

// Skip is a rung passed over because it could not run.
type Skip struct {
	Rung   string    `json:"rung"`
	Pass   int       `json:"pass"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

// IncidentRecord is an incident's durable state, at RAZAR_STATE incident.<id>.
type IncidentRecord struct {
	versioned
	ID        string              `json:"id"`
	Component string              `json:"component"`
	Error     string              `json:"error"`
	State     razar.IncidentState `json:"state"`
	Reason    string              `json:"reason,omitempty"` // why it ended
	Opened    time.Time           `json:"opened"`
	Updated   time.Time           `json:"updated"`
	Policy    Policy              `json:"policy"`
	Cursor    Cursor              `json:"cursor"`
	Pending   *Pending            `json:"pending,omitempty"`
	Attempts  []razar.Attempt     `json:"attempts"`
	// Earlier counts the oldest attempts no longer in Attempts (which keeps
	// the newest MaxStoredAttempts); their records stay on the stream.
	Earlier     int    `json:"earlier_attempts,omitempty"`
	Skips       []Skip `json:"skips,omitempty"`
	Skipped     int    `json:"skipped,omitempty"` // every skip, kept in Skips or not
	LastRung    string `json:"last_rung,omitempty"`
	Escalations int    `json:"escalations"`
	Workdir     string `json:"workdir,omitempty"`
	Cycle       string `json:"cycle,omitempty"` // boot or repair cycle the incident belongs to
	// Tokens is what the rungs' models spent on the incident, every
	// attempt's usage summed.
	Tokens razar.Usage `json:"tokens,omitzero"`
	// Reopened counts the times the incident healed and its component
	// failed again within the settle window, which opened it again.
	Reopened int `json:"reopened,omitempty"`
}

// Bounds of a stored incident, so no record outgrows the server's max
// payload however long the incident runs: the newest attempts and skips
// are kept, each attempt as a summary (SummarizeAttempt); the full texts
// are in the attempt's audit record on the stream (Attempt.Seq).
const (
	MaxStoredAttempts    = 16
	MaxStoredSkips       = 64
	MaxStoredAttemptText = 512 // bytes of each text field of a stored attempt
)

// NextAttempt is the number the incident's next attempt gets.
func (r *IncidentRecord) NextAttempt() int { return r.Earlier + len(r.Attempts) + 1 }

// AddAttempt appends a finished attempt's summary, dropping the oldest
// beyond MaxStoredAttempts.
func (r *IncidentRecord) AddAttempt(a razar.Attempt) {
	r.Attempts = append(r.Attempts, a)
	if n := len(r.Attempts) - MaxStoredAttempts; n > 0 {
		r.Attempts = append([]razar.Attempt(nil), r.Attempts[n:]...)
		r.Earlier += n
	}
}

// AddSkip appends a skip, dropping the oldest beyond MaxStoredSkips.
func (r *IncidentRecord) AddSkip(s Skip) {
	r.Skips = append(r.Skips, s)
	r.Skipped = max(r.Skipped, len(r.Skips)-1) + 1
	if n := len(r.Skips) - MaxStoredSkips; n > 0 {
		r.Skips = append([]Skip(nil), r.Skips[n:]...)
	}
}

// SummarizeAttempt is what a stored incident keeps of an attempt whose
// audit record is at stream sequence seq: the outcome and counters, texts
// clipped to MaxStoredAttemptText, and the diff's size and hash only.
func SummarizeAttempt(a razar.Attempt, seq uint64) razar.Attempt {
	a.Seq = seq
	if a.Diff != "" {
		sum := sha256.Sum256([]byte(a.Diff))
		a.DiffBytes, a.DiffSHA256 = len(a.Diff), hex.EncodeToString(sum[:])
		a.Diff = ""
	}
	a.Summary = Clip(a.Summary, MaxStoredAttemptText)
	a.Error = Clip(a.Error, MaxStoredAttemptText)
	a.Reason = Clip(a.Reason, MaxStoredAttemptText)
	return a
}

// Kind implements Payload.
func (*IncidentRecord) Kind() string { return "incident" }

// Check implements Payload.
func (r *IncidentRecord) Check() error {
	switch {
	case !ValidToken(r.ID):
		return fieldErr("id", "missing or not a subject token")
	case r.Component == "":
		return fieldErr("component", "missing")
	case r.State == "":
		return fieldErr("state", "missing")
	}
	return nil
}
