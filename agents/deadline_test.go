package agents

import (
	"testing"
	"time"
)

func TestAttemptDeadlineNeverLiesFurtherThanTheAttemptsWholeTime(t *testing.T) {
	pub := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	deadline := pub.Add(20 * time.Second)
	for _, tc := range []struct {
		name      string
		published time.Time
		now       time.Time
		want      time.Time
	}{
		{"taken at once", pub, pub, deadline},
		{"taken half way", pub, pub.Add(10 * time.Second), deadline},
		{"clock stepped back an hour", pub, pub.Add(-time.Hour), pub.Add(-time.Hour + 20*time.Second)},
		{"past the deadline", pub, pub.Add(time.Minute), deadline},
		{"no stream time", time.Time{}, pub.Add(-time.Hour), deadline},
	} {
		if got := attemptDeadline(deadline, tc.published, tc.now); !got.Equal(tc.want) {
			t.Errorf("%s: deadline %v, want %v", tc.name, got, tc.want)
		}
	}
}
