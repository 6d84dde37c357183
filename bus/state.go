package bus

import (
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
	ID          string              `json:"id"`
	Component   string              `json:"component"`
	Error       string              `json:"error"`
	State       razar.IncidentState `json:"state"`
	Reason      string              `json:"reason,omitempty"` // why it ended
	Opened      time.Time           `json:"opened"`
	Updated     time.Time           `json:"updated"`
	Policy      Policy              `json:"policy"`
	Cursor      Cursor              `json:"cursor"`
	Pending     *Pending            `json:"pending,omitempty"`
	Attempts    []razar.Attempt     `json:"attempts"`
	Skips       []Skip              `json:"skips,omitempty"`
	LastRung    string              `json:"last_rung,omitempty"`
	Escalations int                 `json:"escalations"`
	Workdir     string              `json:"workdir,omitempty"`
	Cycle       string              `json:"cycle,omitempty"` // boot or repair cycle the incident belongs to
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
