package jetstream_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// BenchmarkAudit measures a durable, deduplicated audit publish (JetStream
// ack, Nats-Msg-Id) against a core publish and flush on the same server:
// the baseline.
func BenchmarkAudit(b *testing.B) {
	env := bustest.New(b)
	rec := &bus.AuditRecord{Event: bus.EventAttempt, Component: "web", Incident: "inc-1", Agent: "k2", Summary: "no fix"}
	data, _ := bus.Encode(rec)
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			_ = env.NC.Publish("bench.core", data)
			_ = env.NC.Flush()
		}
	})
	b.Run("razar", func(b *testing.B) {
		ctx := context.Background()
		i := 0
		for b.Loop() {
			i++
			if err := env.Store.Audit(ctx, rec, fmt.Sprintf("bench-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
