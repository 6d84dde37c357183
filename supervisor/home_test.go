package supervisor_test

import (
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/supervisor"
)

// TestPathNamesAreHomes: the relative names kept for cmd/razar are
// razar.Home's, so the home's layout has one definition until they go.
func TestPathNamesAreHomes(t *testing.T) {
	h := razar.Home("")
	for got, want := range map[string]string{
		supervisor.StateFile:      h.StateFile(),
		supervisor.RosterFile:     h.Roster(),
		supervisor.RosterSnapshot: h.RosterSnapshot(),
	} {
		if got != want {
			t.Errorf("%s, want razar.Home's %s", got, want)
		}
	}
}
