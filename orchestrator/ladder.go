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
//
// Next asks its named decisions in order (ladder.go, below): in the takeover
// phase takeoverTurn; in the local stack thresholdReached, turnSpent,
// passOver and localRung. A decision that moves the incident to the other
// phase has Next look again, at most a bounded number of times.
func Next(p bus.Policy, c bus.Cursor, ready func(rung string) error, backoff Backoff) (Step, bus.Cursor) {
	l := newLadder(p, ready, backoff)
	c = begin(c)
	for guard := 0; guard < l.rounds(); guard++ {
		if c.Phase == phaseTakeover {
			return l.takeoverTurn(c)
		}
		s, next, v := l.localTurn(c)
		if v == decided {
			return s, next
		}
		c = next
	}
	return Step{Kind: StepFail, Reason: "ladder made no progress (roster empty?)"}, c
}

// The cursor's phases.
const (
	phaseLocal    = "local"
	phaseTakeover = "takeover"
)

// verdict is what one decision of the ladder says: a step is decided (take
// it), look again from the top with the new cursor, or go on to the next
// decision with it.
type verdict int

const (
	goOn verdict = iota
	again
	decided
)

// ladder is one call of Next: the policy and what it asks of the world.
type ladder struct {
	p        bus.Policy
	ready    func(rung string) error
	backoff  Backoff
	per      int  // attempts per turn (--remote-attempts, at least 1)
	takeover bool // the takeover rung is on: named, and T > 0
}

func newLadder(p bus.Policy, ready func(rung string) error, backoff Backoff) ladder {
	return ladder{p: p, ready: ready, backoff: backoff,
		per:      max(p.RemoteAttempts, 1),
		takeover: p.Takeover != "" && p.Threshold > 0, // T = 0 disables the takeover rung
	}
}

// rounds bounds how often Next looks again after a change of phase: a
// safety net (every decision that looks again leads to a step at the next
// look or the one after), so that no cursor can make Next loop.
func (l ladder) rounds() int { return 4 * (len(l.p.Local) + 2) }

// begin: a new incident (an empty cursor) starts on the local stack's first pass.
func begin(c bus.Cursor) bus.Cursor {
	if c.Phase == "" {
		return bus.Cursor{Phase: phaseLocal, Pass: 1}
	}
	return c
}

// takeoverTurn decides the takeover phase, always with a step: fail once
// the takeover rung was skipped or has had its turn (without --long-task),
// another turn past the normal ladder (with it), a skip when its turn starts
// and it cannot run, else an attempt.
func (l ladder) takeoverTurn(c bus.Cursor) (Step, bus.Cursor) {
	if c.Used < 0 {
		return Step{Kind: StepFail, Reason: fmt.Sprintf("takeover rung %s cannot run and %s failed", l.p.Takeover, attempts(c.Failed))}, c
	}
	if c.Used >= l.per {
		if !l.p.LongTask {
			return Step{Kind: StepFail, Reason: fmt.Sprintf("takeover rung %s failed its turn; %s failed in all", l.p.Takeover, attempts(c.Failed))}, c
		}
		c = anotherTakeoverTurn(c)
	}
	if c.Used == 0 { // the start of a takeover turn
		if err := l.ready(l.p.Takeover); err != nil {
			return l.takeoverCannotRun(c, err)
		}
	}
	return l.attempt(c, l.p.Takeover), c
}

// anotherTakeoverTurn: with --long-task the takeover rung that has had its
// turn gets another, past the normal ladder.
func anotherTakeoverTurn(c bus.Cursor) bus.Cursor {
	c.Pass++
	c.Used = 0
	c.Extended = true
	return c
}

// takeoverCannotRun is the skip of a takeover rung that cannot run at the
// start of its turn. Without --long-task the skip is recorded once and the
// next call fails the incident; with it the local stack gets the turns.
func (l ladder) takeoverCannotRun(c bus.Cursor, err error) (Step, bus.Cursor) {
	if !l.p.LongTask {
		c.Used = -1 // the skip is recorded once; the next call fails the incident
		return Step{Kind: StepSkip, Rung: l.p.Takeover, Pass: c.Pass, Reason: err.Error()}, c
	}
	then := "the local stack keeps its turns"
	if len(l.p.Local) == 0 {
		then = "it is checked again after a wait"
	}
	return Step{Kind: StepSkip, Rung: l.p.Takeover, Pass: c.Pass,
		Reason: fmt.Sprintf("takeover rung %s cannot run: %v; long task: %s", l.p.Takeover, err, then)}, toLocal(c)
}

