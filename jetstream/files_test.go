package jetstream_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/razar/razar/jetstream"
)

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
