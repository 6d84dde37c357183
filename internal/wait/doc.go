// Package wait is the one way RAZAR's tests wait for a condition: poll it
// until it holds or a deadline passes, then fail the test saying why (after
// nats-server's checkFor). Tests wait for conditions, never for durations.
//
// bustest.Eventually is Until under its own name; no test package keeps a
// private copy.
//
// Standard library only. Concurrency: For and Until block the calling
// goroutine, which must be the test's own (they call t.Fatalf); cond runs
// on that goroutine too.
package wait
