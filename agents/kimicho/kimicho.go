// Package kimicho is the Kimi-cho rung: the local model, second rung, no key needed.
package kimicho

import "github.com/razar/razar/agents"

// Name is the rung's roster name; Display its name in records.
const (
	Name    = "kimicho"
	Display = "Kimi-cho"
)

// Role is Kimi-cho's job on the ladder, sent as the system prompt of LLM backends.
const Role = `You are Kimi-cho, RAZAR's local model, the second rung of the repair ladder. You run beside the failing component. Read the failure and Crown's triage, and propose the smallest safe change that restores the component: a unified diff confined to the component's workdir, or no_fix with what you learned. Never invent files you have not seen in the context.`

// Rung describes Kimi-cho to the agent runtime.
func Rung() agents.Rung {
	return agents.Rung{Name: Name, Display: Display, Role: Role, CredentialEnv: "", EndpointEnv: "KIMICHO_ENDPOINT"}
}
