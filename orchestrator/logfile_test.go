package orchestrator

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestBoundedLogRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "web.log")
	l, err := openBoundedLog(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("x"), 39)
	line = append(line, '\n')
	for i := 0; i < 7; i++ {
		if _, err := l.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if len(cur) > 100 || len(old) > 100 || len(cur)+len(old) < 80 {
		t.Fatalf("sizes: current %d, rotated %d; want each ≤ 100", len(cur), len(old))
	}
	if _, err := l.Write(line); err == nil {
		t.Fatal("write after close succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

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
