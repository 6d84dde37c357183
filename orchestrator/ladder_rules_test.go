package orchestrator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/razar/razar/bus"
)

// The ladder's named decisions, one table each. Every row is a moment of an
// incident: the policy, the cursor as stored, and what the decision says.

var (
	allReady = func(string) error { return nil }
	noKey    = errors.New("credential variable RSTAR_API_KEY is unset")
	rstarOut = func(r string) error {
		if r == "rstar" {
			return noKey
		}
		return nil
	}
	k2Out = func(r string) error {
		if r == "k2" {
			return errors.New("missing credential")
		}
		return nil
	}
	testBackoff = Backoff{Base: time.Second, Max: 8 * time.Second}
)

func pol(local []string, takeover string, t, per int, long bool) bus.Policy {
	return bus.Policy{Local: local, Takeover: takeover, Threshold: t, RemoteAttempts: per, LongTask: long}
}

func TestLadderBegin(t *testing.T) {
	if got, want := begin(bus.Cursor{}), (bus.Cursor{Phase: "local", Pass: 1}); got != want {
		t.Errorf("a new incident starts at %+v, want %+v", got, want)
	}
	stored := bus.Cursor{Phase: "takeover", Pass: 2, Failed: 9}
	if got := begin(stored); got != stored {
		t.Errorf("a stored cursor is kept: got %+v", got)
	}
}

func TestLadderTakeoverTurn(t *testing.T) {
	two := []string{"crown", "k2"}
	tests := []struct {
		name  string
		p     bus.Policy
		c     bus.Cursor
		ready func(string) error
		want  Step
		next  bus.Cursor
	}{
		{"T reached: rstar's turn starts with an attempt",
			pol(local4, "rstar", 9, 1, false), bus.Cursor{Phase: "takeover", Pass: 1, OtherPass: 3, Failed: 9}, allReady,
			Step{Kind: StepAttempt, Rung: "rstar", Pass: 1}, bus.Cursor{Phase: "takeover", Pass: 1, OtherPass: 3, Failed: 9}},
		{"two per turn: rstar's second attempt needs no readiness check",
			pol(local4, "rstar", 9, 2, false), bus.Cursor{Phase: "takeover", Pass: 1, Used: 1, Failed: 10}, rstarOut,
			Step{Kind: StepAttempt, Rung: "rstar", Pass: 1}, bus.Cursor{Phase: "takeover", Pass: 1, Used: 1, Failed: 10}},
		{"rstar failed its turn: the incident fails",
			pol(local4, "rstar", 9, 1, false), bus.Cursor{Phase: "takeover", Pass: 1, Used: 1, Failed: 10}, allReady,
			Step{Kind: StepFail, Reason: "takeover rung rstar failed its turn; 10 attempts failed in all"}, bus.Cursor{Phase: "takeover", Pass: 1, Used: 1, Failed: 10}},
		{"rstar cannot run: skipped once, marked",
			pol(local4, "rstar", 9, 1, false), bus.Cursor{Phase: "takeover", Pass: 1, Failed: 9}, rstarOut,
			Step{Kind: StepSkip, Rung: "rstar", Pass: 1, Reason: noKey.Error()}, bus.Cursor{Phase: "takeover", Pass: 1, Used: -1, Failed: 9}},
		{"after rstar's skip the incident fails",
			pol(local4, "rstar", 9, 1, false), bus.Cursor{Phase: "takeover", Pass: 1, Used: -1, Failed: 1}, rstarOut,
			Step{Kind: StepFail, Reason: "takeover rung rstar cannot run and 1 attempt failed"}, bus.Cursor{Phase: "takeover", Pass: 1, Used: -1, Failed: 1}},
		{"long task: rstar failed its turn and gets another, extended, with backoff",
			pol(two, "rstar", 2, 1, true), bus.Cursor{Phase: "takeover", Pass: 1, OtherPass: 1, Used: 1, Failed: 3, Extra: 0}, allReady,
			Step{Kind: StepAttempt, Rung: "rstar", Pass: 2, Backoff: time.Second}, bus.Cursor{Phase: "takeover", Pass: 2, OtherPass: 1, Failed: 3, Extended: true}},
		{"long task: rstar's third extended turn waits longer",
			pol(two, "rstar", 2, 1, true), bus.Cursor{Phase: "takeover", Pass: 3, Used: 1, Failed: 5, Extended: true, Extra: 2}, allReady,
			Step{Kind: StepAttempt, Rung: "rstar", Pass: 4, Backoff: 4 * time.Second}, bus.Cursor{Phase: "takeover", Pass: 4, Failed: 5, Extended: true, Extra: 2}},
		{"long task: rstar cannot run, the local stack keeps its turns",
			pol(two, "rstar", 2, 1, true), bus.Cursor{Phase: "takeover", Pass: 1, OtherPass: 1, Failed: 2}, rstarOut,
			Step{Kind: StepSkip, Rung: "rstar", Pass: 1, Reason: "takeover rung rstar cannot run: " + noKey.Error() + "; long task: the local stack keeps its turns"},
			bus.Cursor{Phase: "local", Pass: 2, OtherPass: 1, Failed: 2, Extended: true}},
		{"long task, takeover-only roster: rstar cannot run, checked again after a wait",
			pol(nil, "rstar", 1, 1, true), bus.Cursor{Phase: "takeover", Pass: 3, OtherPass: 2, Extended: true, Extra: 2}, rstarOut,
			Step{Kind: StepSkip, Rung: "rstar", Pass: 3, Reason: "takeover rung rstar cannot run: " + noKey.Error() + "; long task: it is checked again after a wait"},
			bus.Cursor{Phase: "local", Pass: 3, OtherPass: 3, Extended: true, Extra: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, next := newLadder(tt.p, tt.ready, testBackoff).takeoverTurn(tt.c)
			if s != tt.want || next != tt.next {
				t.Errorf("takeoverTurn(%+v)\n got %+v %+v\nwant %+v %+v", tt.c, s, next, tt.want, tt.next)
			}
		})
	}
}

