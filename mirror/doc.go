// Package mirror copies the audit stream, RAZAR's record of truth, into
// the JSON-lines files under logs/ for tail and jq: the attempts,
// escalations and skips (razar_ai_invocations.json), the handshake
// dialogues (razar_crown_dialogues.json), the patches proposed and pending
// (razar_ai_patches.json) and their verdicts (patch_history.jsonl). Each
// record is one whole line with its stream sequence ("seq"); the position
// reached is kept in logs/.mirror.seq. Files are rotated past a size,
// repaired when opened, and written through package jsonl, which keeps
// them whole lines only. The mirror never gives a record up: one it cannot
// write is retried with a capped backoff (internal/backoff) until it is.
//
// Nothing else in RAZAR depends on these files: the stream holds every
// record whole, and a lost file is written again from it.
//
// Concurrency: a Mirror is driven by one goroutine, its Run; its open
// files and its kept position belong to that goroutine. Flush may be
// called from another goroutine while Run runs: it only reads the
// sequence Run has reached (atomic) and the stream.
package mirror
