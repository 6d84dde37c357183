package orchestrator

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/bus"
)

var local4 = []string{"crown", "kimicho", "k2", "airstar"}

// walk drives Next/Record with every attempt failing and returns the steps
// as "crown", "-k2" (skip), "wait:2s" and "FAIL", stopping at fail or after
// max steps. A rung in down cannot run; a rung in flip changes between
// ready and not once the walk has taken that many steps.
func walk(t *testing.T, p bus.Policy, down map[string]bool, flip map[string]int, max int) ([]string, []time.Duration) {
	t.Helper()
	var out []string
	ready := func(r string) error {
		isDown := down[r]
		if n, ok := flip[r]; ok && len(out) >= n {
			isDown = !isDown
		}
		if isDown {
			return errors.New("missing credential")
		}
		return nil
	}
	var c bus.Cursor
	var waits []time.Duration
	for len(out) < max {
		s, next := Next(p, c, ready, Backoff{Base: time.Second, Max: 8 * time.Second})
		c = next
		switch s.Kind {
		case StepSkip:
			out = append(out, "-"+s.Rung)
		case StepFail:
			if s.Reason == "" {
				t.Fatal("fail step without a reason")
			}
			return append(out, "FAIL"), waits
		case StepWait:
			if s.Reason == "" || s.Backoff <= 0 {
				t.Fatalf("wait step without a reason or a wait: %+v", s)
			}
			out = append(out, "wait:"+s.Backoff.String())
		case StepAttempt:
			out = append(out, s.Rung)
			waits = append(waits, s.Backoff)
			c = Record(c, true)
		default:
			t.Fatalf("unknown step %+v", s)
		}
	}
	return out, waits
}

