package chaos

import (
	"os"
	"path/filepath"
	"strings"
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
	bustest.Tmpfs(t, logsDir, "size=1m") // unmounted after RAZAR stopped: cleanups run last first
	b := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	st := live(t, h, "")
	bustest.Eventually(t, 60*time.Second, func() bool { return lines(filepath.Join(h, "kimicho.runs")) > 0 },
		"kimicho never took an attempt; output:\n%s", bustest.Lazy(func() string { return tail(b.out.String(), 6000) }))
	filler := filepath.Join(logsDir, "filler")
	bustest.FillDisk(t, filler)
	waitEnded(t, st, 4, 90*time.Second)
	if !strings.Contains(b.out.String(), "could not mirror audit record") {
		t.Errorf("the mirror never hit the full disk: the scenario injected nothing; output:\n%s", tail(b.out.String(), 6000))
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	finish(t, h, b, markers, 1)
}

// fullStateDisk is finding 13: state/ (the record store) is a 64 MiB
// tmpfs, filled up while kimicho works on an attempt, so the attempt's
// timeout and what follows cannot be stored. At once RAZAR raises the
// critical alert and `razar status` exits 1 naming the record store;
// when the space is freed RAZAR restarts its store in place (no RAZAR
// restart), status is clear again, the incident heals, and every record
// is on the stream and in logs/ once.
func fullStateDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs on state/")
	}
	h, markers := chaosHome(t, ladderRoster, 1, map[string]string{"agents/kimicho.sh": hangScript, "agents/fix.sh": fixScript})
	stateDir := filepath.Join(h, "state")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	bustest.Tmpfs(t, stateDir, "size=64m,mode=0700") // unmounted after RAZAR stopped and the store was checked
	// Limits that fit the small disk (the defaults reserve 2.3 GiB).
	env := []string{"RAZAR_STREAM_MAX_BYTES=8MiB", "RAZAR_RESULTS_MAX_BYTES=4MiB", "RAZAR_STATE_MAX_BYTES=4MiB"}
	b := boot(t, h, env, "--nats-listen", "127.0.0.1:0")
	st := live(t, h, "")
	bustest.Eventually(t, 60*time.Second, func() bool { return lines(filepath.Join(h, "kimicho.runs")) > 0 },
		"kimicho never took an attempt; output:\n%s", bustest.Lazy(func() string { return tail(b.out.String(), 6000) }))
	filler := filepath.Join(stateDir, "filler")
	bustest.FillDisk(t, filler)

	var out string
	bustest.Eventually(t, 30*time.Second, func() bool {
		var err error
		out, err = cli(t, h, "status")
		return err != nil && strings.Contains(out, "record store")
	}, "razar status does not fail naming the record store while state/ is full:\n%s", bustest.Lazy(func() string { return out }))
	stateFile := func() string { data, _ := os.ReadFile(filepath.Join(h, "logs/razar_state.json")); return string(data) }
	bustest.Eventually(t, 30*time.Second, func() bool { return strings.Contains(stateFile(), `"store":`) },
		"logs/razar_state.json does not say the record store is down:\n%s", bustest.Lazy(stateFile))
	bustest.Eventually(t, 30*time.Second, func() bool { return strings.Contains(b.out.String(), "RAZAR cannot record") },
		"no critical alert for the full state disk; output:\n%s", bustest.Lazy(func() string { return tail(b.out.String(), 6000) }))
	// Let kimicho's 3 s run out while nothing can be stored.
	bustest.Eventually(t, 60*time.Second, func() bool { return strings.Contains(b.out.String(), "no space left") },
		"no write to the full state disk failed: the scenario injected nothing; output:\n%s", bustest.Lazy(func() string { return tail(b.out.String(), 6000) }))

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 60*time.Second, func() bool {
		out, _ = cli(t, h, "status")
		return !strings.Contains(out, "record store")
	}, "razar status still names the record store after the space returned:\n%s", bustest.Lazy(func() string { return out }))
	bustest.Eventually(t, 30*time.Second, func() bool { return !strings.Contains(stateFile(), `"store":`) },
		"logs/razar_state.json still says the record store is down:\n%s", bustest.Lazy(stateFile))
	waitEnded(t, st, 1, 120*time.Second)
	if recs := incidents(st); len(recs) != 1 || recs[0].State != "healed" {
		t.Errorf("incidents after the full state disk: %s, want one healed", describe(recs))
	}
	if strings.Contains(b.out.String(), "RAZAR is up") && strings.Count(b.out.String(), "RAZAR is up") != 1 {
		t.Errorf("RAZAR restarted during the scenario; output:\n%s", tail(b.out.String(), 6000))
	}
	finish(t, h, b, markers, 1)
}
