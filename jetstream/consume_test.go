package jetstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

func TestConsumeSharesOneDurable(t *testing.T) {
	env := bustest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan uint64, 10)
	done := make(chan error, 1)
	go func() {
		done <- env.Store.Consume(ctx, jetstream.ConsumerConfig{Durable: "agent_crown", Filter: bus.EscalateSubject("crown")}, func(_ context.Context, d *jetstream.Delivery) {
			_ = d.Ack()
			got <- d.Seq
		})
	}()
	rec := &bus.AuditRecord{Event: bus.EventOpened, Component: "x", Incident: "i"}
	rec.Stamp(time.Now())
	if err := env.Store.Publish(ctx, bus.EscalateSubject("crown"), "", rec); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
