// Package tailfile reads the last lines of a file back from its end, in
// blocks, so showing the end of a large log costs the end and not the
// file: `razar logs` prints a component's last lines with it, and the
// status page reads the newest records of a logs/ mirror file.
//
// It is a leaf: standard library only.
//
// Concurrency: Lines holds no state and only reads (ReadAt), so it may be
// called from any goroutine, on the same file too.
package tailfile
