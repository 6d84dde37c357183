package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/orchestrator"
)

// memoryMesh is a mesh whose component "web" is healthy when app.conf says
// port=8080 (and, with needExtra, a file "extra" exists). Kimicho writes
// the fix: a diff from the port app.conf has now to 8080 (and "extra", if
// told to); it counts its calls.
type memoryMesh struct {
	*mesh
	calls     atomic.Int32 // kimicho's
	crown     atomic.Int32
	makeExtra atomic.Bool
}

var portLine = regexp.MustCompile(`(?m)^port=(.*)$`)

func newMemoryMesh(t testing.TB, cfg orchestrator.Config) *memoryMesh {
	t.Helper()
	mm := &memoryMesh{}
	kimicho := razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		mm.calls.Add(1)
		data, err := os.ReadFile(filepath.Join(mm.workdir, "app.conf"))
		if err != nil {
			return razar.Fix{}, err
		}
		if mm.makeExtra.Load() {
			if err := os.WriteFile(filepath.Join(mm.workdir, "extra"), []byte("x"), 0o644); err != nil {
				return razar.Fix{}, err
			}
		}
		return razar.Fix{Status: razar.StatusFixed, Summary: "port 8080", Diff: portDiffFrom(portLine.FindStringSubmatch(string(data))[1])}, nil
	})
	crown := razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		mm.crown.Add(1)
		return razar.Fix{Status: razar.StatusNoFix, Summary: "no rule"}, nil
	})
	if cfg.Home == "" {
		cfg.Home = t.TempDir()
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 9
	}
	mm.mesh = newMesh(t, fiveRungs(map[string]rung{"crown": {backend: crown}, "kimicho": {backend: kimicho}}), cfg)
	mm.boot.Components[0].HealthCheck = &razar.HealthCheck{Command: []string{"sh", "-c", "grep -q '^port=8080$' app.conf"}}
	mm.breakConf("abc")
	return mm
}

// portDiffFrom turns app.conf's port line from from to 8080.
func portDiffFrom(from string) string {
	return "--- a/app.conf\n+++ b/app.conf\n@@ -1,2 +1,2 @@\n # app\n-port=" + from + "\n+port=8080\n"
}

func (mm *memoryMesh) breakConf(port string) {
	mm.t.Helper()
	if err := os.WriteFile(filepath.Join(mm.workdir, "app.conf"), []byte("# app\nport="+port+"\n"), 0o644); err != nil {
		mm.t.Fatal(err)
	}
}

func (mm *memoryMesh) fixEvents() []string {
	var out []string
	err := mm.env.Store.Scan(context.Background(), bus.AuditAll, time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err != nil {
			return err
		}
		switch r.Event {
		case bus.EventFixLearned, bus.EventFixFailed, bus.EventFixForgotten, bus.EventFixPinned:
			out = append(out, string(r.Event))
		case bus.EventSkipped:
			if r.Agent == orchestrator.MemoryRung {
				out = append(out, "memory_skipped")
			}
		}
		return nil
	})
	if err != nil {
		mm.t.Fatal(err)
	}
	return out
}

// ledgerFailure is a failure text that differs run to run only in noise
// (a pid, a time).
func ledgerFailure(n int) string {
	return fmt.Sprintf("web exited with status 1 (pid %d) at 2026-12-02T02:38:%02dZ\n--- last output of web ---\napp.conf: port is not a number", 4000+n, n%60)
}

