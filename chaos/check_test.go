package chaos

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// TestCheckCountsEveryBrokenInvariant plants each fault Check looks for
// (an incident ended twice, one never ended, one the bucket disagrees
// with, a record missing from logs/, a line not on the stream, a line
// twice, a torn line) and wants each counted: the checker the scenarios
// rely on can fail.
func TestCheckCountsEveryBrokenInvariant(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	home := t.TempDir()
	audit := func(ev bus.Event, inc string, n int) uint64 {
		seq, err := env.Store.AuditSeq(ctx, &bus.AuditRecord{Event: ev, Component: "web", Incident: inc, Attempt: n, Agent: "k2", Outcome: "no_fix"}, bus.AuditMsgID(ev, inc, n))
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	kv := func(id string, state razar.IncidentState) {
		now := time.Now().UTC()
		if _, err := env.Store.CreateIncident(ctx, &bus.IncidentRecord{ID: id, Component: "web", Error: "down", State: state, Opened: now, Updated: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"inc-ok", "inc-twice", "inc-open", "inc-disagrees"} {
		audit(bus.EventOpened, id, 0)
	}
	kept := audit(bus.EventAttempt, "inc-ok", 1)
	audit(bus.EventAttempt, "inc-ok", 2) // never in logs/
	audit(bus.EventHealed, "inc-ok", 0)
	audit(bus.EventHealed, "inc-twice", 0)
	audit(bus.EventFailed, "inc-twice", 0)
	audit(bus.EventFailed, "inc-disagrees", 0)
	kv("inc-ok", razar.IncidentHealed)
	kv("inc-twice", razar.IncidentHealed)
	kv("inc-open", razar.IncidentOpen)
	kv("inc-disagrees", razar.IncidentHealed)

	line := func(seq uint64) string {
		b, _ := json.Marshal(&bus.AuditRecord{Event: bus.EventAttempt, Component: "web", Incident: "inc-ok", Seq: seq})
		return string(b) + "\n"
	}
	file := razar.Home(home).Invocations()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	body := line(kept) + line(kept) + line(999) + `{"event": "attempt", "seq": 10` + "\n"
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Check(ctx, env.Store, home)
	if err != nil {
		t.Fatal(err)
	}
	got := []int{r.Incidents, r.EndedOnce, r.Lost, r.Duplicated, r.Torn}
	want := []int{4, 1, 2, 1, 1}
	for i, name := range []string{"incidents", "ended once", "lost", "duplicated", "torn"} {
		if got[i] != want[i] {
			t.Errorf("%s: %d, want %d", name, got[i], want[i])
		}
	}
	problems := strings.Join(r.Problems, "\n")
	for _, s := range []string{"inc-twice has 2 terminal records", "inc-open has 0 terminal records", "inc-disagrees ended failed on the stream but its bucket record says healed",
		"is not in logs/", "(seq 999, attempt) is not on the stream", "in logs/ twice", "is not JSON"} {
		if !strings.Contains(problems, s) {
			t.Errorf("no problem says %q:\n%s", s, problems)
		}
	}
}

// TestCheckWantsOneEndPerOpeningAndAnOfflineRollbackOnce: a reopened
// incident (a heal that did not hold) must end once more, and its bucket
// record agrees with its last end; an offline rollback's record (no
// stream sequence) in patch_history.jsonl is fine once and counted twice.
func TestCheckWantsOneEndPerOpeningAndAnOfflineRollbackOnce(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	home := t.TempDir()
	audit := func(ev bus.Event, inc string, n int) {
		if _, err := env.Store.AuditSeq(ctx, &bus.AuditRecord{Event: ev, Component: "web", Incident: inc}, bus.AuditMsgID(ev, inc, n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"inc-reopened", "inc-short"} {
		audit(bus.EventOpened, id, 0)
		audit(bus.EventHealed, id, 0)
		audit(bus.EventReopened, id, 1)
		now := time.Now().UTC()
		if _, err := env.Store.CreateIncident(ctx, &bus.IncidentRecord{ID: id, Component: "web", Error: "down", State: razar.IncidentFailed, Opened: now, Updated: now}); err != nil {
			t.Fatal(err)
		}
	}
	audit(bus.EventFailed, "inc-reopened", 1)
	rollback, _ := json.Marshal(&bus.AuditRecord{Event: bus.EventReverted, Component: "web", PatchID: "p-1"})
	file := razar.Home(home).PatchHistory()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(append(rollback, '\n'), append(rollback, '\n')...), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Check(ctx, env.Store, home)
	if err != nil {
		t.Fatal(err)
	}
	if r.Incidents != 2 || r.EndedOnce != 1 || r.Duplicated != 1 || r.Lost != 0 {
		t.Errorf("incidents %d, ended once %d, duplicated %d, lost %d; want 2, 1, 1, 0:\n%s", r.Incidents, r.EndedOnce, r.Duplicated, r.Lost, strings.Join(r.Problems, "\n"))
	}
	problems := strings.Join(r.Problems, "\n")
	for _, want := range []string{"inc-short has 1 terminal records on the stream (healed), want 2", "the rollback of web/p-1 is in logs/ twice"} {
		if !strings.Contains(problems, want) {
			t.Errorf("no problem says %q:\n%s", want, problems)
		}
	}
}

// TestProcsCountsDoubledAndOrphanedProcesses: Procs finds a component's
// processes by marker, one unsupervised is an orphan and a second doubled,
// and after RAZAR stopped every live one is an orphan.
func TestProcsCountsDoubledAndOrphanedProcesses(t *testing.T) {
	mark := marker()
	markers := map[string]string{"web": mark}
	var pids []int
	for range 2 {
		p := startSleep(t, mark)
		pids = append(pids, p)
	}
	running := &Report{}
	Procs(running, markers, map[string]int{"web": pids[0]})
	if running.Doubled != 1 || running.Orphans != 1 {
		t.Errorf("two processes, one supervised: doubled %d, orphans %d, want 1 and 1: %v", running.Doubled, running.Orphans, running.Problems)
	}
	stopped := &Report{}
	Procs(stopped, markers, nil)
	if stopped.Orphans != 2 {
		t.Errorf("two processes after RAZAR stopped: orphans %d, want 2: %v", stopped.Orphans, stopped.Problems)
	}
	none := &Report{}
	Procs(none, map[string]string{"web": marker()}, nil)
	if none.Orphans != 0 || len(none.Problems) != 0 {
		t.Errorf("no process: %+v", none)
	}
}
