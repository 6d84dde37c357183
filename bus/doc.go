// Package bus is RAZAR's wire contract: every subject, every payload and its
// version, the one codec, connection helpers and the lifecycle-bus client.
//
// A subject that is not built in subjects.go does not exist. Payloads are
// versioned structs (field "v"); renaming a field is a protocol change and goes
// into docs/PROTOCOL.md together with the code.
//
// Everything here is safe for concurrent use; nothing here starts goroutines
// except the nats.go connection itself.
package bus
