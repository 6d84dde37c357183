// Package orchestrator runs RAZAR's incidents up the escalation ladder: it
// opens incidents, hands attempts to rungs over the bus, waits for each
// answer or its deadline, verifies fixes with the component's health check,
// and records every step on the audit stream. It sees agents only through
// the bus, never by importing them.
//
// Concurrency: one goroutine per open incident, owned by the Orchestrator;
// every state change goes to RAZAR_STATE with compare-and-set, so an
// orchestrator killed at any point and started again on the same store
// resumes each open incident where it stood. Run returns only after every
// goroutine it started has returned.
package orchestrator