func TestLadderThresholdReached(t *testing.T) {
	tests := []struct {
		name string
		p    bus.Policy
		c    bus.Cursor
		want verdict
		step Step
		next bus.Cursor
	}{
		{"T9, 8 failed: the local stack goes on",
			pol(local4, "rstar", 9, 1, false), bus.Cursor{Phase: "local", Pass: 2, Index: 3, Failed: 8}, goOn,
			Step{}, bus.Cursor{Phase: "local", Pass: 2, Index: 3, Failed: 8}},
		{"T9, 9 failed: rstar takes over, the local pass kept",
			pol(local4, "rstar", 9, 1, false), bus.Cursor{Phase: "local", Pass: 3, Index: 1, Used: 1, Failed: 9, PassAttempts: 1}, again,
			Step{}, bus.Cursor{Phase: "takeover", Pass: 1, OtherPass: 3, Failed: 9}},
		{"T0: no threshold, however many failed",
			pol(local4, "rstar", 0, 1, false), bus.Cursor{Phase: "local", Pass: 1, Index: 2, Failed: 40}, goOn,
			Step{}, bus.Cursor{Phase: "local", Pass: 1, Index: 2, Failed: 40}},
		{"already extended: the threshold is behind",
			pol(local4, "rstar", 2, 1, true), bus.Cursor{Phase: "local", Pass: 3, Failed: 6, Extended: true}, goOn,
			Step{}, bus.Cursor{Phase: "local", Pass: 3, Failed: 6, Extended: true}},
		{"T3 and no takeover rung: the incident fails",
			pol(local4, "", 3, 1, false), bus.Cursor{Phase: "local", Pass: 1, Index: 2, Used: 1, Failed: 3}, decided,
			Step{Kind: StepFail, Reason: "3 attempts failed (RAZAR_RSTAR_THRESHOLD=3) and the roster has no takeover rung"},
			bus.Cursor{Phase: "local", Pass: 1, Index: 2, Used: 1, Failed: 3}},
		{"T1 and no takeover rung: one attempt says so",
			pol(local4, "", 1, 1, false), bus.Cursor{Phase: "local", Pass: 1, Used: 1, Failed: 1}, decided,
			Step{Kind: StepFail, Reason: "1 attempt failed (RAZAR_RSTAR_THRESHOLD=1) and the roster has no takeover rung"},
			bus.Cursor{Phase: "local", Pass: 1, Used: 1, Failed: 1}},
		{"T3, no takeover rung, long task: the ladder extends",
			pol(local4, "", 3, 1, true), bus.Cursor{Phase: "local", Pass: 1, Index: 2, Used: 1, Failed: 3}, goOn,
			Step{}, bus.Cursor{Phase: "local", Pass: 1, Index: 2, Used: 1, Failed: 3, Extended: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, next, v := newLadder(tt.p, allReady, testBackoff).thresholdReached(tt.c)
			if v != tt.want || s != tt.step || next != tt.next {
				t.Errorf("thresholdReached(%+v)\n got %v %+v %+v\nwant %v %+v %+v", tt.c, v, s, next, tt.want, tt.step, tt.next)
			}
		})
	}
}

