// Package ctl is the operator's client of a RAZAR home: what the commands
// of `razar` do once cmd/razar has parsed them. It prints the status, the
// audit trail and its records, sends the lifecycle verbs and reads their
// verdicts, follows incidents and component logs, and runs the fix memory,
// memory, identity, agents and rollback verbs.
//
// A Client is one home as the operator reaches it: the directory, the
// identity to connect as, the variables (the environment, then
// config/razar.env) and where to print. Each command is a method taking an
// options struct; it returns an *ExitError carrying the exit status (2 bad
// usage, 1 the job failed), or a *razar.ConfigError.
//
// It talks to a running RAZAR only over the bus (bus, jetstream's client
// side, auth); with RAZAR stopped some commands read the home's files or
// serve its store privately, as its owner, for as long as they run.
//
// Concurrency: a Client serves one command at a time; its methods are not
// safe for concurrent use, except that the Redactor and Getenv it is given
// must be.
package ctl
