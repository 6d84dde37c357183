package chaos

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// fullLogsDisk: logs/ is a 1 MiB tmpfs, filled up while incidents are at
// kimicho, so every record of the rest of the ladder is stored while the
// mirror cannot write; the incident ends, the space is freed, and the
// mirror catches up: logs/ equals the stream.
func fullLogsDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs on logs/")
	}
	// Long answers: the records after the fill outgrow the room left in
	// the last page of each file, which a full tmpfs still writes into.
	long := strings.Replace(fixScript, "removed broken", "removed broken "+strings.Repeat("and checked it again ", 100), 1)
	h, markers := chaosHome(t, ladderRoster, 4, map[string]string{"agents/kimicho.sh": hangScript, "agents/fix.sh": long})
	logsDir := filepath.Join(h, "logs")
	if err := os.MkdirAll(logsDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", logsDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { // after RAZAR stopped: cleanups run last first
		if out, err := exec.Command("umount", logsDir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", logsDir, err, out)
		}
	})
	b := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	st := live(t, h, "")
	bustest.Eventually(t, 60*time.Second, func() bool { return lines(filepath.Join(h, "kimicho.runs")) > 0 },
		"kimicho never took an attempt; output:\n%s", bustest.Lazy(func() string { return tail(b.out.String(), 6000) }))
	filler := filepath.Join(logsDir, "filler")
	fill(t, filler)
	waitEnded(t, st, 4, 90*time.Second)
	if !strings.Contains(b.out.String(), "could not mirror audit record") {
		t.Errorf("the mirror never hit the full disk: the scenario injected nothing; output:\n%s", tail(b.out.String(), 6000))
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	finish(t, h, b, markers, 1)
}

// fill writes path until its filesystem has no room left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte("x"), 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}
