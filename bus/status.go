package bus

import "time"

// Component statuses, as logs/razar_state.json and `razar status` show them.
const (
	StatusBooting     = "booting"     // launched, in its start grace or first probe
	StatusWaiting     = "waiting"     // waiting for its boot-order turn
	StatusHealthy     = "healthy"     // running, its probe passes
	StatusRestarting  = "restarting"  // waiting out its restart backoff
	StatusEscalated   = "escalated"   // an incident is open on it
	StatusQuarantined = "quarantined" // its incident failed; `razar release` lifts it
	StatusStopped     = "stopped"     // not running and not wanted (an operator's stop, a halt)
	StatusFailed      = "failed"      // it would not start and nothing is repairing it
)

// Mission health, MissionState.Health.
const (
	HealthHealthy  = "healthy"  // nothing is quarantined, failed or being repaired
	HealthDegraded = "degraded" // some component is quarantined, failed or being repaired
	HealthHalted   = "halted"   // a boot cycle halted and its quarantine is not yet released
)

// ComponentView is one component in logs/razar_state.json and status replies.
type ComponentView struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Chakra   string `json:"chakra,omitempty"`
	Status   string `json:"status"`
	// Held says an operator stopped it: nothing starts it until `razar start`.
	Held bool   `json:"held,omitempty"`
	Rung string `json:"rung,omitempty"` // the rung working on it while escalated
	PID  int    `json:"pid,omitempty"`
	// Adopted says the process was started by an earlier RAZAR and adopted
	// by this one after a restart.
	Adopted bool `json:"adopted,omitempty"`
	// Restarts counts local restarts since RAZAR started; Crashes those of
	// the current crash loop, which escalates at --retries.
	Restarts    int       `json:"restarts"`
	Crashes     int       `json:"crashes,omitempty"`
	LastExit    string    `json:"last_exit,omitempty"`
	NextRestart time.Time `json:"next_restart,omitzero"`
	Backoff     string    `json:"backoff,omitempty"`
	Since       time.Time `json:"since,omitzero"` // healthy since
	LastProbe   time.Time `json:"last_probe,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Incident    string    `json:"incident,omitempty"`
	// ProbesPassed and ProbesFailed count its health checks since RAZAR started.
	ProbesPassed int `json:"probes_passed,omitempty"`
	ProbesFailed int `json:"probes_failed,omitempty"`
}

// MissionState is logs/razar_state.json: mission-level health, quarantine
// and open incidents.
type MissionState struct {
	Updated    time.Time       `json:"updated"`
	Health     string          `json:"health"` // HealthHealthy, HealthDegraded, HealthHalted
	Cycle      string          `json:"cycle,omitempty"`
	Components []ComponentView `json:"components"`
	Quarantine []string        `json:"quarantine"`
	Incidents  []string        `json:"open_incidents"`
	// Store says why RAZAR cannot write its record store (a full state
	// disk), empty while it can. The mission is not healthy meanwhile.
	Store string `json:"store,omitempty"`
}

// Problem reports whether the mission needs an operator: halted, or some
// component quarantined or failed. `razar status` exits 1 then.
func (m *MissionState) Problem() bool {
	if m.Health == HealthHalted || len(m.Quarantine) > 0 || m.Store != "" {
		return true
	}
	for _, c := range m.Components {
		if c.Status == StatusFailed || c.Status == StatusQuarantined {
			return true
		}
	}
	return false
}

// StatusView is the data of a status reply: the host's components from the
// supervisor, incidents and rungs from the orchestrator.
type StatusView struct {
	// Host is which RAZAR answered: on a shared bus it tells hosts apart.
	Host      *HostInfo         `json:"host,omitempty"`
	Mission   *MissionState     `json:"mission,omitempty"`
	Incidents []*IncidentRecord `json:"incidents"`
	Agents    []*AgentStatus    `json:"agents,omitempty"`
	// Approvals are the validated patches waiting for `razar approve`.
	Approvals []PendingApproval `json:"approvals,omitempty"`
}

// HostInfo names the RAZAR that answers a status request.
type HostInfo struct {
	Name    string    `json:"name"` // the machine's hostname
	Home    string    `json:"home"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// PendingApproval is one validated patch held for an operator.
type PendingApproval struct {
	Component string    `json:"component"`
	Incident  string    `json:"incident"`
	Patch     string    `json:"patch"`
	Rung      string    `json:"rung"`
	Since     time.Time `json:"since"`
	Until     time.Time `json:"until"` // when the approval window ends
}
