// Package patch is RAZAR's patch engine: it takes the unified diff a rung's
// fix carries and gets it into a component's workdir safely, or refuses it
// with a reason.
//
// It owns five steps, each a function the orchestrator calls in turn:
//
//   - Check parses the diff (git-style or plain unified, with go-gitdiff)
//     and refuses anything that could touch a file outside the workdir or
//     that the engine will not apply: "..", absolute paths, symlinks
//     anywhere on a path, binary patches, symlink and submodule modes,
//     oversized diffs, text that is not a diff at all. It only reads.
//   - Stage copies the workdir into a private temporary directory and
//     applies the diff there; a hunk that does not apply is a rejection.
//   - Validate runs the component's validate command in that copy, in its
//     own process group, killed at its timeout.
//   - Promote backs up every file the patch touches under a backup
//     directory (state/patches/<component>/<patch-id>/, with manifest.json)
//     and swaps the staged files in, each atomically (temporary file and
//     rename); a failure midway puts back what it had swapped.
//   - Revert restores the workdir from a backup directory's manifest: what
//     the orchestrator does when the health check after a restart fails,
//     and what `razar rollback-patch` does.
//
// Every refusal of the diff itself is a *RejectError wrapping ErrRejected;
// a failed validate command a *ValidateError wrapping ErrValidationFailed;
// a file that changed under a step ErrConflict; a revert with no manifest,
// or of a patch already reverted, ErrNothingToRevert. Records of what was
// applied, rejected or reverted (FileChange, with sha256 before and after)
// are the caller's to publish: this package writes only the workdir, its
// staging copies and the backup directory it is given.
//
// What it does not defend against: a workdir changed concurrently by a
// hostile process between a step's checks and its writes. Every step
// re-checks paths and hashes before writing, which catches a component or
// operator editing files meanwhile, but it does not use openat-style
// descriptors, so a well-timed symlink swap by a local attacker could still
// race it.
//
// Concurrency: the functions keep no shared state and are safe to call
// concurrently on different workdirs. Two patches to the same workdir must
// not overlap: callers serialise patches per component, from Check to
// Promote or Revert. A Plan is used by one goroutine at a time.
package patch
