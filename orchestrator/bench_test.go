package orchestrator

import (
	"strings"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// BenchmarkBoundContext measures bounding a 200-attempt history against
// copying it, the baseline.
func BenchmarkBoundContext(b *testing.B) {
	var hist []razar.Attempt
	for i := 0; i < 200; i++ {
		hist = append(hist, razar.Attempt{Number: i + 1, Rung: "k2", Diff: strings.Repeat("+x\n", 5000), Summary: "s"})
	}
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			out := make([]razar.Attempt, len(hist))
			copy(out, hist)
		}
	})
	b.Run("razar", func(b *testing.B) {
		for b.Loop() {
			_ = BoundContext(hist, bus.MaxContextBytes)
		}
	})
}
