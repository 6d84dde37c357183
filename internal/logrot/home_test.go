package logrot_test

import (
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/internal/logrot"
)

// TestMarkKeyFileIsHomes: MarkKeyFile, kept for cmd/razar, is razar.Home's,
// so the home's layout has one definition until it goes.
func TestMarkKeyFileIsHomes(t *testing.T) {
	if want := razar.Home("").LogMarkKey(); logrot.MarkKeyFile != want {
		t.Errorf("MarkKeyFile %s, want razar.Home's %s", logrot.MarkKeyFile, want)
	}
}