// localTurn decides the local stack's phase: the threshold, the end of a
// rung's turn, the end of a pass, then the rung whose turn it is.
func (l ladder) localTurn(c bus.Cursor) (Step, bus.Cursor, verdict) {
	s, c, v := l.thresholdReached(c)
	if v != goOn {
		return s, c, v
	}
	c = l.turnSpent(c)
	if c.Index >= len(l.p.Local) {
		if s, c, v = l.passOver(c); v != goOn {
			return s, c, v
		}
	}
	s, c = l.localRung(c)
	return s, c, decided
}

// thresholdReached: T failed attempts (T > 0) before the ladder was
// extended end the local stack's turns. With a takeover rung it takes over;
// without one the incident fails, unless --long-task extends the ladder.
func (l ladder) thresholdReached(c bus.Cursor) (Step, bus.Cursor, verdict) {
	if c.Extended || l.p.Threshold <= 0 || c.Failed < l.p.Threshold {
		return Step{}, c, goOn
	}
	if l.p.Takeover != "" {
		return Step{}, toTakeover(c), again
	}
	if !l.p.LongTask {
		return Step{Kind: StepFail, Reason: fmt.Sprintf("%s failed (RAZAR_RSTAR_THRESHOLD=%d) and the roster has no takeover rung", attempts(c.Failed), l.p.Threshold)}, c, decided
	}
	c.Extended = true
	return Step{}, c, goOn
}

// turnSpent: a rung that has used its attempts of this turn hands the turn
// to the next rung of the stack.
func (l ladder) turnSpent(c bus.Cursor) bus.Cursor {
	if c.Index < len(l.p.Local) && c.Used >= l.per {
		c.Index++
		c.Used = 0
	}
	return c
}

// passOver decides the end of a pass of the local stack (every rung had its
// turn or was skipped). An idle pass is one in which no local rung could run.
//
//   - past the normal ladder (--long-task): the takeover rung's turn if it
//     is on, else a new pass; after an idle pass, a wait first;
//   - idle, with the takeover rung on: the takeover rung's turn;
//   - idle, --long-task, a local stack: a wait, then a new extended pass;
//   - idle otherwise: fail, nothing can run;
//   - T = 0 (no takeover rung): fail after one pass, or with --long-task a
//     new pass, extended;
//   - else a new pass.
//
// A new pass goes on to localRung; a change of phase looks again.
func (l ladder) passOver(c bus.Cursor) (Step, bus.Cursor, verdict) {
	idle := c.PassAttempts == 0 // no local rung could run in it
	switch {
	case c.Extended:
		// --long-task past the normal ladder. With a takeover rung the
		// local stack is here only because the takeover rung could not
		// run: after each full pass, look at it again.
		next := newPass(c)
		if l.takeover {
			next = toTakeover(c)
		}
		if idle {
			return waitStep(c, l.backoff), waited(next), decided
		}
		return Step{}, next, again
	case idle && l.takeover:
		return Step{}, toTakeover(c), again
	case idle && l.p.LongTask && len(l.p.Local) > 0:
		c.Extended = true
		return waitStep(c, l.backoff), waited(newPass(c)), decided
	case idle:
		return Step{Kind: StepFail, Reason: "no rung of the local stack can run"}, c, decided
	case l.p.Threshold == 0:
		if !l.p.LongTask {
			return Step{Kind: StepFail, Reason: fmt.Sprintf("one pass of the local stack failed (%d attempts) and the takeover rung is disabled (RAZAR_RSTAR_THRESHOLD=0)", c.Failed)}, c, decided
		}
		c.Extended = true
	}
	return Step{}, newPass(c), goOn
}

// localRung decides the turn of the local rung the cursor points at: a
// skip (the cursor past it) when its turn starts and it cannot run, else an
// attempt.
func (l ladder) localRung(c bus.Cursor) (Step, bus.Cursor) {
	rung := l.p.Local[c.Index]
	if c.Used == 0 {
		if err := l.ready(rung); err != nil {
			next := c
			next.Index++
			return Step{Kind: StepSkip, Rung: rung, Pass: c.Pass, Reason: err.Error()}, next
		}
	}
	return l.attempt(c, rung), c
}

// attempt is an attempt of rung; past the normal ladder it waits the
// backoff of the extended attempts first.
func (l ladder) attempt(c bus.Cursor, rung string) Step {
	s := Step{Kind: StepAttempt, Rung: rung, Pass: c.Pass}
	if c.Extended {
		s.Backoff = l.backoff.For(c.Extra + 1)
	}
	return s
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
	return bus.Cursor{Phase: phaseTakeover, Pass: c.OtherPass + 1, OtherPass: c.Pass,
		Failed: c.Failed, Extended: c.Extended, Extra: c.Extra}
}

// toLocal hands a --long-task incident whose takeover rung cannot run back
// to the local stack for a new pass in extended mode, keeping the takeover
// round in OtherPass.
func toLocal(c bus.Cursor) bus.Cursor {
	return bus.Cursor{Phase: phaseLocal, Pass: c.OtherPass + 1, OtherPass: c.Pass,
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
