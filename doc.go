// Package razar is RAZAR's domain: incidents, attempts, outcomes, rungs,
// the Agent interface, a component's probe, the payloads a rung is shown and
// the errors every other package matches on. Reading the operator's config
// files (boot_config.json, the roster, razar.env) is package config's.
//
// It imports the standard library only. Everything that moves bytes (the bus,
// JetStream, processes, HTTP) lives in the packages below it; this package
// only says what the words mean.
//
// Types here are plain values: safe to copy, safe to share once built, and
// never mutated behind a caller's back.
package razar
