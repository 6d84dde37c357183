package jetstream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// TestTailDeliversOnlyTheFilterInStreamOrderFromTheGivenSequence: Tail
// starts where it is told, skips other subjects and sees records stored
// after it caught up.
func TestTailDeliversOnlyTheFilterInStreamOrderFromTheGivenSequence(t *testing.T) {
	env := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	publish := func(subject string) uint64 {
		t.Helper()
		rec := &bus.AuditRecord{Event: bus.EventOpened, Component: "x", Incident: "i"}
		rec.Stamp(time.Now())
		seq, err := env.Store.PublishSeq(ctx, subject, "", rec)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	audit := bus.AuditSubject("x", bus.EventOpened)
	publish(audit)
	second := publish(audit)
	publish(bus.EscalateSubject("k2"))
	want := []uint64{second, publish(audit)}

	idle := make(chan struct{}, 1)
	var got []uint64
	done := make(chan error, 1)
	stop := errors.New("stop")
	go func() {
		done <- env.Store.Tail(ctx, bus.AuditAll, second, func(m *jetstream.StoredMsg) error {
			got = append(got, m.Seq)
			if len(got) == 3 {
				return stop
			}
			return nil
		}, func() {
			select {
			case idle <- struct{}{}:
			default:
			}
		})
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		t.Fatal("Tail never caught up")
	}
	want = append(want, publish(audit))
	if err := <-done; !errors.Is(err, stop) {
		t.Fatalf("Tail returned %v, want fn's error", err)
	}
	if len(got) != len(want) {
		t.Fatalf("got sequences %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got sequences %v, want %v", got, want)
		}
	}
}
