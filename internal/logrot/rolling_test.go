package logrot

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRollingRotatesWholeLinesAndKeepsTheNewest: past max the file moves
// to .1 (.1 to .2 ...), every line stays whole in one file, the newest are
// in the current file, and no file is over max.
func TestRollingRotatesWholeLinesAndKeepsTheNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "razar.log")
	r, err := NewRolling(path, 1000, 3, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if _, err := fmt.Fprintf(r, "{\"line\":%d,\"pad\":\"%040d\"}\n", i, i); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	cur, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(cur, []byte("{\"line\":199,\"pad\":\"0000000000000000000000000000000000000199\"}\n")) {
		t.Fatalf("the newest line is not at the end of the current file:\n%s", cur)
	}
	for _, p := range []string{path, path + ".1", path + ".2", path + ".3"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(b) > 1000 || !bytes.HasSuffix(b, []byte("\n")) || !bytes.HasPrefix(b, []byte("{")) {
			t.Fatalf("%s is %d bytes or holds a split line", p, len(b))
		}
	}
	if _, err := os.Stat(path + ".4"); !os.IsNotExist(err) {
		t.Fatalf("more than 3 old files kept: %v", err)
	}
}

// TestRollingFollowsARotationByAnotherProcess: when another writer of the
// same path rotated it, the next write goes to the new file at path.
func TestRollingFollowsARotationByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "razar.log")
	r, err := NewRolling(path, 0, 3, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fmt.Fprintln(r, "before")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(r, "after")
	if b, _ := os.ReadFile(path); string(b) != "after\n" {
		t.Fatalf("the current file holds %q, want the line written after the rotation", b)
	}
}
