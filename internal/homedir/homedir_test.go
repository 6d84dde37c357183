package homedir_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/homedir/homedirtest"
)

func TestOpenAppendRefusesAPlantedSymlinkAndLeavesItsTargetAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "razar.log")
	vpath, want := homedirtest.PlantLink(t, path)
	f, err := homedir.OpenAppend(path, 0o640)
	if err == nil {
		f.Close()
		t.Fatal("OpenAppend followed a symlink")
	}
	if !errors.Is(err, homedir.ErrSymlink) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "remove the symlink") {
		t.Fatalf("error %q: want ErrSymlink naming %s and the fix", err, path)
	}
	if got, _ := os.ReadFile(vpath); string(got) != string(want) {
		t.Fatalf("victim changed: %q", got)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link itself was touched: %v %v", fi, err)
	}
}

func TestOpenAppendRefusesADanglingSymlinkWithoutCreatingItsTarget(t *testing.T) {
	target := filepath.Join(t.TempDir(), "created-by-razar")
	path := filepath.Join(t.TempDir(), "x.json")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if _, err := homedir.OpenAppend(path, 0o640); !errors.Is(err, homedir.ErrSymlink) {
		t.Fatalf("error %v, want ErrSymlink", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the link's target was created: %v", err)
	}
}

func TestOpenAppendRefusesAFIFOInsteadOfBlocking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := homedir.OpenAppend(path, 0o640)
	if err == nil {
		f.Close()
		t.Fatal("OpenAppend took a FIFO")
	}
	if !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("error %q", err)
	}
}

func TestOpenAppendCreatesAPrivateFileAndAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "x.json")
	for _, line := range []string{"a\n", "b\n"} {
		f, err := homedir.OpenAppend(path, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(line); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	got, _ := os.ReadFile(path)
	if string(got) != "a\nb\n" {
		t.Fatalf("content %q", got)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm()&^0o640 != 0 {
		t.Fatalf("mode %v, want at most 0640", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm()&^0o750 != 0 {
		t.Fatalf("dir mode %v, want at most 0750", di.Mode().Perm())
	}
}

func TestCheckRefusesAWorldWritableDirectoryNamingItAndTheFix(t *testing.T) {
	home := t.TempDir()
	state := filepath.Join(home, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(state, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := homedir.Check(home, state)
	if err == nil {
		t.Fatal("a world-writable state/ passed")
	}
	if msg := err.Error(); !strings.Contains(msg, "chmod o-w "+state) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line with `chmod o-w %s`", msg, state)
	}
	if fi, _ := os.Stat(state); fi.Mode().Perm() != 0o777 {
		t.Fatalf("Check changed the mode: %v", fi.Mode().Perm())
	}
}

func TestCheckWarnsOnAGroupWritableDirectory(t *testing.T) {
	home := t.TempDir()
	if err := os.Chmod(home, 0o770); err != nil {
		t.Fatal(err)
	}
	warns, err := homedir.Check(home)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], home) || !strings.Contains(warns[0], "chmod g-w") {
		t.Fatalf("warnings %q", warns)
	}
}

func TestCheckPassesAPrivateHomeAndAMissingState(t *testing.T) {
	home := t.TempDir()
	warns, err := homedir.Check(home, filepath.Join(home, "state"))
	if err != nil || len(warns) != 0 {
		t.Fatalf("private home: %v %q", err, warns)
	}
}

func TestCheckQuotesADirectoryWithSpacesInTheFix(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my home")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o707); err != nil {
		t.Fatal(err)
	}
	if _, err := homedir.Check(dir); err == nil || !strings.Contains(err.Error(), "chmod o-w '"+dir+"'") {
		t.Fatalf("error %v", err)
	}
}

// TestHomeIDIsStablePerHomeAndDistinctBetweenHomes: the id is written
// once and read back the same; another home gets another; a file that is
// no id is an error naming it.
func TestHomeIDIsStablePerHomeAndDistinctBetweenHomes(t *testing.T) {
	a := filepath.Join(t.TempDir(), "state", "home.id")
	first, err := homedir.ID(a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := homedir.ID(a)
	if err != nil || again != first || len(first) != 32 {
		t.Fatalf("ID read back %q (%v), first %q: want the same 32 hex digits", again, err, first)
	}
	other, err := homedir.ID(filepath.Join(t.TempDir(), "state", "home.id"))
	if err != nil || other == first {
		t.Fatalf("a second home got %q (%v), the first %q: want another id", other, err, first)
	}
	if err := os.WriteFile(a, []byte("not an id\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := homedir.ID(a); err == nil || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), "fix:") {
		t.Fatalf("ID of a garbage file: %v, want an error naming %s and the fix", err, a)
	}
}

// TestWriteAtomicReplacesAPlantedSymlinkInsteadOfFollowingIt: a link
// planted at logs/razar_state.json (or a quarantine file) is replaced by the
// new file; the file it pointed at is untouched.
func TestWriteAtomicReplacesAPlantedSymlinkInsteadOfFollowingIt(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, "logs", "razar_state.json")
	vpath, want := homedirtest.PlantLink(t, path)
	if err := homedir.WriteAtomic(path, []byte(`{"health":"healthy"}`+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(vpath); string(got) != string(want) {
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
	left, _ := filepath.Glob(filepath.Join(home, "logs", ".razar_state.json*"))
	if len(left) != 0 {
		t.Fatalf("temp files left: %q", left)
	}
}

// TestWriteAtomicGivesTheModeWhateverTheUmaskAndCreatesTheDirectory: the
// file gets perm exactly (0644 for a textfile under umask 077, too), in a
// directory made on the way.
func TestWriteAtomicGivesTheModeWhateverTheUmaskAndCreatesTheDirectory(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "state", "x.prom")
	if err := homedir.WriteAtomic(path, []byte("a 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stat %v %v, want mode 0644", fi, err)
	}
}

// TestWriteAtomicFuncLeavesTheOldFileWhenFillFails: a failed fill keeps
// the old content and leaves no temp file behind.
func TestWriteAtomicFuncLeavesTheOldFileWhenFillFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "roster.json")
	if err := homedir.WriteAtomic(path, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := homedir.WriteAtomicFunc(path, 0o640, func(w io.Writer) error {
		if _, err := w.Write([]byte("half")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want fill's", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Fatalf("content %q, want the old file", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".roster.json*")); len(left) != 0 {
		t.Fatalf("temp files left: %q", left)
	}
}
