package jsonl

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar/internal/homedir"
)

func TestAppendCutsOffATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "x.json")
	if err := Append(path, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	// A crash elsewhere left half a line.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.Write([]byte(`{"b":`))
	f.Close()
	if err := Append(path, []byte(`{"c":3}`)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "{\"a\":1}\n{\"c\":3}\n" {
		t.Fatalf("file:\n%q", got)
	}
}

// plantLink makes home/rel a symlink to a victim file outside the home, as
// another user who could write logs/ would, and returns the victim's path
// and content.
func plantLink(t *testing.T, home, rel string) (string, []byte) {
	t.Helper()
	victim := filepath.Join(t.TempDir(), "victim")
	content := []byte("the victim's own content\n")
	if err := os.WriteFile(victim, content, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(home, rel)
	if err := os.MkdirAll(filepath.Dir(link), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	return victim, content
}

func TestAppendNeverWritesThroughAPlantedSymlink(t *testing.T) {
	const rel = "logs/razar_ai_invocations.json"
	home := t.TempDir()
	victim, want := plantLink(t, home, rel)
	err := Append(filepath.Join(home, rel), []byte(`{"event":"attempt"}`))
	if err == nil {
		t.Fatal("Append wrote through a symlink")
	}
	if !errors.Is(err, homedir.ErrSymlink) || !strings.Contains(err.Error(), rel) || !strings.Contains(err.Error(), "remove the symlink") {
		t.Fatalf("error %q: want one naming %s and the fix", err, rel)
	}
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, want) {
		t.Fatalf("victim changed: %q", got)
	}
}
