package ctl

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvLayersTheEnvironmentOverRazarEnv(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, EnvFile), []byte("RAZAR_A=file\nRAZAR_B=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := "/nonexistent" // the home before the flags settled it
	osEnv := map[string]string{"RAZAR_A": "env"}
	var warn bytes.Buffer
	e := NewEnv(func() string { return dir }, func(k string) (string, bool) { v, ok := osEnv[k]; return v, ok }, func() io.Writer { return &warn })
	dir = home
	if got := e.Getenv("RAZAR_A"); got != "env" {
		t.Errorf("RAZAR_A = %q, want the environment's", got)
	}
	if got := e.Getenv("RAZAR_B"); got != "file" {
		t.Errorf("RAZAR_B = %q, want config/razar.env's", got)
	}
	if _, ok := e.Lookup("RAZAR_C"); ok {
		t.Error("RAZAR_C is set in neither")
	}
	if old := e.Swap(map[string]string{"RAZAR_B": "swapped"}); old["RAZAR_B"] != "file" || e.Getenv("RAZAR_B") != "swapped" {
		t.Errorf("Swap: old %v, now %q", old, e.Getenv("RAZAR_B"))
	}
	if warn.Len() != 0 {
		t.Errorf("a readable file warned: %s", warn.String())
	}
}

func TestEnvReportsABrokenFileOnce(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, EnvFile), 0o755); err != nil { // a directory: unreadable as a file
		t.Fatal(err)
	}
	var warn bytes.Buffer
	e := NewEnv(func() string { return home }, func(string) (string, bool) { return "", false }, func() io.Writer { return &warn })
	e.Getenv("RAZAR_A")
	e.Getenv("RAZAR_B")
	if n := strings.Count(warn.String(), "razar: warning:"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, warn.String())
	}
	if e.FileErr() == nil {
		t.Error("FileErr is nil for a broken file")
	}
}
