package jetstream_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/razar/razar/jetstream"
)

// TestWriteFileAtomicReplacesAPlantedSymlinkInsteadOfFollowingIt: a link
// planted at logs/razar_state.json (or a quarantine file) is replaced by the
// new file; the file it pointed at is untouched.
func TestWriteFileAtomicReplacesAPlantedSymlinkInsteadOfFollowingIt(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	want := []byte("the victim's own content\n")
	if err := os.WriteFile(victim, want, 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	path := filepath.Join(home, "logs", "razar_state.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	if err := jetstream.WriteFileAtomic(path, []byte(`{"health":"healthy"}`+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, want) {
		t.Fatalf("victim changed: %q", got)
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("%s is %v (%v), want a regular file", path, fi.Mode(), err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640", fi.Mode().Perm())
	}
	if got, _ := os.ReadFile(path); string(got) != `{"health":"healthy"}`+"\n" {
		t.Fatalf("content %q", got)
	}
	left, _ := filepath.Glob(filepath.Join(home, "logs", ".*tmp-*"))
	if len(left) != 0 {
		t.Fatalf("temp files left: %q", left)
	}
}
