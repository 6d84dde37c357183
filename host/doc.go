// Package host is the daemon's life, `razar boot` below its flags: open
// what can fail at start (the home's checks, the config files, the store
// lock, the embedded or external bus, the listeners), wire the
// orchestrator, the supervisor, the lifecycle bus, the mirror, the
// metrics and the status page together, run them, reload them on SIGHUP
// or `razar reload`, and shut them down in order: components, rungs,
// orchestrator, bus.
//
// cmd/razar fills one Config from its flags and variables and calls Open
// then Run; what only cmd knows (the five rung packages, the memory
// bundle's records, re-reading config/razar.env) comes in as functions of
// the Config.
//
// Concurrency: Open and Run are called once, from one goroutine; Run owns
// every goroutine it starts (one errgroup, the rungs' WaitGroup, the boot
// cycle) and waits for all of them before it returns. Reload may be
// called from any goroutine; reloads are serialized. Close is idempotent.
package host