func TestRecurrenceHealsFromMemoryWithNoRungAsked(t *testing.T) {
	mm := newMemoryMesh(t, orchestrator.Config{})
	first := mm.escalate(ledgerFailure(1))
	if first.State != razar.IncidentHealed || attemptsOf(first) != "crown:no_fix kimicho:healed" {
		t.Fatalf("first occurrence: %s %s", first.State, attemptsOf(first))
	}
	mm.breakConf("abc")
	again := mm.escalate(ledgerFailure(2))
	if again.State != razar.IncidentHealed || attemptsOf(again) != "memory:healed" {
		t.Fatalf("recurrence: %s %q (%s), want healed by memory:healed", again.State, attemptsOf(again), again.Reason)
	}
	if n, c := mm.calls.Load(), mm.crown.Load(); n != 1 || c != 1 {
		t.Fatalf("rung calls over both occurrences: kimicho %d, crown %d; want 1 and 1 (the recurrence asked none)", n, c)
	}
	if again.Escalations != 0 {
		t.Errorf("recurrence escalated %d times, want 0", again.Escalations)
	}
	if got := mm.fixEvents(); len(got) != 1 || got[0] != "fix_learned" {
		t.Errorf("fix records %v, want one fix_learned", got)
	}
	// The memory is the stream's: a new orchestrator replays it.
	mm.stopOrch()
	mm.stopOrch = mm.startOrchestrator()
	sig := fixmem.Signature("web", ledgerFailure(3))
	if c := mm.orch.Fixes().Candidates(sig); len(c) != 1 || c[0].Rung != "kimicho" || len(c[0].Files) != 1 || c[0].Files[0].SHA256Before == "" {
		t.Fatalf("replayed memory for %s: %+v, want kimicho's fix with its file hashes", sig, c)
	}
}

func TestStaleMemoryIsSkippedAndTheLadderHeals(t *testing.T) {
	mm := newMemoryMesh(t, orchestrator.Config{})
	if rec := mm.escalate(ledgerFailure(1)); rec.State != razar.IncidentHealed {
		t.Fatalf("first occurrence: %s %s", rec.State, attemptsOf(rec))
	}
	mm.breakConf("xyz") // the files changed: the remembered diff (-port=abc) no longer applies
	again := mm.escalate(ledgerFailure(2))
	if again.State != razar.IncidentHealed || attemptsOf(again) != "crown:no_fix kimicho:healed" {
		t.Fatalf("recurrence on changed files: %s %q, want the ladder to heal it", again.State, attemptsOf(again))
	}
	if len(again.Skips) == 0 || again.Skips[0].Rung != orchestrator.MemoryRung {
		t.Fatalf("skips %+v, want the memory skipped first", again.Skips)
	}
	if got := mm.fixEvents(); len(got) != 3 || got[1] != "memory_skipped" {
		t.Fatalf("fix records %v, want fix_learned memory_skipped fix_learned", got)
	}
	if mm.calls.Load() != 2 {
		t.Fatalf("kimicho called %d times, want 2", mm.calls.Load())
	}
}

func TestFailingMemoryIsMarkedAndTheLadderGoesOn(t *testing.T) {
	mm := newMemoryMesh(t, orchestrator.Config{})
	if rec := mm.escalate(ledgerFailure(1)); rec.State != razar.IncidentHealed {
		t.Fatalf("first occurrence: %s %s", rec.State, attemptsOf(rec))
	}
	// Now the component needs more than the port: the remembered fix
	// applies but does not hold, and is reverted.
	mm.boot.Components[0].HealthCheck = &razar.HealthCheck{Command: []string{"sh", "-c", "grep -q '^port=8080$' app.conf && test -f extra"}}
	mm.makeExtra.Store(true)
	mm.breakConf("abc")
	again := mm.escalate(ledgerFailure(2))
	if again.State != razar.IncidentHealed || attemptsOf(again) != "memory:rejected crown:no_fix kimicho:healed" {
		t.Fatalf("recurrence: %s %q, want memory:rejected then the ladder", again.State, attemptsOf(again))
	}
	if again.Cursor.Failed != 2 {
		t.Errorf("failed attempts %d, want 2 (the memory's counts toward T)", again.Cursor.Failed)
	}
	sig := fixmem.Signature("web", ledgerFailure(1))
	all := mm.orch.Fixes().Show(sig)
	if len(all) != 1 || all[0].Failed {
		// Kimicho's heal renewed the same diff: it is good again.
		t.Fatalf("memory after the new heal: %+v, want the fix renewed (not failed)", all)
	}
	if got := mm.fixEvents(); len(got) != 3 || got[1] != "fix_failed" {
		t.Fatalf("fix records %v, want fix_learned fix_failed fix_learned", got)
	}
}

