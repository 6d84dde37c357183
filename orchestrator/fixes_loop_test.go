package orchestrator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/fixmem"
)

const portFix = "--- a/app.conf\n+++ b/app.conf\n@@ -1 +1 @@\n-port=abc\n+port=8080\n"

// portLoop: web is healthy when app.conf says port=8080; crown answers
// every escalation with the patch that says so.
func portLoop(t *testing.T, tweak func(*Config)) *loop {
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second)}, tweak)
	l.setComponent(func(c *config.Component) {
		c.HealthCheck = &razar.HealthCheck{Command: []string{"grep", "-q", "port=8080", "app.conf"}}
	})
	l.answer("crown", func(*bus.Escalation) *bus.Result {
		return &bus.Result{Status: razar.StatusFixed, Summary: "set the port", Diff: portFix}
	})
	return l
}

func (l *loop) writeConf(text string) {
	l.t.Helper()
	if err := os.WriteFile(filepath.Join(l.workdir, "app.conf"), []byte(text), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// TestFixMemoryLearnsReplaysAndForgets is the fix memory's life: a patch
// that heals and holds is learned; the failure's recurrence is healed by
// it with no rung asked; a restarted orchestrator replays it from the
// stream; an operator pins it (kept when it fails), sees it stale when
// the files moved on, and forgets it.
func TestFixMemoryLearnsReplaysAndForgets(t *testing.T) {
	const failure = "web: invalid port \"abc\" in app.conf"
	sig := fixmem.Signature("web", failure)
	l := portLoop(t, nil)

	// Learned.
	id := l.escalate(failure)
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "crown:healed" {
		t.Fatalf("incident %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
	if got := events(l.audit(id), bus.EventPatch, bus.EventApplied, bus.EventFixLearned); got != "patch applied fix_learned" {
		t.Errorf("audit: %s", got)
	}
	if l.o().Fixes().Len() != 1 || value(l.fixm.Learned) != 1 || value(l.fixm.Signatures) != 1 {
		t.Fatalf("memory holds %d, learned %v", l.o().Fixes().Len(), value(l.fixm.Learned))
	}

	// Recurrence: the remembered fix, no rung asked.
	l.writeConf("port=abc\n")
	id = l.escalate(failure)
	rec = l.wait(id)
	if rec.State != razar.IncidentHealed || attemptsOf(rec) != "memory:healed" || !strings.HasPrefix(rec.Reason, "a remembered fix (") {
		t.Fatalf("recurrence %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
	if n := len(l.escalations("crown")); n != 1 || value(l.fixm.Hits) != 1 || value(l.fixm.Heals) != 1 {
		t.Errorf("crown asked %d times, hits %v, heals %v", n, value(l.fixm.Hits), value(l.fixm.Heals))
	}

	// Replayed by the next orchestrator.
	l.restart()
	if n := l.o().Fixes().Len(); n != 1 {
		t.Fatalf("replayed memory holds %d signatures", n)
	}
	desk := l.lifecycle()

	// The verbs: list, show, pin.
	rep, err := l.command(bus.VerbFixes, nil)
	if err != nil || rep.Message != "1 signatures remembered" || !strings.Contains(string(rep.Data), sig) {
		t.Fatalf("fixes: %+v %v", rep, err)
	}
	rep, err = l.command(bus.VerbFixes, &bus.LifecycleRequest{Signature: sig})
	var shown []fixmem.Fix
	if err != nil || json.Unmarshal(rep.Data, &shown) != nil || len(shown) != 1 || shown[0].Diff != portFix {
		t.Fatalf("fixes %s: %+v %v", sig, rep, err)
	}
	if _, err := l.command(bus.VerbFixes, &bus.LifecycleRequest{Signature: "sig-0000000000000000"}); !isNotFound(err) && (err == nil || !strings.Contains(err.Error(), "no remembered fix")) {
		t.Errorf("fixes of an unknown signature: %v", err)
	}
	if _, err := l.command(bus.VerbFixPin, &bus.LifecycleRequest{Signature: "nonsense"}); err == nil || !strings.Contains(err.Error(), "want sig-<16 hex digits>") {
		t.Errorf("pin a bad signature: %v", err)
	}
	desk.as(robot)
	if _, err := l.command(bus.VerbFixPin, &bus.LifecycleRequest{Signature: sig}); err == nil || !strings.Contains(err.Error(), "an operator identity decides") {
		t.Errorf("pin by a non-operator: %v", err)
	}
	desk.as(alice)
	if rep, err := l.command(bus.VerbFixPin, &bus.LifecycleRequest{Signature: sig}); err != nil || !strings.Contains(rep.Message, "pinned: a permanent rule") {
		t.Fatalf("pin: %+v %v", rep, err)
	}
	if _, err := l.o().PinFix(bg(t), sig, "fix-nope", "alice"); !isNotFound(err) {
		t.Errorf("pin an unknown fix: %v", err)
	}
	if data, err := l.env.Store.GetRaw(bg(t), PinnedKey); err != nil || !strings.Contains(string(data), sig) {
		t.Errorf("%s: %s %v", PinnedKey, data, err)
	}

	// A pinned fix that does not hold is kept, and recorded failed; it
	// counts towards T like any failed attempt.
	if err := l.o().SetThresholds(Thresholds{Threshold: 2, RemoteAttempts: 1}); err != nil {
		t.Fatal(err)
	}
	l.writeConf("port=abc\n")
	l.setComponent(func(c *config.Component) {
		c.HealthCheck = &razar.HealthCheck{Command: []string{"grep", "-q", "port=9090", "app.conf"}}
	})
	id = l.escalate(failure)
	rec = l.wait(id)
	if rec.State != razar.IncidentFailed || attemptsOf(rec) != "memory:rejected crown:rejected" {
		t.Fatalf("pinned fix that fails: %s %q: %s", rec.State, rec.Reason, attemptsOf(rec))
	}
	var failed *bus.AuditRecord
	for _, r := range l.audit(id) {
		if r.Event == bus.EventFixFailed {
			failed = &r
		}
	}
	if failed == nil || failed.Message != "pinned: kept, and tried again next time" {
		t.Errorf("fix_failed record %+v", failed)
	}

	// Stale: the files moved on, the diff no longer applies.
	l.writeConf("port=xyz\n")
	id = l.escalate(failure)
	rec = l.wait(id)
	if len(rec.Skips) != 1 || rec.Skips[0].Rung != MemoryRung || !strings.Contains(rec.Skips[0].Reason, "remembered fixes of "+sig+" are stale") {
		t.Fatalf("stale fix: skips %+v, attempts %s", rec.Skips, attemptsOf(rec))
	}
	if value(l.fixm.Stale) != 1 {
		t.Errorf("stale %v", value(l.fixm.Stale))
	}

	// Forgotten.
	if rep, err := l.command(bus.VerbFixForget, &bus.LifecycleRequest{Signature: sig}); err != nil || !strings.Contains(rep.Message, "forgotten (1 fixes)") {
		t.Fatalf("forget: %+v %v", rep, err)
	}
	if n := l.o().Fixes().Len(); n != 0 {
		t.Errorf("memory holds %d after forget", n)
	}
	if _, err := l.o().ForgetFix(bg(t), sig, "alice"); !isNotFound(err) {
		t.Errorf("forget again: %v", err)
	}
}

// TestFixMemoryOff: with RAZAR_FIX_MEMORY=off nothing is learned and the
// verbs say why.
func TestFixMemoryOff(t *testing.T) {
	l := portLoop(t, func(c *Config) { c.NoFixMemory = true })
	l.lifecycle()
	rec := l.wait(l.escalate("web: invalid port"))
	if rec.State != razar.IncidentHealed || l.o().Fixes() != nil {
		t.Fatalf("incident %s, memory %v", rec.State, l.o().Fixes())
	}
	if _, err := l.command(bus.VerbFixes, nil); err == nil || !strings.Contains(err.Error(), "RAZAR_FIX_MEMORY=off") {
		t.Errorf("fixes: %v", err)
	}
	if _, err := l.o().ForgetFix(bg(t), "sig-0000000000000000", "alice"); err == nil {
		t.Error("forget with the memory off")
	}
	if _, err := l.o().PinFix(bg(t), "sig-0000000000000000", "", "alice"); err == nil {
		t.Error("pin with the memory off")
	}
}
