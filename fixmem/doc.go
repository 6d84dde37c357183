// Package fixmem is RAZAR's fix memory: what healed a failure before, so a
// recurrence is tried with the fix that held instead of climbing the whole
// ladder again.
//
// It owns two things. Failure signatures (Signature, Normalize): a
// component plus its failure text with the run-to-run noise masked
// (timestamps, temp paths, hex ids, pids, ports, numbers), hashed. And the
// Memory: the fixes learned per signature, folded from the fix records of
// the audit stream (Apply), so the memory is replayed at start and
// replicated with the stream like every other record; the orchestrator is
// the only writer of those records. The package does not touch files or
// the bus: whether a remembered fix still fits the workdir, and taking it
// through the patch pipeline, are the orchestrator's.
//
// Concurrency: a Memory is safe for concurrent use; the values it returns
// are copies.
package fixmem
