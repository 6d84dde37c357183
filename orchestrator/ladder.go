package orchestrator

import (
	"fmt"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/backoff"
)

// StepKind is what the ladder says to do next.
type StepKind int

// The ladder's steps.
const (
	// StepAttempt: hand an attempt to Rung (after Backoff, if set).
	StepAttempt StepKind = iota + 1
	// StepSkip: record Rung as skipped (it cannot run; Reason says why), then
	// ask again. A skip is not an attempt.
	StepSkip
	// StepFail: the incident failed; Reason says why.
	StepFail
	// StepWait: --long-task only. No rung could run in the last round (every
	// one was skipped): sleep Backoff, store nothing but the cursor, then ask
	// again; a credential may have been rotated in meanwhile. The waits grow
	// like the extended attempts' backoff and are capped by it.
	StepWait
)

// Step is one decision of the ladder.
type Step struct {
	Kind    StepKind
	Rung    string
	Pass    int
	Reason  string        // StepSkip: why the rung cannot run; StepFail: why the incident failed; StepWait: why it waits
	Backoff time.Duration // StepAttempt in --long-task extended mode: wait this long first; StepWait: how long to wait
}

// Backoff is the capped exponential wait between attempts once --long-task
// has taken an incident past the normal ladder: RAZAR's one backoff.
type Backoff = backoff.Backoff

// DefaultLongTaskBackoff starts at 1 s and doubles up to 60 s.
var DefaultLongTaskBackoff = Backoff{Base: time.Second, Max: time.Minute}

// Next is the ladder of CONTRACT section 3 as a pure function: given the
// incident's policy and cursor, and whether each rung can run, it returns the
// next step and the cursor after it. It has no side effects; the orchestrator
// stores the cursor with compare-and-set before acting on the step.
//
// ready reports nil when a rung can run, else why not.
//
// With --long-task a takeover rung that cannot run does not end the incident:
// the ladder records it skipped and gives the local stack another full pass
// (in extended mode, with backoff), then comes back to the takeover rung, which
// gets its turn if it can run by then, or is skipped once more. When a round
// finds no rung at all that can run, the ladder says StepWait instead of
// going round again at once. Without --long-task nothing of this applies.
func Next(p bus.Policy, c bus.Cursor, ready func(rung string) error, backoff Backoff) (Step, bus.Cursor) {
	per := max(p.RemoteAttempts, 1)
	if c.Phase == "" {
		c = bus.Cursor{Phase: "local", Pass: 1}
	}
	takeover := p.Takeover != "" && p.Threshold > 0 // T = 0 disables the takeover rung
	for guard := 0; guard < 4*(len(p.Local)+2); guard++ {
		if c.Phase == "takeover" {
			if c.Used < 0 {
				return Step{Kind: StepFail, Reason: fmt.Sprintf("takeover rung %s cannot run and %s failed", p.Takeover, attempts(c.Failed))}, c
			}
			if c.Used >= per {
				if !p.LongTask {
					return Step{Kind: StepFail, Reason: fmt.Sprintf("takeover rung %s failed its turn; %s failed in all", p.Takeover, attempts(c.Failed))}, c
				}
				c.Pass++
				c.Used = 0
				c.Extended = true
			}
			if c.Used == 0 { // the start of a takeover turn
				if err := ready(p.Takeover); err != nil {
					if !p.LongTask {
						c.Used = -1 // the skip is recorded once; the next call fails the incident
						return Step{Kind: StepSkip, Rung: p.Takeover, Pass: c.Pass, Reason: err.Error()}, c
					}
					then := "the local stack keeps its turns"
					if len(p.Local) == 0 {
						then = "it is checked again after a wait"
					}
					return Step{Kind: StepSkip, Rung: p.Takeover, Pass: c.Pass,
						Reason: fmt.Sprintf("takeover rung %s cannot run: %v; long task: %s", p.Takeover, err, then)}, toLocal(c)
				}
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
				c = toTakeover(c)
				continue
			}
			if !p.LongTask {
				return Step{Kind: StepFail, Reason: fmt.Sprintf("%s failed (RAZAR_RSTAR_THRESHOLD=%d) and the roster has no takeover rung", attempts(c.Failed), p.Threshold)}, c
			}
			c.Extended = true
		}
		if c.Index < len(p.Local) && c.Used >= per {
			c.Index++
			c.Used = 0
		}
		if c.Index >= len(p.Local) { // the pass is over
			idle := c.PassAttempts == 0 // no local rung could run in it
			switch {
			case c.Extended:
				// --long-task past the normal ladder. With a takeover rung
				// the local stack is here only because the takeover rung
				// could not run: after each full pass, look at it again.
				next := newPass(c)
				if takeover {
					next = toTakeover(c)
				}
				if idle {
					return waitStep(c, backoff), waited(next)
				}
				c = next
				continue
			case idle && takeover:
				c = toTakeover(c)
				continue
			case idle && p.LongTask && len(p.Local) > 0:
				c.Extended = true
				return waitStep(c, backoff), waited(newPass(c))
			case idle:
				return Step{Kind: StepFail, Reason: "no rung of the local stack can run"}, c
			case p.Threshold == 0:
				if !p.LongTask {
					return Step{Kind: StepFail, Reason: fmt.Sprintf("one pass of the local stack failed (%d attempts) and the takeover rung is disabled (RAZAR_RSTAR_THRESHOLD=0)", c.Failed)}, c
				}
				c.Extended = true
			}
			c = newPass(c)
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

// newPass starts the local stack's next pass.
func newPass(c bus.Cursor) bus.Cursor {
	c.Pass++
	c.Index = 0
	c.Used = 0
	c.PassAttempts = 0
	return c
}

// toTakeover starts the takeover rung's next round, keeping the local
// stack's pass in OtherPass.
func toTakeover(c bus.Cursor) bus.Cursor {
	return bus.Cursor{Phase: "takeover", Pass: c.OtherPass + 1, OtherPass: c.Pass,
		Failed: c.Failed, Extended: c.Extended, Extra: c.Extra}
}

// toLocal hands a --long-task incident whose takeover rung cannot run back
// to the local stack for a new pass in extended mode, keeping the takeover
// round in OtherPass.
func toLocal(c bus.Cursor) bus.Cursor {
	return bus.Cursor{Phase: "local", Pass: c.OtherPass + 1, OtherPass: c.Pass,
		Failed: c.Failed, Extended: true, Extra: c.Extra}
}

// minWait keeps a wait a wait even when the backoff is configured as none.
const minWait = time.Second

// waitStep is the pause of a --long-task incident in which no rung could run.
func waitStep(c bus.Cursor, backoff Backoff) Step {
	return Step{Kind: StepWait, Pass: c.Pass, Backoff: max(backoff.For(c.Extra+1), minWait),
		Reason: "no rung can run; waiting before checking again"}
}

// waited is the cursor after a wait: the wait counts towards the backoff, so
// the waits grow to its cap while nothing can run.
func waited(c bus.Cursor) bus.Cursor {
	c.Extra++
	return c
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

// attempts is "1 attempt", "9 attempts".
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
