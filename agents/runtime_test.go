package agents

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// TestRedeliveredAttemptAnsweredOnce: a rung process took an attempt,
// published its answer and died before acking. The attempt comes back to
// the next process, which sees the answer on the stream and acks without
// running the backend again.
func TestRedeliveredAttemptAnsweredOnce(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	const ackWait = time.Second
	if err := env.Store.EnsureAgentConsumer(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	esc := &bus.Escalation{Incident: "inc-1", Component: "web", Error: "down", Attempt: 1, Rung: "k2", Pass: 1,
		Deadline: time.Now().Add(time.Minute), Context: []razar.Attempt{}}
	if err := env.Store.Publish(ctx, bus.EscalateSubject("k2"), bus.EscalationMsgID("inc-1", 1), esc); err != nil {
		t.Fatal(err)
	}
	// The process that dies: it takes the attempt and answers, but never acks.
	js, err := natsjs.New(env.NC)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, bus.StreamName, bus.ConsumerName("k2"))
	if err != nil {
		t.Fatal(err)
	}
	// Shorten the ack wait so the redelivery comes soon.
	info, _ := cons.Info(ctx)
	cfg := info.Config
	cfg.AckWait = ackWait
	if _, err := js.UpdateConsumer(ctx, bus.StreamName, cfg); err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, natsjs.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range batch.Messages() {
		got++
	}
	if got != 1 {
		t.Fatalf("the dying process fetched %d messages", got)
	}
	res := &bus.Result{Incident: "inc-1", Attempt: 1, Rung: "k2", Status: razar.StatusNoFix, Summary: "first answer"}
	if err := env.Store.Publish(ctx, bus.ResultSubject("inc-1", "k2"), bus.ResultMsgID("inc-1", 1), res); err != nil {
		t.Fatal(err)
	}

	var calls atomic.Int32
	rt, err := New(env.Store, Config{Name: "k2", AckWait: ackWait, Heartbeat: time.Hour, Log: zerolog.Nop(),
		Load: func(context.Context) (razar.Agent, error) {
			return razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
				calls.Add(1)
				return razar.Fix{Status: razar.StatusNoFix, Summary: "second answer"}, nil
			}), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(rctx) }()
	defer func() { cancel(); <-done }()

	// The redelivered attempt is acked: nothing pending, nothing waiting for an ack.
	bustest.Eventually(t, 20*time.Second, func() bool {
		drained, err := env.Store.Drained(ctx, bus.ConsumerName("k2"))
		if err != nil || !drained {
			return false
		}
		i, err := cons.Info(ctx)
		return err == nil && i.NumRedelivered == 0 && i.AckFloor.Consumer >= 1
	}, "the redelivered attempt was not settled")
	if n := calls.Load(); n != 0 {
		t.Fatalf("the backend ran %d times for an attempt already answered", n)
	}
	var results int
	_ = env.Store.Scan(ctx, bus.ResultSubject("inc-1", "k2"), time.Time{}, false, func(uint64, string, []byte) error { results++; return nil })
	if results != 1 {
		t.Fatalf("%d results on the stream, want 1", results)
	}
}
