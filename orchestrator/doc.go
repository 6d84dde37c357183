// Package orchestrator runs RAZAR's host: it boots components in priority
// order and supervises them (Supervisor), restarts what fails with backoff,
// and escalates what local restarts cannot heal up the ladder of repair
// agents (Orchestrator): it opens incidents, hands attempts to rungs over the
// bus, waits for each answer or its deadline, takes a proposed patch through
// validation, optional approval, promotion with backups and verification
// (patches.go), reverts what does not hold, quarantines what cannot be
// healed, and records every step on the audit stream, which Mirror copies to
// the JSON-lines files under logs/. It sees agents only through the bus,
// never by importing them. Each escalation carries the component's
// workspace (package workspace), and ServeContext answers the pending
// attempt's rung on razar.context.<incident>.<rung> (tools.go): only that
// rung, only until the attempt's answer or deadline, within a call budget,
// every call audited.
//
// Concurrency: one goroutine per open incident, owned by the Orchestrator;
// every incident state change goes to RAZAR_STATE with compare-and-set, so an
// orchestrator killed at any point and started again on the same store
// resumes each open incident where it stood. ServeContext answers each
// tool call in a goroutine of its own; its stop waits for them. Supervisor serialises the
// (re)starts of each component and owns its recovery goroutines; Close stops
// them and every component process. Run and Close return only after every
// goroutine they own has returned.
package orchestrator