func TestLadder(t *testing.T) {
	rep := func(s string, n int) string { return strings.TrimSuffix(strings.Repeat(s+" ", n), " ") }
	pass := "crown kimicho k2 airstar"
	tests := []struct {
		name string
		p    bus.Policy
		down map[string]bool
		flip map[string]int
		max  int
		want string
	}{
		{"T9 default", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1},
			nil, nil, 50, rep(pass, 2) + " crown rstar FAIL"},
		{"T2 takeover mid pass", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1},
			nil, nil, 50, "crown kimicho rstar FAIL"},
		{"T0 one pass no takeover", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 0, RemoteAttempts: 1},
			nil, nil, 50, pass + " FAIL"},
		{"two attempts per turn", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 9, RemoteAttempts: 2},
			nil, nil, 50, "crown crown kimicho kimicho k2 k2 airstar airstar crown rstar rstar FAIL"},
		{"T0 two per turn", bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 0, RemoteAttempts: 2},
			nil, nil, 50, "crown crown k2 k2 FAIL"},
		{"skipped rung is not counted", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1},
			map[string]bool{"k2": true}, nil, 50, rep("crown kimicho -k2 airstar", 3) + " rstar FAIL"},
		{"no takeover rung fails at T", bus.Policy{Local: local4, Threshold: 3, RemoteAttempts: 1},
			nil, nil, 50, "crown kimicho k2 FAIL"},
		{"takeover cannot run", bus.Policy{Local: []string{"crown"}, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1},
			map[string]bool{"rstar": true}, nil, 50, "crown crown -rstar FAIL"},
		{"whole local stack down goes to takeover", bus.Policy{Local: []string{"k2", "airstar"}, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1},
			map[string]bool{"k2": true, "airstar": true}, nil, 50, "-k2 -airstar rstar FAIL"},
		{"whole stack down, T0", bus.Policy{Local: []string{"k2"}, Takeover: "rstar", Threshold: 0, RemoteAttempts: 1},
			map[string]bool{"k2": true}, nil, 50, "-k2 FAIL"},
		{"long task keeps the takeover rung", bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1, LongTask: true},
			nil, nil, 6, "crown k2 rstar rstar rstar rstar"},
		{"long task T0 cycles the local stack", bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 0, RemoteAttempts: 1, LongTask: true},
			nil, nil, 7, "crown k2 crown k2 crown k2 crown"},
		{"long task without takeover keeps cycling", bus.Policy{Local: []string{"crown", "k2"}, Threshold: 3, RemoteAttempts: 1, LongTask: true},
			nil, nil, 6, "crown k2 crown k2 crown k2"},
		{"takeover only roster", bus.Policy{Takeover: "rstar", Threshold: 1, RemoteAttempts: 1},
			nil, nil, 10, "rstar FAIL"},
		{"takeover only roster that cannot run fails", bus.Policy{Takeover: "rstar", Threshold: 1, RemoteAttempts: 1},
			map[string]bool{"rstar": true}, nil, 10, "-rstar FAIL"},

		// --long-task with rungs that cannot run: never a StepFail, never a tight loop.
		{"long task, takeover cannot run: local stack keeps its turns, takeover skipped once per pass", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1, LongTask: true},
			map[string]bool{"rstar": true}, nil, 19, "crown kimicho -rstar " + rep(pass+" -rstar", 3) + " crown"},
		{"long task, takeover cannot run, two per turn: a skip is not a turn", bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 3, RemoteAttempts: 2, LongTask: true},
			map[string]bool{"rstar": true}, nil, 14, "crown crown k2 -rstar " + rep("crown crown k2 k2 -rstar", 2)},
		{"long task, takeover ready later gets its turn at the end of a pass and keeps it", bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1, LongTask: true},
			map[string]bool{"rstar": true}, map[string]int{"rstar": 6}, 11, "crown k2 -rstar crown k2 -rstar crown k2 rstar rstar rstar"},
		{"long task, takeover that stops running hands turns back to the local stack", bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1, LongTask: true},
			nil, map[string]int{"rstar": 4}, 11, "crown k2 rstar rstar -rstar crown k2 -rstar crown k2 -rstar"},
		{"long task, nothing can run: capped waits, never a fail", bus.Policy{Local: []string{"k2", "airstar"}, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1, LongTask: true},
			map[string]bool{"k2": true, "airstar": true, "rstar": true}, nil, 22,
			"-k2 -airstar -rstar -k2 -airstar wait:1s -rstar -k2 -airstar wait:2s -rstar -k2 -airstar wait:4s -rstar -k2 -airstar wait:8s -rstar -k2 -airstar wait:8s"},
		{"long task, nothing can run until a local rung comes back", bus.Policy{Local: []string{"k2", "airstar"}, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1, LongTask: true},
			map[string]bool{"k2": true, "airstar": true, "rstar": true}, map[string]int{"k2": 6}, 13,
			"-k2 -airstar -rstar -k2 -airstar wait:1s -rstar k2 -airstar -rstar k2 -airstar -rstar"},
		{"long task, takeover only roster that cannot run waits", bus.Policy{Takeover: "rstar", Threshold: 1, RemoteAttempts: 1, LongTask: true},
			map[string]bool{"rstar": true}, nil, 8, "-rstar wait:1s -rstar wait:2s -rstar wait:4s -rstar wait:8s"},
		{"long task T0, local stack cannot run: waits, never a fail", bus.Policy{Local: []string{"k2"}, Takeover: "rstar", Threshold: 0, RemoteAttempts: 1, LongTask: true},
			map[string]bool{"k2": true}, nil, 10, "-k2 wait:1s -k2 wait:2s -k2 wait:4s -k2 wait:8s -k2 wait:8s"},
		{"long task without takeover, local stack cannot run: waits, never a fail", bus.Policy{Local: []string{"k2", "airstar"}, Threshold: 3, RemoteAttempts: 1, LongTask: true},
			map[string]bool{"k2": true, "airstar": true}, nil, 9, "-k2 -airstar wait:1s -k2 -airstar wait:2s -k2 -airstar wait:4s"},
		{"long task T0 with only a takeover rung still fails: nothing can ever run", bus.Policy{Takeover: "rstar", Threshold: 0, RemoteAttempts: 1, LongTask: true},
			nil, nil, 10, "FAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := walk(t, tt.p, tt.down, tt.flip, tt.max)
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("ladder\n got %s\nwant %s", g, tt.want)
			}
		})
	}
}

func TestLadderLongTaskBackoffIsCapped(t *testing.T) {
	p := bus.Policy{Local: []string{"crown"}, Takeover: "rstar", Threshold: 1, RemoteAttempts: 1, LongTask: true}
	_, waits := walk(t, p, nil, nil, 8)
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("got %d waits, want %d", len(waits), len(want))
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("wait %d = %v, want %v", i, waits[i], want[i])
		}
	}
}

