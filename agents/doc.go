// Package agents is the runtime every rung shares and the backends a roster
// entry may name. The runtime consumes a rung's escalations, calls its
// backend, publishes the result, heartbeats and reports readiness; the
// backends turn one razar.Task into one razar.Fix: Exec runs an operator's
// script (the escalation JSON on stdin, the result JSON on stdout), and a
// rung package (agents/crown, ...) may bring a builtin one.
//
// Backends hold no state between attempts and are safe for concurrent use;
// each attempt is bounded by its context's deadline, and an exec script is
// killed with its whole process group when that deadline passes.
package agents
