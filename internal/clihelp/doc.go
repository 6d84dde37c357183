// Package clihelp is how razar's cobra command tree reads to an operator:
// commands listed in the order they were added, help pages in the layout
// the CLI had before cobra (usage line, description, more help, flags,
// global flags), flags typed with one dash read as long flags, and every
// bad command line a one-line error: a flag's error says what it needs or
// points at --help, an unknown command names the likely one. The tree's
// commands and their wording are cmd/razar's; this is the mechanism.
//
// Concurrency: a Tree is built, then used, by the one goroutine that runs
// the command line; nothing here is safe for concurrent use.
package clihelp
