// Package statuspage is the status page of a running RAZAR (Page, served
// at / on the metrics listener: the components by chakra layer, open
// incidents at their rung, patches waiting for approval, the fix memory
// and the latest escalations and patches) and what the page and the
// terminal show an operator of one incident (/incident/<id>): every attempt with its rung, outcome, reason
// and tokens, the files the rung was shown, the tool calls it made on
// razar.context, and each candidate diff with how its hunks were placed.
//
// It reads the record of truth (the incident's key in RAZAR_STATE and its
// audit records on stream RAZAR) through the small Source interface that
// jetstream.Store satisfies, never the logs/ mirror, and renders the view as
// HTML (html/template: component output and rung text are untrusted) or as
// plain text with terminal control characters stripped.
//
// Page reads the running RAZAR through the Status interface it defines
// (the host satisfies it), the incidents through Source, and the newest
// lines of two logs/ mirror files; it holds no state between requests.
//
// Concurrency: a Page serves requests concurrently; everything it reads
// must be safe for concurrent use. It starts no goroutine.
package statuspage
