// Package rotation is credential rotation's daemon side: the rotation
// verbs a running RAZAR answers on the lifecycle bus (open a rotation,
// wait for it, approve or reject it) and the check of the rotation record
// a CLI sends once it applied one. A rotation is approved by two distinct
// operator identities (auth.Approvals), recorded by name and public key.
//
// The rotations waiting for approval live in memory only: a restarted
// RAZAR forgets them, and the CLI opens a new one.
//
// Concurrency: a Verbs is safe for concurrent use by the lifecycle
// server's handlers; it starts no goroutine.
package rotation
