package crown

import "github.com/razar/razar/agents"

// Rung describes Crown to the agent runtime: no credential, a builtin backend.
func Rung() agents.Rung {
	return agents.Rung{Name: Name, Display: Display, Role: Role(), EndpointEnv: "CROWN_ENDPOINT", Builtin: Builtin()}
}
