package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
)

// TestDaemonLogReadsWellAt3AM: no empty fields, durations as durations, on
// the console and in logs/razar.log alike.
func TestDaemonLogReadsWellAt3AM(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	var console bytes.Buffer
	c := newCLI(home, &console, &console, func(string) (string, bool) { return "", false })
	log, closeLog, err := c.daemonLogger("boot")
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Str("component", "web").Str("error", "").Stringer("backoff", 1100*time.Millisecond).Msg("restarting component")
	closeLog()
	file, err := os.ReadFile(razar.Home(home).RazarLog())
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"logs/razar.log": string(file), "console": console.String()} {
		if strings.Contains(out, "error") {
			t.Errorf("%s has an empty error field: %s", name, out)
		}
		if !strings.Contains(out, "1.1s") || !strings.Contains(out, "component") {
			t.Errorf("%s lacks the backoff as a duration or the component: %s", name, out)
		}
	}
}

// TestDaemonLogRefusesAPlantedSymlink: a link another user planted at
// logs/razar.log stops the daemon with one line naming the file and the
// fix; the file it points at is untouched.
func TestDaemonLogRefusesAPlantedSymlink(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	want := []byte("the victim's own content\n")
	if err := os.WriteFile(victim, want, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, "logs"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, razar.Home(home).RazarLog()); err != nil {
		t.Fatal(err)
	}
	var console bytes.Buffer
	c := newCLI(home, &console, &console, func(string) (string, bool) { return "", false })
	_, closeLog, err := c.daemonLogger("boot")
	if err == nil {
		closeLog()
		t.Fatal("daemonLogger opened logs/razar.log through a symlink")
	}
	if msg := err.Error(); !strings.Contains(msg, "logs/razar.log") || !strings.Contains(msg, "remove the symlink") || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line naming %s and the fix", msg, "logs/razar.log")
	}
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, want) {
		t.Fatalf("victim changed: %q", got)
	}
}
