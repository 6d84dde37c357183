// Package homedirtest plants what an attacker who could write a RAZAR
// home's logs/ or state/ would, for the tests of every writer that must
// not follow it (homedir, jsonl, the mirror): one helper, so each test
// plants the same link.
//
// Concurrency: PlantLink touches only the paths it is given and the
// test's own temporary directory; tests may call it in parallel.
package homedirtest

import (
	"os"
	"path/filepath"
	"testing"
)

// PlantLink makes path a symlink to a victim file outside the home (in a
// temporary directory of t), creating path's directory, and returns the
// victim's path and the content it must keep. It fails t on any error.
func PlantLink(t testing.TB, path string) (victim string, content []byte) {
	t.Helper()
	victim = filepath.Join(t.TempDir(), "victim")
	content = []byte("the victim's own content\n")
	if err := os.WriteFile(victim, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	return victim, content
}
