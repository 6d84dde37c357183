package auth_test

import (
	"path/filepath"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
)

// TestDirsAreHomes: the identities directory under state/ and its trust
// root are razar.Home's Identities and Trust.
func TestDirsAreHomes(t *testing.T) {
	h := razar.Home("/srv/razar")
	if got := filepath.Join(h.StateDir(), auth.Dir); got != h.Identities() {
		t.Errorf("state/%s is %s, want razar.Home's %s", auth.Dir, got, h.Identities())
	}
	if got := auth.TrustDir(h.Identities()); got != h.Trust() {
		t.Errorf("TrustDir(%s) = %s, want razar.Home's %s", h.Identities(), got, h.Trust())
	}
}