func TestFailedMemoryIsNotTriedAgain(t *testing.T) {
	mm := newMemoryMesh(t, orchestrator.Config{})
	if rec := mm.escalate(ledgerFailure(1)); rec.State != razar.IncidentHealed {
		t.Fatalf("first occurrence: %s %s", rec.State, attemptsOf(rec))
	}
	// The fix stops holding, and the ladder cannot heal it either (T=0: one pass).
	mm.boot.Components[0].HealthCheck = &razar.HealthCheck{Command: []string{"false"}}
	mm.breakConf("abc")
	if rec := mm.escalate(ledgerFailure(2)); !strings.HasPrefix(attemptsOf(rec), "memory:rejected ") {
		t.Fatalf("second: %q, want the memory tried first", attemptsOf(rec))
	}
	mm.breakConf("abc")
	if rec := mm.escalate(ledgerFailure(3)); len(rec.Attempts) == 0 || rec.Attempts[0].Rung == orchestrator.MemoryRung {
		t.Fatalf("third: %q, want the failed fix not tried again", attemptsOf(rec))
	}
}

func TestNoFixMemoryClimbsTheLadderEveryTime(t *testing.T) {
	mm := newMemoryMesh(t, orchestrator.Config{NoFixMemory: true})
	mm.escalate(ledgerFailure(1))
	mm.breakConf("abc")
	if again := mm.escalate(ledgerFailure(2)); attemptsOf(again) != "crown:no_fix kimicho:healed" {
		t.Fatalf("recurrence without memory: %q, want the ladder", attemptsOf(again))
	}
}

// BenchmarkRecurrence measures a recurrence of a healed failure: with the
// fix memory (the remembered fix, no rung) and without (crown says no,
// kimicho writes the diff again): rung calls and time to heal.
func BenchmarkRecurrence(b *testing.B) {
	for _, c := range []struct {
		name string
		off  bool
	}{{"memory", false}, {"no-memory", true}} {
		b.Run(c.name, func(b *testing.B) {
			mm := newMemoryMesh(b, orchestrator.Config{NoFixMemory: c.off})
			mm.escalate(ledgerFailure(0))
			before := mm.calls.Load() + mm.crown.Load()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				mm.breakConf("abc")
				b.StartTimer()
				if rec := mm.escalate(ledgerFailure(i + 1)); rec.State != razar.IncidentHealed {
					b.Fatalf("recurrence %d: %s %s", i, rec.State, attemptsOf(rec))
				}
			}
			b.ReportMetric(float64(mm.calls.Load()+mm.crown.Load()-before)/float64(b.N), "rungcalls/op")
		})
	}
}

func TestPinnedFixSurvivesTheStreamAgingItsRecordsOut(t *testing.T) {
	mm := newMemoryMesh(t, orchestrator.Config{})
	mm.escalate(ledgerFailure(1))
	sig := fixmem.Signature("web", ledgerFailure(1))
	ctx := context.Background()
	if _, err := mm.orch.PinFix(ctx, sig, "", "ops"); err != nil {
		t.Fatal(err)
	}
	// RAZAR_STREAM_MAX_AGE passes over the fix records.
	if err := mm.env.Store.PurgeSubject(ctx, bus.AuditSubject("*", "*")); err != nil {
		t.Fatal(err)
	}
	mm.stopOrch()
	mm.stopOrch = mm.startOrchestrator()
	mm.breakConf("abc")
	if rec := mm.escalate(ledgerFailure(2)); attemptsOf(rec) != "memory:healed" {
		t.Fatalf("after the records aged out: %q, want the pinned fix to heal it", attemptsOf(rec))
	}
	// Forgetting it removes the permanent copy too.
	if _, err := mm.orch.ForgetFix(ctx, sig, "ops"); err != nil {
		t.Fatal(err)
	}
	mm.stopOrch()
	mm.stopOrch = mm.startOrchestrator()
	if c := mm.orch.Fixes().Candidates(sig); len(c) != 0 {
		t.Fatalf("after forget and a restart: %+v, want nothing", c)
	}
}
