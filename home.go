package razar

// Paths of the RAZAR home that more than one layer names (CONTRACT
// section 1), relative to the home.
const (
	// RosterFile is the agent roster, in ladder order.
	RosterFile = "config/razar_ai_agents.json"
	// RosterSnapshot is the roster as the boot cycle found it, restored
	// when a boot halts.
	RosterSnapshot = "config/razar_ai_agents.bak"
)
