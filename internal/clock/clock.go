// Package clock is the time source of the supervisor and the orchestrator,
// so tests can drive start graces, backoffs, approval windows and waits
// without sleeping: Real in production, Fake in tests.
//
// Concurrency: both clocks are safe for concurrent use.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// After implements Clock.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sleep waits d on c, or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, c Clock, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if _, real := c.(Real); real {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	select {
	case <-ctx.Done():
		return false
	case <-c.After(d):
		return true
	}
}

// Fake is a clock that moves only when told to. Waiters registered with
// After fire when Advance takes the clock past their deadline.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	added   chan struct{} // closed and replaced whenever a waiter is added
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake returns a fake clock at start.
func NewFake(start time.Time) *Fake { return &Fake{now: start, added: make(chan struct{})} }

// Now implements Clock.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After implements Clock.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.now.Add(d), ch: ch})
	close(f.added)
	f.added = make(chan struct{})
	return ch
}

// Advance moves the clock by d and fires every waiter due by then.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(f.now) {
			w.ch <- f.now
			continue
		}
		kept = append(kept, w)
	}
	f.waiters = kept
}

// Waiters returns the deadlines still pending, as durations from now.
func (f *Fake) Waiters() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]time.Duration, 0, len(f.waiters))
	for _, w := range f.waiters {
		out = append(out, w.at.Sub(f.now))
	}
	return out
}

// WaitFor blocks until a pending waiter's remaining time matches, or ctx
// ends; it reports whether one is. Tests use it to know what the code under
// test waits for before they Advance.
func (f *Fake) WaitFor(ctx context.Context, match func(d time.Duration) bool) bool {
	for {
		f.mu.Lock()
		for _, w := range f.waiters {
			if match(w.at.Sub(f.now)) {
				f.mu.Unlock()
				return true
			}
		}
		added := f.added
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-added:
		}
	}
}
