package jsonl

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/homedir/homedirtest"
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

func TestAppendNeverWritesThroughAPlantedSymlink(t *testing.T) {
	const rel = "logs/razar_ai_invocations.json"
	home := t.TempDir()
	victim, want := homedirtest.PlantLink(t, filepath.Join(home, rel))
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
