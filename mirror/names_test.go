package mirror_test

import (
	"testing"

	"github.com/razar/razar/mirror"
	"github.com/razar/razar/orchestrator"
)

// The orchestrator appends an offline rollback to the patch history the
// mirror writes: both must name the same file.
func TestPatchHistoryIsOneFile(t *testing.T) {
	if orchestrator.PatchHistoryFile != mirror.PatchHistoryFile {
		t.Fatalf("orchestrator writes %s, the mirror %s", orchestrator.PatchHistoryFile, mirror.PatchHistoryFile)
	}
}
