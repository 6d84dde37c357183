package orchestrator

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAppendLineClosesATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "x.json")
	if err := AppendLine(path, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	// A crash elsewhere left half a line.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.Write([]byte(`{"b":`))
	f.Close()
	if err := AppendLine(path, []byte(`{"c":3}`)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "{\"a\":1}\n{\"b\":\n{\"c\":3}\n" {
		t.Fatalf("file:\n%q", got)
	}
}
