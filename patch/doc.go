// Package patch is RAZAR's patch engine: it takes the unified diff (or the
// search/replace blocks) a rung's fix carries and gets it into a
// component's workdir safely, or refuses it with a reason.
//
// Its steps are functions, and Pipeline strings them together into the
// patch store's states (below, "Pipeline"): the orchestrator calls one
// Pipeline.Run per candidate diff and publishes what its Observer is told.
// The steps:
//
//   - Check first places the rung's text: it turns a diff with wrong,
//     missing or miscounted hunk headers, names without a/ and b/, context
//     that lost its trailing whitespace or line endings, or search/replace
//     blocks, into the exact diff git would have written (placement,
//     below). Then it parses that diff (git-style or plain unified, with
//     go-gitdiff) and refuses anything that could touch a file outside the
//     workdir or
//     that the engine will not apply: "..", absolute paths, symlinks
//     anywhere on a path, binary patches, symlink and submodule modes,
//     oversized diffs, text that is not a diff at all, and any path a
//     Protection covers (ComponentProtections lists a component's). It
//     only reads.
//   - Stage copies the workdir into a private directory under the RAZAR
//     home (razar.Home.Staging, 0700, one 0700 directory per patch) and applies
//     the placed diff there, exactly.
//     CleanStaging removes what a killed RAZAR left there.
//   - Validate runs the component's validate command (or any check a rung
//     asks for) in that copy, inside a Sandbox (below) where the copy is
//     the only writable tree, killed at its timeout. SandboxMain, called
//     first thing in main and in TestMain, is the sandbox's init.
//   - Promote backs up every file the patch touches under a backup
//     directory (state/patches/<component>/<patch-id>/, with manifest.json)
//     and swaps the staged files in, each atomically (temporary file and
//     rename); a failure midway puts back what it had swapped.
//   - Revert restores the workdir from a backup directory's manifest: what
//     the orchestrator does when the health check after a restart fails,
//     and what `razar rollback-patch` does.
//   - Applied and Resume read a backup directory's manifest after a crash:
//     Applied says whether every path holds its state before the patch,
//     after it, a mix, or neither (a *ConflictError naming the path);
//     Resume settles a mix, back to before for a promotion cut short (so
//     the patch can be promoted again), and to the end of a revert for one
//     cut short. AttemptID gives an attempt's candidate the same patch id,
//     and so the same backup directory, on every run.
//
// # Placement
//
// A hunk goes at its stated line when its context and removed lines are
// there exactly; else at the one place in the file where they are exactly;
// else at the one place where they are when trailing whitespace and line
// endings are ignored. A search/replace block is a hunk without a stated
// line whose SEARCH lines are removed and REPLACE lines added; an empty
// SEARCH creates a missing file. No match, or two, is a *RejectError naming
// the hunk (number and first lines) and the nearest lines of the file: by
// number, and quoted only when Limits.Quote allows that file, so a refusal
// never shows a model a file it could not read. The hunks of a file are
// placed against the file as it was, may not overlap, are merged when they
// touch, and get a context line where they would have no old or new
// lines; the file's context lines replace the model's, and a missing final
// newline is kept unless the diff marks the change. Plan.Placement notes
// every hunk not placed exactly as written, for the patch record;
// Plan.Diff is the placed diff, Plan.DiffSHA256 the hash of the text sent.
//
// Placement cannot weaken the checks: it reads a file only after the same
// path checks Check makes (clean relative path, no symlink on the way, not
// protected, a regular file, at most 8 MiB), and everything Check, Stage
// and Promote check runs on the placed diff. Its work is bounded: line ids
// and a rolling hash make each search linear in the file, and a budget of
// lines scanned refuses a diff with more misplaced hunks than that allows.
//
// # Pipeline
//
// A Pipeline (New, with a Config validated at construction) owns the
// states a rung's diff goes through in the patch store under the RAZAR
// home (razar.Home.Patches, razar.Home.Staging). Run takes one Candidate, under its
// AttemptID, through named steps:
//
//	resume    a backup for this id means a run before a restart got as far
//	          as Promote, past the approval: settle it (Resume), verify a
//	          patch found applied, stop at one found reverted, else
//	          promote again without asking for approval again
//	stage     refuse past the attempt's deadline; Check, then Stage
//	validate  the component's validate command in the Sandbox, cut at the
//	          deadline; the proposal is noted once validation has spoken
//	approve   hold for an operator ("approval": "manual", or the
//	          Candidate's Hold) until Decide, the approval window on the
//	          injected clock, or RAZAR stopping (Pending lists the held)
//	promote   Promote, with its backup and manifest
//	verify    Config.Verify; a patch it fails is reverted at once
//
// Every step tells the Observer an Event (EventProposed, EventRejected,
// EventHeld, EventReleased, EventApplied, EventReverted, EventResumed), in
// order; the observer turns them into records, metrics and alerts, so this
// package still knows nothing of the bus. Run returns razar.OutcomeHealed
// or razar.OutcomeRejected and why. ResumeAt says which candidate of an
// attempt a restarted RAZAR takes up; Prepare cleans the stages a killed
// RAZAR left and probes the sandbox at start.
//
// The Pipeline also keeps the journal of `razar rollback-patch`
// (Rollback): a RollbackNote (RollbackFile) is written in the patch's
// backup directory before any file is touched, the files are restored,
// and the note keeps the caller's reverted record (RecordFunc) until
// RollbackRecorded; whoever is killed, the next Rollback or the next start
// (Rollbacks, FinishRollback) finishes it, and the record is written once.
// Forgotten notes that the fix memory marked undone what the patch
// carried. A Pipeline over a home alone (Config{Home: home}) does this
// with RAZAR stopped.
//
// Every refusal of the diff itself is a *RejectError wrapping ErrRejected;
// a failed validate command a *ValidateError wrapping ErrValidationFailed;
// a file that changed under a step ErrConflict; a revert with no manifest,
// or of a patch already reverted, ErrNothingToRevert. Records of what was
// applied, rejected or reverted (FileChange, with sha256 before and after)
// are the caller's to publish: this package writes only the workdir, its
// staging copies and the backup directory it is given.
//
// # Threat model
//
// A diff is untrusted input from a rung, which may be a remote model or a
// compromised process, and it runs as code before anyone approves it: the
// validate command executes the patched copy. What a hostile diff can do:
//
//   - change any workdir file that is not protected: the component's own
//     code and configuration, which is what patches are for.
//
// What it cannot do:
//
//   - touch a file outside the workdir: "..", absolute paths and paths
//     through or to symlinks are refused, wherever they point;
//   - rewrite what judges it: the validate and health-check programs, the
//     scripts an interpreter or make runs for them, what those scripts
//     source, include or run by path (a best-effort scan), and the
//     component's "protect" globs (ComponentProtections says exactly
//     which). A diff touching any of them is refused, naming the file and
//     why it is protected, before anything runs;
//   - reach anything of the host's filesystem from validation but its
//     copy: the validate command runs in new mount, PID and network
//     namespaces under a root of its own, where the copy (at its own path,
//     and at the workdir's in place of the real one) and a private /tmp
//     are the only writable places, the system
//     directories (/usr, /bin, /sbin, /lib*, /etc) and the operator's
//     Sandbox.ReadOnly paths are read-only, and the RAZAR home, the real
//     workdir and every other component's files are not there at all;
//     as an unprivileged uid (65534 when RAZAR is root), without
//     capabilities or new privileges, and inside a Landlock domain where
//     the kernel has Landlock. Where the kernel refuses the namespaces the
//     command does not run (a *SandboxError), unless the operator chose
//     Sandbox.Weak;
//   - reach the network from validation: in the sandbox's network
//     namespace not even loopback is up;
//   - read RAZAR's environment: the command gets the child base (PATH,
//     HOME, LANG, TZ, TMPDIR) and the component's declared env, never the
//     rungs' keys or RAZAR_* settings;
//   - run on: the command has a deadline, its process group is killed when
//     it exits or times out, it gets SIGKILL when RAZAR dies (Linux), and
//     in a PID namespace everything it forked dies with it;
//   - leave its copy world-readable or lying around: the stage is private
//     to RAZAR's user, removed once the patch is applied or refused, and at
//     the next start if RAZAR was killed first.
//
// What is not covered:
//
//   - a validator that reads a patched data file and behaves differently
//     (`grep -q port=ok app.conf`): that is the point of validation, and
//     data files stay patchable;
//   - code the protection scan cannot see: a script a protected script
//     builds the path of at run time ("$DIR/x.sh"), modules a Python, Perl,
//     Ruby or Node script imports, a program found through PATH. If the
//     validator runs such code from the workdir, list it in "protect"
//     (a directory or a glob such as "lib/**"); until then a diff can
//     change it, and it runs during validation;
//   - what the sandbox shows read-only: the system directories, /etc
//     included (what RAZAR's user could read there the validator can, as
//     65534 or RAZAR's uid), and Sandbox.ReadOnly; what it may write: its
//     copy (Promote refuses a patch whose staged files changed under it)
//     and its private /tmp, bounded by memory only;
//   - the kernel itself: a validator that exploits a kernel bug from
//     inside the namespaces escapes them, as from any container;
//   - the weak sandbox (Sandbox.Weak, RAZAR_SANDBOX=weak) where the kernel
//     refuses namespaces: then the validator runs as RAZAR's user and can
//     read and write whatever that user can, the RAZAR home and its seeds
//     included, without network only where user and network namespaces
//     are allowed (NetworkIsolation), and what it forks and moves out of
//     its process group can outlive it; RAZAR logs a SECURITY warning at
//     start and says so in every patch record;
//   - the component itself runs the patched code after promotion (and
//     approval, for "approval": "manual"): that is what a patch does. A
//     patch that does not hold is reverted, but what it did while it ran is
//     not undone;
//   - a workdir changed concurrently by a hostile local process between a
//     step's checks and its writes. Every step re-checks paths and hashes
//     before writing, which catches a component or operator editing files
//     meanwhile, but it does not use openat-style descriptors, so a
//     well-timed symlink swap by a local attacker could still race it.
//
// Concurrency: the functions keep no shared state, but for the one
// NetworkIsolation probe, and are safe to call concurrently on different
// workdirs (and Sandbox.Validate on different directories: when RAZAR is
// root it hands the directory to the sandbox's uid for the run). Two
// patches to the same workdir must not overlap: callers serialise patches
// per component, from Check to Promote or Revert, and so Pipeline.Run and
// Rollback per component. A Pipeline's only shared state is the set of
// held patches, under its mutex: Pending and Decide are safe from any
// goroutine while Runs wait. Run calls its Observer on the caller's
// goroutine. CleanStaging (and Prepare) must not run while a patch is
// staged. A Plan is used by one goroutine at a time.
package patch
