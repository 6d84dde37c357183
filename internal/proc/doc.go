// Package proc names processes so that a RAZAR started again can find, check
// and watch the components an earlier RAZAR started: an ID is a pid plus the
// process's start time, so a pid the kernel has since given to another
// process is never mistaken for the component. It also words how a process
// ended (ExitText) for logs and incidents.
//
// It reads /proc and is Linux-only.
//
// Concurrency: every function is safe for concurrent use. IDs are plain
// values. Watch owns one goroutine per call, which returns when the watched
// process is gone or the caller's context ends, whichever comes first.
package proc
