// Package jetstream is everything JetStream: the embedded nats-server, the
// RAZAR stream (escalations and the audit trail, written by the
// orchestrator alone), the RAZAR_RESULTS stream (the rungs' answers, kept
// apart so no answer can evict a record) and the in-place upgrade of a
// store from before it, the per-rung durable consumers, the RAZAR_STATE
// bucket, the incident ledger (compare-and-set on KV revisions), audit
// replay, and the leaf link to a hub that may only read.
//
// It is the only package that imports nats.go/jetstream and nats-server.
// A *Store is safe for concurrent use. The *Server owns the embedded
// nats-server; Shutdown is idempotent and waits for it to stop.
package jetstream
