// Package workspace is what a rung may see of a component: the gate every
// byte passes before it leaves the host for a model, and the read-only
// tools a rung calls on razar.context.<incident>.<rung>.
//
// A View is one component's workdir seen through the gate. Build makes the
// razar.Workspace an escalation carries: the component's entry (paths as
// the operator wrote them, env variable names, never values), the tail of
// logs/components/<name>.log, a listing of the workdir (capped at
// MaxListing entries) and the text of the files that matter most, within a
// byte budget: files named in the error or the log tail, then the scripts
// the command, validator and health check run, then small text files by
// relevance (config-like, recently modified). Serve answers the tools
// list, read, search and log; attempt and check belong to the
// orchestrator, which holds the records and the patch engine.
//
// The gate, the same for every route: a path must be relative to the
// workdir, hold no "..", and no component of it may be a symlink (checked
// before and after the open, under an os.Root that keeps every open inside
// the workdir); files over MaxFileBytes, binaries (a NUL byte or invalid
// UTF-8) and the deny-list (DefaultDeny, extended by the component's
// context.exclude, narrowed by context.include) are never read, nor, when
// the workdir holds the RAZAR home, the home's own directories (state/,
// config/, secrets/, logs/, ...), whatever include says. Every
// text shown passes the redactor the View was given, the same one that
// scrubs records, and a file's hash and size are those of what was sent.
//
// What it does not cover: a file the component writes between the listing
// and a read may change; a path swapped for a symlink inside the workdir
// during a read can at worst reach another file inside the workdir.
//
// Concurrency: a View is immutable once made and safe for concurrent use.
// Nothing here starts goroutines or writes a file.
package workspace
