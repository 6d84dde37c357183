// Package crown is the Crown rung, the first and local rung of the ladder:
// its roster name, display name and role, its Rung description for the agent
// runtime, and its builtin backend (Builtin), which matches a failure against
// a short operator runbook and answers no_fix with a triage summary.
//
// The builtin backend holds no state, needs no network or credential, and is
// safe for concurrent use. Crown imports no other rung.
package crown
