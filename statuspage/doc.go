// Package statuspage holds what the status page and the terminal show an
// operator of one incident: every attempt with its rung, outcome, reason
// and tokens, the files the rung was shown, the tool calls it made on
// razar.context, and each candidate diff with how its hunks were placed.
//
// It reads the record of truth (the incident's key in RAZAR_STATE and its
// audit records on stream RAZAR) through the small Source interface that
// jetstream.Store satisfies, never the logs/ mirror, and renders the view as
// HTML (html/template: component output and rung text are untrusted) or as
// plain text with terminal control characters stripped.
//
// The rest of the status page still lives in cmd/razar; it is meant to
// move here.
package statuspage
