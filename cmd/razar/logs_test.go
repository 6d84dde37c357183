package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDaemonLogReadsWellAt3AM: no empty fields, durations as durations, on
// the console and in logs/razar.log alike.
func TestDaemonLogReadsWellAt3AM(t *testing.T) {
	home := t.TempDir()
	var console bytes.Buffer
	c := newCLI(home, &console, &console, func(string) (string, bool) { return "", false })
	log, closeLog, err := c.daemonLogger("boot")
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Str("component", "web").Str("error", "").Stringer("backoff", 1100*time.Millisecond).Msg("restarting component")
	closeLog()
	file, err := os.ReadFile(filepath.Join(home, razarLogFile))
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
