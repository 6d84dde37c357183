package homedir

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// tempOpenFlags are the flags google/renameio opens its temp file with
// (openTempFile in renameio/v2 tempfile.go); WriteAtomic's guarantee that
// no planted name is ever opened rests on them. Checked again on each
// renameio upgrade.
const tempOpenFlags = os.O_RDWR | os.O_CREATE | os.O_EXCL

// TestTempNameCannotBePrePlanted: whatever another user plants under the
// temp name WriteAtomic picks (a link to a file of theirs, a dangling
// link, a file) makes that name fail; nothing is opened through it.
func TestTempNameCannotBePrePlanted(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	want := []byte("the victim's own content\n")
	if err := os.WriteFile(victim, want, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dangling := filepath.Join(t.TempDir(), "would-be-created")
	for name, plant := range map[string]func(string) error{
		"link":          func(p string) error { return os.Symlink(victim, p) },
		"dangling link": func(p string) error { return os.Symlink(dangling, p) },
		"file":          func(p string) error { return os.WriteFile(p, want, 0o666) },
	} {
		p := filepath.Join(dir, ".razar_state.json"+filepath.Base(name))
		if err := plant(p); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, tempOpenFlags, 0o600)
		if err == nil {
			f.Close()
			t.Fatalf("%s: the temp file's open opened a planted name", name)
		}
		if !errors.Is(err, fs.ErrExist) {
			t.Fatalf("%s: error %v, want fs.ErrExist (so another name is tried)", name, err)
		}
	}
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, want) {
		t.Fatalf("victim changed: %q", got)
	}
	if _, err := os.Lstat(dangling); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the dangling link's target was created: %v", err)
	}
}
