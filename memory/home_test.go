package memory_test

import (
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/memory"
)

// TestMetricsFileIsHomes: MetricsFile, kept for cmd/razar, is razar.Home's,
// so the home's layout has one definition until it goes.
func TestMetricsFileIsHomes(t *testing.T) {
	if want := razar.Home("").BootMetrics(); memory.MetricsFile != want {
		t.Errorf("MetricsFile %s, want razar.Home's %s", memory.MetricsFile, want)
	}
}
