// Package chaos is RAZAR's fault-injection suite: its tests run real
// `razar boot` and `razar agent` processes (and real nats-server processes),
// inject faults (SIGKILL of RAZAR mid-ladder and right after a patch is
// applied, SIGKILL of a rung process, a NATS server restart, a cluster node
// replaced with an empty store, a full logs/ disk, many incidents at once,
// clock jumps), and then check the same invariants after every scenario
// with Check and Procs:
//
//   - every incident ends exactly once: one terminal audit record per
//     incident on stream RAZAR, and its record in bucket RAZAR_STATE agrees;
//   - no audit record is lost, duplicated or torn between the stream and
//     the mirror's files under logs/;
//   - no component process is orphaned or doubled.
//
// The package's only non-test code is that checker. `go test ./chaos` runs
// every scenario once with small counts; RAZAR_CHAOS=full (make chaos) runs
// more kill moments and more incidents. The clock-jump scenario runs the
// orchestrator in-process on internal/clock's Fake clock: a real process's
// clock cannot be jumped without CAP_SYS_TIME. docs/SCALE.md, section
// "Chaos suite", says what each scenario injects.
//
// Concurrency: Check and Procs keep no state; call them from any goroutine.
package chaos