func TestLadderCursorResumes(t *testing.T) {
	// A cursor stored mid-incident and read back gives the same next step:
	// the ladder is a function of the stored cursor alone.
	p := bus.Policy{Local: local4, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1}
	ready := func(string) error { return nil }
	var c bus.Cursor
	for i := 0; i < 5; i++ {
		s, next := Next(p, c, ready, DefaultLongTaskBackoff)
		if s.Kind != StepAttempt {
			t.Fatalf("step %d: %+v", i, s)
		}
		c = Record(next, true)
	}
	a, _ := Next(p, c, ready, DefaultLongTaskBackoff)
	copyOf := c
	b, _ := Next(p, copyOf, ready, DefaultLongTaskBackoff)
	if a != b || a.Rung != "kimicho" || a.Pass != 2 {
		t.Fatalf("resume: %+v vs %+v, want kimicho pass 2", a, b)
	}
}

func TestLadderLongTaskTakeoverSkipSaysWhyAndCountsGoOn(t *testing.T) {
	// rstar's key is missing: each time the ladder comes to it, one skip that
	// says why and what happens instead; the local stack's passes keep
	// counting and its attempts wait with the capped backoff. The cursor is
	// stored as JSON between steps: a round-trip changes nothing.
	p := bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1, LongTask: true}
	ready := func(r string) error {
		if r == "rstar" {
			return errors.New("credential variable RSTAR_API_KEY is unset")
		}
		return nil
	}
	b := Backoff{Base: time.Second, Max: 4 * time.Second}
	type want struct {
		kind    StepKind
		rung    string
		pass    int
		backoff time.Duration
	}
	wants := []want{
		{StepAttempt, "crown", 1, 0}, {StepAttempt, "k2", 1, 0},
		{StepSkip, "rstar", 1, 0},
		{StepAttempt, "crown", 2, time.Second}, {StepAttempt, "k2", 2, 2 * time.Second},
		{StepSkip, "rstar", 2, 0},
		{StepAttempt, "crown", 3, 4 * time.Second}, {StepAttempt, "k2", 3, 4 * time.Second},
		{StepSkip, "rstar", 3, 0},
	}
	const reason = "takeover rung rstar cannot run: credential variable RSTAR_API_KEY is unset; long task: the local stack keeps its turns"
	var c bus.Cursor
	for i, w := range wants {
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back bus.Cursor
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		s, next := Next(p, c, ready, b)
		s2, next2 := Next(p, back, ready, b)
		if s != s2 || next != next2 {
			t.Fatalf("step %d: cursor %s read back gives %+v %+v, want %+v %+v", i, raw, s2, next2, s, next)
		}
		if s.Kind != w.kind || s.Rung != w.rung || s.Pass != w.pass || s.Backoff != w.backoff {
			t.Fatalf("step %d = %+v, want %+v", i, s, w)
		}
		if s.Kind == StepSkip && s.Reason != reason {
			t.Fatalf("step %d reason %q, want %q", i, s.Reason, reason)
		}
		c = next
		if s.Kind == StepAttempt {
			c = Record(c, true)
		}
	}
	if c.Failed != 6 {
		t.Errorf("failed = %d, want 6 (skips are not attempts)", c.Failed)
	}
}

func TestLadderLongTaskWaitNeverZero(t *testing.T) {
	// Without a backoff configured a wait is still a wait: no tight loop.
	p := bus.Policy{Local: []string{"k2"}, Threshold: 3, RemoteAttempts: 1, LongTask: true}
	down := func(string) error { return errors.New("missing credential") }
	var c bus.Cursor
	for i := 0; i < 4; i++ {
		s, next := Next(p, c, down, Backoff{})
		c = next
		if s.Kind == StepWait {
			if s.Backoff < time.Second {
				t.Fatalf("wait of %v", s.Backoff)
			}
			return
		}
		if s.Kind != StepSkip {
			t.Fatalf("step %d: %+v", i, s)
		}
	}
	t.Fatal("no wait step")
}
