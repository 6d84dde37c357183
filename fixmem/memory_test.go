package fixmem

import (
	"testing"
	"time"

	"github.com/razar/razar/bus"
)

func rec(ev bus.Event, sig, diff, fix string, at time.Time) *bus.AuditRecord {
	r := &bus.AuditRecord{Event: ev, Component: "ledger", Signature: sig, Diff: diff, Fix: fix, Agent: "k2", Incident: "inc-1"}
	r.Stamp(at)
	return r
}

func TestMemoryFoldsTheFixRecordsOfTheStream(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)
	sig := Signature("ledger", "ledger.conf: port missing")
	m := New()
	d1, d2 := "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+c\n"
	if m.Apply(&bus.AuditRecord{Event: bus.EventAttempt, Component: "ledger"}, 1) {
		t.Fatal("an attempt record changed the memory")
	}
	m.Apply(rec(bus.EventFixLearned, sig, d1, "", t0), 2)
	m.Apply(rec(bus.EventFixLearned, sig, d2, "", t0.Add(time.Minute)), 3)
	if c := m.Candidates(sig); len(c) != 2 || c[0].Diff != d2 || c[1].Diff != d1 {
		t.Fatalf("candidates = %+v, want the newest fix (d2) first, then d1", c)
	}
	// d2 failed when tried again: only d1 is left to try.
	m.Apply(rec(bus.EventFixFailed, sig, "", FixID(d2), t0.Add(2*time.Minute)), 4)
	if c := m.Candidates(sig); len(c) != 1 || c[0].ID != FixID(d1) {
		t.Fatalf("after d2 failed: candidates = %+v, want d1 alone", c)
	}
	if all := m.Show(sig); len(all) != 2 || !all[0].Failed {
		t.Fatalf("show = %+v, want both fixes, d2 marked failed", all)
	}
	// d2 heals an incident anew: it is tried again, first.
	m.Apply(rec(bus.EventFixLearned, sig, d2, "", t0.Add(3*time.Minute)), 5)
	if c := m.Candidates(sig); len(c) != 2 || c[0].ID != FixID(d2) || c[0].Failed {
		t.Fatalf("after d2 healed again: candidates = %+v, want d2 first and not failed", c)
	}
	// A pinned fix is tried first and kept when it fails.
	m.Apply(&bus.AuditRecord{Event: bus.EventFixPinned, Component: "ledger", Signature: sig, Fix: FixID(d1), Actor: "ops"}, 6)
	m.Apply(rec(bus.EventFixFailed, sig, "", FixID(d1), t0.Add(4*time.Minute)), 7)
	if c := m.Candidates(sig); len(c) != 2 || c[0].ID != FixID(d1) || !c[0].Pinned {
		t.Fatalf("after pinning d1: candidates = %+v, want d1 first, pinned", c)
	}
	if l := m.List(); len(l) != 1 || l[0].Fixes != 2 || !l[0].Pinned {
		t.Fatalf("list = %+v, want one pinned signature with two fixes", l)
	}
	m.Apply(&bus.AuditRecord{Event: bus.EventFixForgotten, Component: "ledger", Signature: sig}, 8)
	if c := m.Candidates(sig); len(c) != 0 || m.Len() != 0 {
		t.Fatalf("after forget: candidates = %+v, %d signatures; want none", c, m.Len())
	}
}

func TestPinnedFixOutlivesItsStreamRecords(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)
	sig := Signature("ledger", "ledger.conf: port missing")
	old := New()
	old.Apply(rec(bus.EventFixLearned, sig, "--- a/x\n+++ b/x\n", "", t0), 1)
	old.Apply(&bus.AuditRecord{Event: bus.EventFixPinned, Component: "ledger", Signature: sig, Actor: "ops"}, 2)
	kept := old.Pinned()
	// The stream aged both records out: a new memory starts empty and
	// gets the pinned fix back from the permanent copy.
	m := New()
	for _, f := range kept {
		m.Restore(f)
	}
	if c := m.Candidates(sig); len(c) != 1 || !c[0].Pinned || c[0].PinnedBy != "ops" {
		t.Fatalf("restored candidates %+v, want the pinned fix", c)
	}
	m.Restore(kept[0]) // twice is once
	if n := len(m.Show(sig)); n != 1 {
		t.Fatalf("%d fixes after restoring twice, want 1", n)
	}
}

func TestUndoneFixIsNeverTriedAgainUntilPinned(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)
	sig := Signature("ledger", "ledger.conf: port missing")
	d := "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
	m := New()
	learned := rec(bus.EventFixLearned, sig, d, "", t0)
	learned.PatchID = "p-1"
	m.Apply(learned, 1)
	m.Apply(&bus.AuditRecord{Event: bus.EventFixPinned, Component: "ledger", Signature: sig, Fix: FixID(d), Actor: "ops"}, 2)
	if c := m.Carrying("ledger", "", "p-1"); len(c) != 1 || c[0].ID != FixID(d) {
		t.Fatalf("carrying patch p-1: %+v, want the fix learned from it", c)
	}
	undo := rec(bus.EventFixFailed, sig, "", FixID(d), t0.Add(time.Minute))
	undo.Status = StatusUndone
	m.Apply(undo, 3)
	if c := m.Candidates(sig); len(c) != 0 {
		t.Fatalf("after an undo: candidates %+v, want none (pinned or not)", c)
	}
	if p := m.Pinned(); len(p) != 0 {
		t.Fatalf("after an undo: pinned %+v, want the pin lifted (so no permanent copy brings it back)", p)
	}
	// A rung writes the same diff again and it heals: still undone.
	m.Apply(rec(bus.EventFixLearned, sig, d, "", t0.Add(2*time.Minute)), 4)
	if c := m.Candidates(sig); len(c) != 0 {
		t.Fatalf("after a renewed heal: candidates %+v, want the undone fix still not tried", c)
	}
	if c := m.Carrying("ledger", "", "p-1"); len(c) != 0 {
		t.Fatalf("carrying an undone fix: %+v, want none", c)
	}
	// Only an operator's pin lifts it.
	m.Apply(&bus.AuditRecord{Event: bus.EventFixPinned, Component: "ledger", Signature: sig, Fix: FixID(d), Actor: "ops"}, 5)
	if c := m.Candidates(sig); len(c) != 1 || c[0].Undone {
		t.Fatalf("after pinning again: candidates %+v, want the fix back", c)
	}
}
