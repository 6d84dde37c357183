// Package runas resolves a component's "user" and "group" (boot_config.json)
// into the credential its processes run with, as systemd's User= and
// Group= do: set in the child between fork and exec, so the component, its
// health check and everything they fork never run with RAZAR's rights.
//
// A user is a name or a numeric id, looked up in the system's user
// database; an unknown one is an error naming it. The group defaults to
// the user's primary group; the supplementary groups are the user's own
// (never RAZAR's). Only root may switch to another user or group.
//
// Concurrency: Resolve reads the user database on every call and keeps no
// state; an Identity is read-only once made.
package runas
