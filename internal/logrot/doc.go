// Package logrot owns a component's output file when the component writes it
// itself: the child's stdout and stderr are the file, opened O_APPEND (Open),
// with no pipe through RAZAR, so the child keeps running and logging when
// RAZAR dies. The file is bounded by copy-truncate rotation (Rotate, and
// Rotator for many files), as logrotate's copytruncate does, since the
// child's descriptor cannot be swapped for a new file; Tail and Size read it
// back for incidents.
//
// Concurrency: Open, Rotate, Tail and Size are safe to call from any
// goroutine, but two Rotate calls for the same path must not overlap (a
// Rotator serialises its own). A Rotator is safe for concurrent use; it owns
// no goroutine: the caller runs Run.
package logrot
