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

// TestStateFilesArePrivate: the store directory, its lock and the URL file
// are readable by the owner (and the URL file by the group) alone.
func TestStateFilesArePrivate(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	unlock, err := jetstream.LockStore(state)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	urlFile := filepath.Join(state, "nats.url")
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: state, Listen: "127.0.0.1:0", URLFile: urlFile})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	for path, max := range map[string]os.FileMode{
		state:                                    0o700,
		filepath.Join(state, jetstream.LockFile): 0o600,
		urlFile:                                  0o640,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&^max != 0 {
			t.Errorf("%s has mode %v, want at most %v", path, fi.Mode().Perm(), max)
		}
	}
}
