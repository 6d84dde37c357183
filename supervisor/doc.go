// Package supervisor owns the host: the boot cycle in priority order, the
// component processes (each in its own session, its output straight to
// logs/components/<name>.log), health probes, local restarts with a capped
// backoff and a crash-loop budget, quarantine, adoption of the processes an
// earlier RAZAR left running, and live reload of boot_config.json.
//
// It asks for repairs through the Escalator it defines (the orchestrator
// satisfies it, wired in cmd/razar) and verifies fixes for it through
// Verify. It imports neither the orchestrator nor any rung.
//
// An operator's stop wins: every automatic start (boot, restart, reload,
// fix verification) checks the component's hold under the same lock it
// launches under, so a stop either comes first and nothing starts, or finds
// the process and stops it.
//
// Concurrency: mu guards every component's state; each component's op lock
// serialises its (re)starts. Recoveries, exit watchers and incident
// followers are goroutines the Supervisor owns: Close stops them and every
// component process, Detach stops them and leaves the processes running.
// Both wait for every goroutine they own.
package supervisor
