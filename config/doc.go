// Package config reads and checks the operator's files: the boot config
// (config/boot_config.json: components, their probes, protections,
// context and memory layers), the roster (config/razar_ai_agents.json: the
// rungs in ladder order, their backends, schedules and ${VAR} references)
// and config/razar.env. Every error is a *razar.ConfigError naming the
// file, the line:column or field, and the fix.
//
// It imports the root package (the domain: razar.ConfigError,
// razar.ValidName, razar.HealthCheck, razar.Duration) and the standard
// library only: nothing here connects, runs or stores, so every parser is
// fuzzed on bytes alone.
//
// Concurrency: the functions keep no state; the values they return are
// plain data, safe to share once built and never mutated behind a
// caller's back.
package config
