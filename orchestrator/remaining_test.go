package orchestrator

import (
	"testing"
	"time"

	"github.com/razar/razar/bus"
)

func TestRemainingNeverExceedsTheAttemptsOwnTimeWhateverTheClockDid(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	p := &bus.Pending{Started: start, Deadline: start.Add(20 * time.Second)}
	for _, tc := range []struct {
		name string
		now  time.Time
		want time.Duration
	}{
		{"just started", start, 20 * time.Second},
		{"half way", start.Add(10 * time.Second), 10 * time.Second},
		{"clock stepped back an hour", start.Add(-time.Hour), 20 * time.Second},
		{"clock stepped back two minutes after 5 s", start.Add(5*time.Second - 2*time.Minute), 20 * time.Second},
		{"past the deadline", start.Add(time.Minute), 0},
		{"clock stepped forward an hour", start.Add(time.Hour), 0},
	} {
		if got := remaining(p, tc.now); got != tc.want {
			t.Errorf("%s: remaining %v, want %v", tc.name, got, tc.want)
		}
	}
}
