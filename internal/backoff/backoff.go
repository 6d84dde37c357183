// Package backoff is RAZAR's one capped exponential backoff: local restarts
// of a crashing component, --long-task attempts, a remote backend's retries,
// the log mirror's write retries and alert deliveries all wait by it. It
// only computes waits; the caller sleeps (on its own clock). A Backoff is a
// value: safe to share between goroutines.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff doubles from Base up to Max.
type Backoff struct {
	Base, Max time.Duration
}

// For returns the wait before the n-th retry (n from 1): Base, 2×Base, ...
// never more than Max. It is 0 for n ≤ 0 or a zero Base; a zero Max means
// no growth (Base every time).
func (b Backoff) For(n int) time.Duration {
	if n <= 0 || b.Base <= 0 {
		return 0
	}
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// Jittered adds up to frac of d at random, still never more than Max.
func (b Backoff) Jittered(d time.Duration, frac float64) time.Duration {
	if d <= 0 || frac <= 0 {
		return d
	}
	d += time.Duration(rand.Float64() * frac * float64(d))
	if b.Max > 0 && d > b.Max {
		return b.Max
	}
	return d
}
