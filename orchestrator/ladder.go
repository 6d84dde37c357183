package orchestrator

import (
	"fmt"
	"time"

	"github.com/razar/razar/bus"
)

// StepKind is what the ladder says to do next.
type StepKind int

// The ladder's steps.
const (
	StepAttempt StepKind = iota + 1 // hand an attempt to Rung
	StepSkip                        // record Rung as skipped (it cannot run), then ask again
	StepFail                        // the incident failed: Reason says why
)

// Step is one decision of the ladder.
type Step struct {
	Kind    StepKind
	Rung    string
	Pass    int
	Reason  string        // StepSkip: why the rung cannot run; StepFail: why the incident failed
	Backoff time.Duration // StepAttempt in --long-task extended mode: wait this long first
}

// Backoff is the capped exponential wait between attempts once --long-task
// has taken an incident past the normal ladder.
type Backoff struct {
	Base, Max time.Duration
}

// DefaultLongTaskBackoff starts at 1 s and doubles up to 60 s.
var DefaultLongTaskBackoff = Backoff{Base: time.Second, Max: time.Minute}

// For returns the wait before the n-th extended attempt (n from 1).
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

// Next is the ladder of CONTRACT section 3 as a pure function: given the
// incident's policy and cursor, and whether each rung can run, it returns the
// next step and the cursor after it. It has no side effects; the orchestrator
// stores the cursor with compare-and-set before acting on the step.
//
// ready reports nil when a rung can run, else why not.
func Next(p bus.Policy, c bus.Cursor, ready func(rung string) error, backoff Backoff) (Step, bus.Cursor) {
	per := max(p.RemoteAttempts, 1)
	if c.Phase == "" {
		c = bus.Cursor{Phase: "local", Pass: 1}
	}
	for guard := 0; guard < 4*(len(p.Local)+2); guard++ {
		if c.Phase == "takeover" {
			if c.Used == 0 && c.Pass == 1 {
				if err := ready(p.Takeover); err != nil {
					c.Used = -1 // the skip is recorded once; the next call fails the incident
					return Step{Kind: StepSkip, Rung: p.Takeover, Pass: c.Pass, Reason: err.Error()}, c
				}
			}
			if c.Used < 0 {
				return Step{Kind: StepFail, Reason: fmt.Sprintf("takeover rung %s cannot run and %d attempts have failed", p.Takeover, c.Failed)}, c
			}
			if c.Used >= per {
				if !p.LongTask {
					return Step{Kind: StepFail, Reason: fmt.Sprintf("takeover rung %s failed its turn; %d attempts failed in all", p.Takeover, c.Failed)}, c
				}
				c.Pass++
				c.Used = 0
				c.Extended = true
			}
			s := Step{Kind: StepAttempt, Rung: p.Takeover, Pass: c.Pass}
			if c.Extended {
				s.Backoff = backoff.For(c.Extra + 1)
			}
			return s, c
		}

		// The local stack.
		if !c.Extended && p.Threshold > 0 && c.Failed >= p.Threshold {
			if p.Takeover != "" {
				c = bus.Cursor{Phase: "takeover", Pass: 1, Failed: c.Failed}
				continue
			}
			if !p.LongTask {
				return Step{Kind: StepFail, Reason: fmt.Sprintf("%d attempts failed (RAZAR_RSTAR_THRESHOLD=%d) and the roster has no takeover rung", c.Failed, p.Threshold)}, c
			}
			c.Extended = true
		}
		if c.Index < len(p.Local) && c.Used >= per {
			c.Index++
			c.Used = 0
		}
		if c.Index >= len(p.Local) { // the pass is over
			if c.PassAttempts == 0 {
				if p.Takeover != "" && p.Threshold > 0 {
					c = bus.Cursor{Phase: "takeover", Pass: 1, Failed: c.Failed}
					continue
				}
				return Step{Kind: StepFail, Reason: "no rung of the local stack can run"}, c
			}
			if p.Threshold == 0 && !c.Extended {
				if !p.LongTask {
					return Step{Kind: StepFail, Reason: fmt.Sprintf("one pass of the local stack failed (%d attempts) and the takeover rung is disabled (RAZAR_RSTAR_THRESHOLD=0)", c.Failed)}, c
				}
				c.Extended = true
			}
			c.Pass++
			c.Index = 0
			c.Used = 0
			c.PassAttempts = 0
		}
		rung := p.Local[c.Index]
		if c.Used == 0 {
			if err := ready(rung); err != nil {
				next := c
				next.Index++
				return Step{Kind: StepSkip, Rung: rung, Pass: c.Pass, Reason: err.Error()}, next
			}
		}
		s := Step{Kind: StepAttempt, Rung: rung, Pass: c.Pass}
		if c.Extended {
			s.Backoff = backoff.For(c.Extra + 1)
		}
		return s, c
	}
	return Step{Kind: StepFail, Reason: "ladder made no progress (roster empty?)"}, c
}

// Record advances the cursor past one finished attempt.
func Record(c bus.Cursor, failed bool) bus.Cursor {
	c.Used++
	c.PassAttempts++
	if failed {
		c.Failed++
	}
	if c.Extended {
		c.Extra++
	}
	return c
}
