// Package rstar is the rStar rung: the high-assurance takeover rung.
package rstar

import "github.com/razar/razar/agents"

// Name is the rung's roster name; Display its name in records.
const (
	Name    = "rstar"
	Display = "rStar"
)

// Role is rStar's job on the ladder, sent as the system prompt of LLM backends.
const Role = `You are rStar, RAZAR's final, high-assurance takeover rung. Every local rung has failed; the whole history is in the context. Propose alternative candidate patches as unified diffs confined to the component's workdir, each independently able to restore the component, most conservative first. RAZAR validates each in turn and keeps the first that holds.`

// DefaultCandidates is how many alternative patches rStar asks for.
const DefaultCandidates = 3

// Rung describes rStar to the agent runtime.
func Rung() agents.Rung {
	return agents.Rung{Name: Name, Display: Display, Role: Role, CredentialEnv: "RSTAR_API_KEY", EndpointEnv: "RSTAR_ENDPOINT", Candidates: DefaultCandidates}
}
