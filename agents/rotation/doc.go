// Package rotation is credential rotation on the bus, both sides of it.
//
// The daemon side (Verbs): the rotation verbs a running RAZAR answers on
// the lifecycle bus (open a rotation, wait for it, approve or reject it)
// and the check of the rotation record a CLI sends once it applied one. A
// rotation is approved by two distinct operator identities
// (auth.Approvals), recorded by name and public key.
//
// The operator's side (Rotation): the workflow of `razar rotate-keys`
// against a running RAZAR: ask every process of each rotated rung whether
// it loads the rotated roster, open the rotation and wait for its two
// approvals, commit the roster keeping the previous one, record it and
// have the rungs reload. Planning the rotated roster from the manifests is
// package agents' (PlanRotation); printing is the caller's.
//
// The rotations waiting for approval live in memory only: a restarted
// RAZAR forgets them, and the CLI opens a new one.
//
// Concurrency: a Verbs is safe for concurrent use by the lifecycle
// server's handlers; it starts no goroutine. A Rotation is one command's
// workflow, used from one goroutine; Probe's goroutines end before it
// returns.
package rotation
