package orchestrator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/bus"
)

var local4 = []string{"crown", "kimicho", "k2", "airstar"}

// walk drives Next/Record with every attempt failing and returns the steps
// as "crown", "-k2" (skip) and "FAIL", stopping at fail or after max steps.
func walk(t *testing.T, p bus.Policy, down map[string]bool, max int) ([]string, []time.Duration) {
	t.Helper()
	ready := func(r string) error {
		if down[r] {
			return errors.New("missing credential")
		}
		return nil
	}
	var c bus.Cursor
	var out []string
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
		case StepAttempt:
			out = append(out, s.Rung)
			waits = append(waits, s.Backoff)
			c = Record(c, true)
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
		max  int
		want string
	}{
		{"T9 default", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1},
			nil, 50, rep(pass, 2) + " crown rstar FAIL"},
		{"T2 takeover mid pass", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1},
			nil, 50, "crown kimicho rstar FAIL"},
		{"T0 one pass no takeover", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 0, RemoteAttempts: 1},
			nil, 50, pass + " FAIL"},
		{"two attempts per turn", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 9, RemoteAttempts: 2},
			nil, 50, "crown crown kimicho kimicho k2 k2 airstar airstar crown rstar rstar FAIL"},
		{"T0 two per turn", bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 0, RemoteAttempts: 2},
			nil, 50, "crown crown k2 k2 FAIL"},
		{"skipped rung is not counted", bus.Policy{Local: local4, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1},
			map[string]bool{"k2": true}, 50, rep("crown kimicho -k2 airstar", 3) + " rstar FAIL"},
		{"no takeover rung fails at T", bus.Policy{Local: local4, Threshold: 3, RemoteAttempts: 1},
			nil, 50, "crown kimicho k2 FAIL"},
		{"takeover cannot run", bus.Policy{Local: []string{"crown"}, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1},
			map[string]bool{"rstar": true}, 50, "crown crown -rstar FAIL"},
		{"whole local stack down goes to takeover", bus.Policy{Local: []string{"k2", "airstar"}, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1},
			map[string]bool{"k2": true, "airstar": true}, 50, "-k2 -airstar rstar FAIL"},
		{"whole stack down, T0", bus.Policy{Local: []string{"k2"}, Takeover: "rstar", Threshold: 0, RemoteAttempts: 1},
			map[string]bool{"k2": true}, 50, "-k2 FAIL"},
		{"long task keeps the takeover rung", bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 2, RemoteAttempts: 1, LongTask: true},
			nil, 6, "crown k2 rstar rstar rstar rstar"},
		{"long task T0 cycles the local stack", bus.Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 0, RemoteAttempts: 1, LongTask: true},
			nil, 7, "crown k2 crown k2 crown k2 crown"},
		{"long task without takeover keeps cycling", bus.Policy{Local: []string{"crown", "k2"}, Threshold: 3, RemoteAttempts: 1, LongTask: true},
			nil, 6, "crown k2 crown k2 crown k2"},
		{"takeover only roster", bus.Policy{Takeover: "rstar", Threshold: 1, RemoteAttempts: 1},
			nil, 10, "rstar FAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := walk(t, tt.p, tt.down, tt.max)
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("ladder\n got %s\nwant %s", g, tt.want)
			}
		})
	}
}

func TestLadderLongTaskBackoffIsCapped(t *testing.T) {
	p := bus.Policy{Local: []string{"crown"}, Takeover: "rstar", Threshold: 1, RemoteAttempts: 1, LongTask: true}
	_, waits := walk(t, p, nil, 8)
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
