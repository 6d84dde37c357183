package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// entries lists what is under dir, to show a refused boot created nothing.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBootRefusesAHomeOrStateOthersCanWrite: with the home or state/ open
// to every user, `razar boot` exits 2 with one line naming the directory and
// `chmod o-w DIR`, before it writes anything there.
func TestBootRefusesAHomeOrStateOthersCanWrite(t *testing.T) {
	for _, open := range []string{".", "state"} {
		t.Run(open, func(t *testing.T) {
			h := home(t, crownRoster, map[string]string{"state/.keep": ""})
			dir := filepath.Join(h, open)
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
			before := entries(t, h)
			_, stderr, code := runCLI(t, "--home", h, "boot", "--nats-listen", "127.0.0.1:0")
			want := "chmod o-w " + filepath.Clean(dir)
			if code != 2 || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q: want exit 2 and one line with %q", code, stderr, want)
			}
			if after := entries(t, h); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Fatalf("a refused boot changed the home:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// TestBootWarnsOnAGroupWritableHome: a group-writable home boots, with a
// warning that names it.
func TestBootWarnsOnAGroupWritableHome(t *testing.T) {
	h := home(t, crownRoster, nil)
	if err := os.Chmod(h, 0o770); err != nil {
		t.Fatal(err)
	}
	p := start(t, h, nil, "boot", "--once", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("boot --once exit %d:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, h+" is writable by its group") || !strings.Contains(out, "chmod g-w") {
		t.Fatalf("no group-writable warning:\n%s", out)
	}
}
