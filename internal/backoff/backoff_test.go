package backoff

import (
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	const ms = time.Millisecond
	for _, tt := range []struct {
		name string
		b    Backoff
		n    int
		want time.Duration
	}{
		{"first retry waits Base", Backoff{Base: 200 * ms, Max: 10 * time.Second}, 1, 200 * ms},
		{"second doubles", Backoff{Base: 200 * ms, Max: 10 * time.Second}, 2, 400 * ms},
		{"third doubles again", Backoff{Base: 200 * ms, Max: 10 * time.Second}, 3, 800 * ms},
		{"capped at Max", Backoff{Base: 200 * ms, Max: 10 * time.Second}, 7, 10 * time.Second},
		{"stays at Max", Backoff{Base: 200 * ms, Max: 10 * time.Second}, 1000, 10 * time.Second},
		{"Max not a doubling of Base", Backoff{Base: 100 * ms, Max: 5 * time.Second}, 7, 5 * time.Second},
		{"one short of Max", Backoff{Base: 100 * ms, Max: 5 * time.Second}, 6, 3200 * ms},
		{"Base over Max is Max", Backoff{Base: time.Minute, Max: time.Second}, 1, time.Second},
		{"zero n", Backoff{Base: time.Second, Max: time.Minute}, 0, 0},
		{"negative n", Backoff{Base: time.Second, Max: time.Minute}, -3, 0},
		{"zero Base", Backoff{Max: time.Minute}, 5, 0},
		{"negative Base", Backoff{Base: -time.Second, Max: time.Minute}, 5, 0},
		{"zero Max: Base every time", Backoff{Base: time.Second}, 5, time.Second},
		{"zero value", Backoff{}, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.For(tt.n); got != tt.want {
				t.Fatalf("%+v.For(%d) = %v, want %v", tt.b, tt.n, got, tt.want)
			}
		})
	}
}

func TestJitteredBounds(t *testing.T) {
	b := Backoff{Base: time.Second, Max: time.Minute}
	for n := 1; n <= 8; n++ {
		d := b.For(n)
		for range 200 {
			got := b.Jittered(d, 0.2)
			if got < d || got > min(d+d/5, b.Max) {
				t.Fatalf("Jittered(%v, 0.2) = %v, want within [%v, %v]", d, got, d, min(d+d/5, b.Max))
			}
		}
	}
}

func TestJitteredNeverPastMax(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 10 * time.Second}
	for range 200 {
		if got := b.Jittered(10*time.Second, 1); got > b.Max {
			t.Fatalf("Jittered at Max = %v, past Max %v", got, b.Max)
		}
	}
}

func TestJitteredZeroCases(t *testing.T) {
	b := Backoff{Base: time.Second, Max: time.Minute}
	for _, tt := range []struct {
		name string
		d    time.Duration
		frac float64
		want time.Duration
	}{
		{"zero frac", 5 * time.Second, 0, 5 * time.Second},
		{"negative frac", 5 * time.Second, -0.5, 5 * time.Second},
		{"zero wait", 0, 0.2, 0},
		{"negative wait", -time.Second, 0.2, -time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Jittered(tt.d, tt.frac); got != tt.want {
				t.Fatalf("Jittered(%v, %v) = %v, want %v", tt.d, tt.frac, got, tt.want)
			}
		})
	}
	// With no Max, the jitter is not capped.
	if got := (Backoff{Base: time.Second}).Jittered(time.Second, 0.5); got < time.Second || got > 1500*time.Millisecond {
		t.Fatalf("uncapped Jittered(1s, 0.5) = %v", got)
	}
}
