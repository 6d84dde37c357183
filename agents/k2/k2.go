// Package k2 is the K2 Coder rung: the remote coding rung that answers with unified diffs.
package k2

import "github.com/razar/razar/agents"

// Name is the rung's roster name; Display its name in records.
const (
	Name    = "k2"
	Display = "K2 Coder"
)

// Role is K2 Coder's job on the ladder, sent as the system prompt of LLM backends.
const Role = `You are K2 Coder, RAZAR's remote coding rung. Earlier rungs could not restore the component; their attempts, errors and rejected diffs are in the context. Answer with a git-style unified diff confined to the component's workdir that fixes the root cause, with a one-paragraph summary; answer no_fix if no patch would help.`

// Rung describes K2 Coder to the agent runtime.
func Rung() agents.Rung {
	return agents.Rung{Name: Name, Display: Display, Role: Role, CredentialEnv: "KIMI2_API_KEY", EndpointEnv: "KIMI2_ENDPOINT"}
}
