// Package orchestrator runs RAZAR's incidents on the ladder of repair rungs.
// It does not run components: the supervisor (package supervisor) boots and
// restarts them, and hands what local restarts cannot heal to the
// orchestrator through the Escalator interface the supervisor defines, which
// *Orchestrator satisfies (Escalate, Wait, Abort, OpenIncident, NextAttempt,
// Resumed).
//
// What it owns:
//
//   - Incidents (orchestrator.go, incident.go, reopen.go): one per failing
//     component, opened by Escalate, stored in RAZAR_STATE, resumed after a
//     restart, ended healed, failed (quarantine) or aborted; a failure soon
//     after a heal reopens it (Reopen).
//   - The ladder (ladder.go): the pure decision Next(policy, cursor, ready)
//     of which rung takes the next attempt, when to skip, wait out a
//     --long-task backoff or give up. Each step is stored with
//     compare-and-set before it is acted on.
//   - Attempts and results (incident.go, results.go, rungs.go): each attempt
//     goes to its rung as an escalation over the bus (rungs are never
//     imported), and its answer is routed back from razar.result.<incident>
//     or its deadline passes. Rung readiness and consumers (DeclareRungs,
//     WatchRungs, HandBackAttempts) are declared here.
//   - Judging a fix: a proposed patch goes through the patch pipeline
//     (patches.go, rollback.go, undo.go, on package patch): validation in the
//     sandbox, optional approval, promotion with backups, verification
//     through the Verify callback the host wires, revert when it does not
//     hold.
//   - The fix memory (fixes.go, on package fixmem): a failure seen before is
//     tried first with the fix that healed it.
//   - Human rungs (human.go): a page through the Alerter and an answer by
//     `razar ack`, `resolve` or `pass` (the lifecycle verbs of verbs.go).
//   - The context tools (tools.go): ServeContext answers the pending
//     attempt's rung on razar.context.<incident>.<rung>, only that rung, only
//     until the attempt's answer or deadline, within a call budget, every
//     call audited. Each escalation carries the component's workspace
//     (package workspace).
//
// Every step is recorded on the audit stream. What it does not own: alerts
// go out through the Alerter interface defined here (package alert
// implements it; the host wires it), and the logs/ files are written from
// the audit stream by package mirror. The orchestrator imports neither.
//
// Concurrency: Run owns one goroutine per open incident (o.running, under
// o.mu, with the other per-incident maps); every incident state change goes
// to RAZAR_STATE with compare-and-set, so an orchestrator killed at any
// point and started again on the same store resumes each open incident
// where it stood. The rungs' answers arrive on one ordered consumer whose
// routing table has its own lock (results). ServeContext answers each tool
// call in a goroutine of its own; its stop waits for them. Run returns only
// after every incident goroutine it started has returned.
package orchestrator
