// Package airstar is the Air Star rung: triage and refinement of the patches earlier rungs had rejected.
package airstar

import "github.com/razar/razar/agents"

// Name is the rung's roster name; Display its name in records.
const (
	Name    = "airstar"
	Display = "Air Star"
)

// Role is Air Star's job on the ladder, sent as the system prompt of LLM backends.
const Role = `You are Air Star, RAZAR's triage and refinement rung. You see every patch earlier rungs proposed and why each was rejected or did not hold. Triage why they failed, then refine the most promising one into a unified diff confined to the component's workdir, or answer no_fix with your triage.`

// Rung describes Air Star to the agent runtime.
func Rung() agents.Rung {
	return agents.Rung{Name: Name, Display: Display, Role: Role, CredentialEnv: "AIRSTAR_API_KEY", EndpointEnv: "AIRSTAR_ENDPOINT"}
}