func TestLadderTurnSpent(t *testing.T) {
	tests := []struct {
		name string
		per  int
		c    bus.Cursor
		next bus.Cursor
	}{
		{"crown has not tried yet: its turn", 1, bus.Cursor{Index: 0, Used: 0}, bus.Cursor{Index: 0, Used: 0}},
		{"crown tried once of one: kimicho's turn", 1, bus.Cursor{Index: 0, Used: 1}, bus.Cursor{Index: 1, Used: 0}},
		{"two per turn, crown tried once: still crown's", 2, bus.Cursor{Index: 0, Used: 1}, bus.Cursor{Index: 0, Used: 1}},
		{"two per turn, k2 tried twice: airstar's turn", 2, bus.Cursor{Index: 2, Used: 2}, bus.Cursor{Index: 3, Used: 0}},
		{"airstar tried: the pass is over", 1, bus.Cursor{Index: 3, Used: 1}, bus.Cursor{Index: 4, Used: 0}},
		{"the pass is over already: nothing to hand on", 1, bus.Cursor{Index: 4, Used: 1}, bus.Cursor{Index: 4, Used: 1}},
		{"--remote-attempts 0 counts as 1", 0, bus.Cursor{Index: 1, Used: 1}, bus.Cursor{Index: 2, Used: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := newLadder(pol(local4, "rstar", 9, tt.per, false), allReady, testBackoff).turnSpent(tt.c)
			if next != tt.next {
				t.Errorf("turnSpent(%+v) = %+v, want %+v", tt.c, next, tt.next)
			}
		})
	}
}

func TestLadderPassOver(t *testing.T) {
	two := []string{"crown", "k2"}
	idle := bus.Cursor{Phase: "local", Pass: 1, Index: 2}
	tests := []struct {
		name string
		p    bus.Policy
		c    bus.Cursor
		want verdict
		step Step
		next bus.Cursor
	}{
		{"a pass failed below T: a new pass",
			pol(two, "rstar", 9, 1, false), bus.Cursor{Phase: "local", Pass: 1, Index: 2, Failed: 2, PassAttempts: 2}, goOn,
			Step{}, bus.Cursor{Phase: "local", Pass: 2, Failed: 2}},
		{"nothing could run, rstar is on: rstar's turn",
			pol(two, "rstar", 9, 1, false), idle, again,
			Step{}, bus.Cursor{Phase: "takeover", Pass: 1, OtherPass: 1}},
		{"nothing could run, T0: the incident fails",
			pol(two, "rstar", 0, 1, false), idle, decided,
			Step{Kind: StepFail, Reason: "no rung of the local stack can run"}, idle},
		{"nothing could run, no takeover rung, long task: wait 1s, then a new extended pass",
			pol(two, "", 3, 1, true), idle, decided,
			Step{Kind: StepWait, Pass: 1, Backoff: time.Second, Reason: "no rung can run; waiting before checking again"},
			bus.Cursor{Phase: "local", Pass: 2, Extended: true, Extra: 1}},
		{"T0, one pass failed: the incident fails, the takeover rung disabled",
			pol(two, "rstar", 0, 1, false), bus.Cursor{Phase: "local", Pass: 1, Index: 2, Failed: 2, PassAttempts: 2}, decided,
			Step{Kind: StepFail, Reason: "one pass of the local stack failed (2 attempts) and the takeover rung is disabled (RAZAR_RSTAR_THRESHOLD=0)"},
			bus.Cursor{Phase: "local", Pass: 1, Index: 2, Failed: 2, PassAttempts: 2}},
		{"T0, long task, one pass failed: a new pass, extended",
			pol(two, "rstar", 0, 1, true), bus.Cursor{Phase: "local", Pass: 1, Index: 2, Failed: 2, PassAttempts: 2}, goOn,
			Step{}, bus.Cursor{Phase: "local", Pass: 2, Failed: 2, Extended: true}},
		{"extended, rstar cannot run, a pass failed: look at rstar again",
			pol(two, "rstar", 2, 1, true), bus.Cursor{Phase: "local", Pass: 2, OtherPass: 1, Index: 2, Failed: 4, PassAttempts: 2, Extended: true, Extra: 2}, again,
			Step{}, bus.Cursor{Phase: "takeover", Pass: 2, OtherPass: 2, Failed: 4, Extended: true, Extra: 2}},
		{"extended, no takeover rung, a pass failed: a new pass",
			pol(two, "", 2, 1, true), bus.Cursor{Phase: "local", Pass: 2, Index: 2, Failed: 4, PassAttempts: 2, Extended: true, Extra: 2}, again,
			Step{}, bus.Cursor{Phase: "local", Pass: 3, Failed: 4, Extended: true, Extra: 2}},
		{"extended, nothing could run, rstar is on: wait 4s, then rstar",
			pol(two, "rstar", 9, 1, true), bus.Cursor{Phase: "local", Pass: 3, OtherPass: 2, Index: 2, Extended: true, Extra: 2}, decided,
			Step{Kind: StepWait, Pass: 3, Backoff: 4 * time.Second, Reason: "no rung can run; waiting before checking again"},
			bus.Cursor{Phase: "takeover", Pass: 3, OtherPass: 3, Extended: true, Extra: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, next, v := newLadder(tt.p, allReady, testBackoff).passOver(tt.c)
			if v != tt.want || s != tt.step || next != tt.next {
				t.Errorf("passOver(%+v)\n got %v %+v %+v\nwant %v %+v %+v", tt.c, v, s, next, tt.want, tt.step, tt.next)
			}
		})
	}
}

