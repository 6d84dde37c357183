package bus

import (
	"fmt"
	"strings"
	"time"
)

// Component statuses, as logs/razar_state.json and `razar status` show them.
const (
	StatusBooting     = "booting"     // launched, in its start grace or first probe
	StatusWaiting     = "waiting"     // waiting for its boot-order turn
	StatusHealthy     = "healthy"     // running, its probe passes
	StatusRestarting  = "restarting"  // waiting out its restart backoff
	StatusEscalated   = "escalated"   // an incident is open on it
	StatusQuarantined = "quarantined" // its incident failed; `razar release` lifts it
	StatusStopped     = "stopped"     // not running: an operator's stop (Held), or a halt or release left it down
	StatusFailed      = "failed"      // it would not start and nothing is repairing it
)

// Mission health, MissionState.Health.
const (
	HealthHealthy  = "healthy"  // every component runs, or an operator stopped it
	HealthDegraded = "degraded" // some component is down (ComponentView.Down) or being repaired
	HealthHalted   = "halted"   // a boot cycle halted and left components down; `razar resume` goes on
)

// NextResume is the one command that takes a halted boot cycle on from
// where it stopped, once nothing is quarantined.
const NextResume = "razar resume"

// ComponentView is one component in logs/razar_state.json and status replies.
type ComponentView struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Chakra   string `json:"chakra,omitempty"`
	Status   string `json:"status"`
	// Held says an operator stopped it: nothing starts it until `razar start`.
	Held bool `json:"held,omitempty"`
	// Rung is the rung holding its incident's pending attempt now; empty
	// between attempts (NextAttempt says when the next one starts).
	Rung string `json:"rung,omitempty"`
	// NextAttempt is when its incident's next attempt starts, while the
	// incident waits out a --long-task backoff.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	PID         int       `json:"pid,omitempty"`
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

// Down says why a component is down with nothing bringing it up, or ""
// when it runs, is being brought up or repaired, or an operator stopped it.
// cycle is MissionState.Cycle: a component waiting for its boot-order turn
// while no cycle runs waits on a halted one.
func (v ComponentView) Down(cycle string) string {
	if v.Held {
		return ""
	}
	switch v.Status {
	case StatusQuarantined:
		return "quarantined"
	case StatusFailed:
		return "failed"
	case StatusStopped:
		return "stopped and not by an operator"
	case StatusWaiting:
		if cycle == "" {
			return "waiting on a halted boot cycle"
		}
	}
	return ""
}

// MissionState is logs/razar_state.json: mission-level health, quarantine
// and open incidents.
type MissionState struct {
	Updated time.Time `json:"updated"`
	Health  string    `json:"health"` // HealthHealthy, HealthDegraded, HealthHalted
	// Host is the machine's name (RAZAR_HOST), so a page or a copied state
	// file says whose mission it is.
	Host  string `json:"host,omitempty"`
	Cycle string `json:"cycle,omitempty"`
	// Halted names the boot cycle that halted and has not gone on since
	// (`razar resume`, or a new `razar boot`).
	Halted string `json:"halted,omitempty"`
	// Next is the operator's next step while the mission is halted:
	// release what is quarantined, then NextResume.
	Next       string          `json:"next,omitempty"`
	Components []ComponentView `json:"components"`
	Quarantine []string        `json:"quarantine"`
	Incidents  []string        `json:"open_incidents"`
	// Store says why RAZAR cannot write its record store (a full state
	// disk), empty while it can. The mission is not healthy meanwhile.
	Store string `json:"store,omitempty"`
	// Problems says, one line a component, why each component that is
	// down is (ComponentView.Down); `razar status` exits 1 while any is.
	Problems []string `json:"problems,omitempty"`
}

// Assess computes the mission's health, problems and next step from every
// component's state: the one rule behind `razar status`, the metric
// razar_mission_health, the status page and logs/razar_state.json. Halted
// while a halted cycle left a component down; degraded while any component
// is down or being repaired (restarting, escalated), or while the record
// store cannot be written (Store); else healthy. A
// component an operator stopped counts as up.
func (m *MissionState) Assess() {
	m.Problems = nil
	repairing := false
	for _, c := range m.Components {
		if why := c.Down(m.Cycle); why != "" {
			m.Problems = append(m.Problems, c.Name+": "+why)
		}
		if c.Status == StatusRestarting || c.Status == StatusEscalated {
			repairing = true
		}
	}
	m.Next = ""
	switch {
	case m.Halted != "" && len(m.Problems) > 0:
		m.Health = HealthHalted
		m.Next = "`" + NextResume + "`"
		if len(m.Quarantine) > 0 {
			var rel []string
			for _, q := range m.Quarantine {
				rel = append(rel, "`razar release "+q+"`")
			}
			m.Next = fmt.Sprintf("fix %s, then %s, then %s", strings.Join(m.Quarantine, ", "), strings.Join(rel, ", "), m.Next)
		}
	case len(m.Problems) > 0 || repairing || m.Store != "":
		m.Health = HealthDegraded
	default:
		m.Health = HealthHealthy
	}
}

// Problem reports whether the mission needs an operator: halted, or some
// component down with nothing bringing it up. `razar status` exits 1 then.
func (m *MissionState) Problem() bool {
	return m.Health == HealthHalted || len(m.Problems) > 0 || len(m.Quarantine) > 0 || m.Store != ""
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
