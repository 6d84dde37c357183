package patch

import (
	"testing"

	"github.com/razar/razar"
)

// TestStagingDirIsHomes: StagingDir, kept for the orchestrator, is
// razar.Home's, so the home's layout has one definition until it goes.
func TestStagingDirIsHomes(t *testing.T) {
	if want := razar.Home("").Staging(); StagingDir != want {
		t.Errorf("StagingDir %s, want razar.Home's %s", StagingDir, want)
	}
}