func TestLadderLocalRung(t *testing.T) {
	tests := []struct {
		name  string
		c     bus.Cursor
		ready func(string) error
		want  Step
		next  bus.Cursor
	}{
		{"crown can run: an attempt", bus.Cursor{Phase: "local", Pass: 1}, allReady,
			Step{Kind: StepAttempt, Rung: "crown", Pass: 1}, bus.Cursor{Phase: "local", Pass: 1}},
		{"k2 has no credential: skipped, the cursor past it", bus.Cursor{Phase: "local", Pass: 2, Index: 2}, k2Out,
			Step{Kind: StepSkip, Rung: "k2", Pass: 2, Reason: "missing credential"}, bus.Cursor{Phase: "local", Pass: 2, Index: 3}},
		{"k2 mid-turn is not checked again", bus.Cursor{Phase: "local", Pass: 2, Index: 2, Used: 1}, k2Out,
			Step{Kind: StepAttempt, Rung: "k2", Pass: 2}, bus.Cursor{Phase: "local", Pass: 2, Index: 2, Used: 1}},
		{"extended: airstar waits the backoff first", bus.Cursor{Phase: "local", Pass: 4, Index: 3, Extended: true, Extra: 3}, allReady,
			Step{Kind: StepAttempt, Rung: "airstar", Pass: 4, Backoff: 8 * time.Second}, bus.Cursor{Phase: "local", Pass: 4, Index: 3, Extended: true, Extra: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, next := newLadder(pol(local4, "rstar", 9, 2, false), tt.ready, testBackoff).localRung(tt.c)
			if s != tt.want || next != tt.next {
				t.Errorf("localRung(%+v)\n got %+v %+v\nwant %+v %+v", tt.c, s, next, tt.want, tt.next)
			}
		})
	}
}

// TestLadderNextUnchanged compares Next with the monolithic Next it was split
// from (nextBefore, kept here only) over many generated policies, cursors and
// readiness functions: the split changed no decision.
func TestLadderNextUnchanged(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 5))
	locals := [][]string{nil, {"crown"}, {"crown", "k2"}, local4}
	readies := []func(string) error{
		allReady, rstarOut, k2Out,
		func(string) error { return errors.New("down") },
		func(r string) error {
			if r != "crown" {
				return errors.New("down")
			}
			return nil
		},
	}
	backoffs := []Backoff{{}, testBackoff, DefaultLongTaskBackoff}
	phases := []string{"", "local", "takeover"}
	pick := func(lo, hi int) int { return lo + rng.IntN(hi-lo+1) }
	n := 50000
	if testing.Short() {
		n = 5000
	}
	for i := 0; i < n; i++ {
		p := bus.Policy{Local: locals[rng.IntN(len(locals))], Threshold: pick(0, 10), RemoteAttempts: pick(0, 3), LongTask: rng.IntN(2) == 0}
		if rng.IntN(3) > 0 {
			p.Takeover = "rstar"
		}
		c := bus.Cursor{Phase: phases[rng.IntN(len(phases))], Pass: pick(0, 4), Index: pick(0, 5), Used: pick(-1, 3),
			Failed: pick(0, 12), PassAttempts: pick(0, 3), Extended: rng.IntN(2) == 0, Extra: pick(0, 5), OtherPass: pick(0, 3)}
		ready := readies[rng.IntN(len(readies))]
		b := backoffs[rng.IntN(len(backoffs))]
		got := callLadder(Next, p, c, ready, b)
		want := callLadder(nextBefore, p, c, ready, b)
		if got != want {
			t.Fatalf("policy %+v cursor %+v:\n got %s\nwant %s", p, c, got, want)
		}
	}
}

// callLadder is one call of a Next, printed; a panic (a cursor no run
// produces, pointing past an empty stack) is part of the behaviour too.
func callLadder(next func(bus.Policy, bus.Cursor, func(string) error, Backoff) (Step, bus.Cursor),
	p bus.Policy, c bus.Cursor, ready func(string) error, b Backoff) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("panic: %v", r)
		}
	}()
	s, nc := next(p, c, ready, b)
	return fmt.Sprintf("%+v %+v", s, nc)
}

// nextBefore is Next as it stood before it was split into named decisions,
// kept verbatim for TestLadderNextUnchanged.
func nextBefore(p bus.Policy, c bus.Cursor, ready func(rung string) error, backoff Backoff) (Step, bus.Cursor) {
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
