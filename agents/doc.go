// Package agents is the runtime every rung shares and the backends a roster
// entry may name.
//
// The runtime (Runtime) pulls a rung's escalations from its durable
// consumer, calls its backend with the redacted task, keeps the attempt in
// progress while a slow backend works, publishes the result once (a
// redelivered attempt is answered from the stream), heartbeats, reports its
// readiness in RAZAR_STATE, serves Crown's handshake, and rebuilds its
// backend and credentials on razar.agents.reload.
//
// Backends turn one razar.Task into one razar.Fix: Exec runs an operator's
// script (the escalation JSON on stdin, the result JSON on stdout); OpenAI
// speaks any OpenAI-compatible chat-completions endpoint through the
// official client, shows the model the task's workspace and, when the task
// has razar.Tools, lets it list, read, search and check through function
// calling, turn after turn within MaxTurns and the deadline, summing every
// response's token usage into the fix; HTTPAgent POSTs the escalation JSON with a bearer token.
// A rung package (agents/crown, ...) may bring a builtin one. Build makes the
// backend a roster entry asks for, after Resolve has expanded its ${VAR}s
// and checked its credential (an *razar.AgentCredentialError when missing).
// PlanRotation and LoadManifests are razar rotate-keys' decisions.
//
// Backends hold no state between attempts and are safe for concurrent use;
// each attempt is bounded by its context's deadline, retries stay inside
// it, replies are size-bounded, and an exec script is killed with its whole
// process group when the deadline passes. A Runtime's Run owns every
// goroutine it starts and returns after they have stopped.
package agents
