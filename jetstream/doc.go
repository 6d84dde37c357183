// Package jetstream is everything JetStream: the embedded nats-server, the
// RAZAR stream, the per-rung durable consumers, the RAZAR_STATE bucket, the
// incident ledger (compare-and-set on KV revisions) and audit replay.
//
// It is the only package that imports nats.go/jetstream and nats-server.
// A *Store is safe for concurrent use. The *Server owns the embedded
// nats-server; Shutdown is idempotent and waits for it to stop.
package jetstream
