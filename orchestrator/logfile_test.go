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
