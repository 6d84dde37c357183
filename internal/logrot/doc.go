// Package logrot owns a component's output file when the component writes it
// itself: the child's stdout and stderr are the file, opened O_APPEND (Open),
// with no pipe through RAZAR, so the child keeps running and logging when
// RAZAR dies. The file is bounded by copy-truncate rotation (Rotate, and
// Rotator for many files), as logrotate's copytruncate does, since the
// child's descriptor cannot be swapped for a new file; Tail and Size read it
// back for incidents.
//
// Since the component writes the file, every line in it may be the
// component's: RAZAR's start markers carry a mark (an HMAC under a key only
// RAZAR's user reads, StartMarker), and Markers shows any other line that
// looks like one as the component's (marker.go).
//
// Concurrency: Open, Rotate, Tail and Size are safe to call from any
// goroutine, but two Rotate calls for the same path must not overlap (a
// Rotator serialises its own). A Rotator is safe for concurrent use; it owns
// no goroutine: the caller runs Run. A Markers is for one reader at a time.
package logrot
