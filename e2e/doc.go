// Package e2e holds tests of the whole mesh in one process: a real embedded
// JetStream server, the real agent runtime for every rung, and the real
// orchestrator, with backends that are plain functions. It has no code of
// its own.
package e2e
