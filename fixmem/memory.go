package fixmem

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"sync"
	"time"

	"github.com/razar/razar/bus"
)

// MemoryRung is the rung name of an attempt made with a remembered fix. No
// roster entry may take it (cmd refuses one).
const MemoryRung = "memory"

// Fix is one remembered fix: the diff that healed a failure signature and
// held, the files it touched with their hashes before and after, and who
// wrote it when.
type Fix struct {
	ID        string          `json:"id"` // FixID of the diff
	Signature string          `json:"signature"`
	Component string          `json:"component"`
	Failure   string          `json:"failure"` // the normalised failure text
	Diff      string          `json:"diff"`
	Files     []bus.PatchFile `json:"files"`
	Rung      string          `json:"rung"` // the rung that wrote it
	Incident  string          `json:"incident"`
	Learned   time.Time       `json:"learned"`
	Seq       uint64          `json:"seq,omitempty"`   // the fix_learned record's stream sequence
	Patch     string          `json:"patch,omitempty"` // the patch id it was learned from
	// Failed is set when the fix was tried again and did not hold; it is
	// not tried again for its signature until it heals an incident anew.
	Failed       bool      `json:"failed,omitempty"`
	FailedAt     time.Time `json:"failed_at,omitzero"`
	FailedReason string    `json:"failed_reason,omitempty"`
	// Pinned fixes are permanent rules: tried first, kept when they fail
	// (the failure is recorded), dropped only by forget.
	Pinned   bool   `json:"pinned,omitempty"`
	PinnedBy string `json:"pinned_by,omitempty"`
	// Undone is set when a patch carrying the fix was rolled back by an
	// operator (razar rollback-patch): the fix is failed and unpinned, and
	// never tried again, even when a rung writes it anew; only pinning it
	// again (an operator's say-so) or forgetting the signature lifts it.
	Undone bool `json:"undone,omitempty"`
}

// Usable reports whether the fix may be tried.
func (f *Fix) Usable() bool { return !f.Undone && (f.Pinned || !f.Failed) }

// StatusUndone is the status of a fix_failed record that marks a fix
// undone (Fix.Undone) rather than failed once.
const StatusUndone = "undone"

// FixID is the id of a fix: the first 12 hex digits of its diff's sha256.
func FixID(diff string) string {
	h := sha256.Sum256([]byte(diff))
	return hex.EncodeToString(h[:])[:12]
}

// Entry is one signature of the memory and its fixes, for listings.
type Entry struct {
	Signature string    `json:"signature"`
	Component string    `json:"component"`
	Failure   string    `json:"failure"`
	Fixes     int       `json:"fixes"`
	Usable    int       `json:"usable"`
	Pinned    bool      `json:"pinned,omitempty"`
	Learned   time.Time `json:"learned"` // the newest fix's
}

// Memory is the set of remembered fixes by signature. The zero value is
// not usable; use New.
type Memory struct {
	mu    sync.Mutex
	bySig map[string][]*Fix // newest learned last
}

// New returns an empty memory.
func New() *Memory { return &Memory{bySig: map[string][]*Fix{}} }

// Apply folds one audit record into the memory: fix_learned adds (or
// renews) a fix, fix_failed marks it (with status "undone": for good,
// unpinned), fix_forgotten drops the signature, fix_pinned pins a fix (and
// lifts an undo). Other records, and fix records missing their
// signature, are ignored; Apply reports whether the record changed
// anything. Records are applied in stream order (seq).
func (m *Memory) Apply(r *bus.AuditRecord, seq uint64) bool {
	if r == nil || r.Signature == "" {
		return false
	}
	at := recordTime(r)
	m.mu.Lock()
	defer m.mu.Unlock()
	fixes := m.bySig[r.Signature]
	find := func(id string) *Fix {
		for i := len(fixes) - 1; i >= 0; i-- {
			if id == "" || fixes[i].ID == id {
				return fixes[i]
			}
		}
		return nil
	}
	switch r.Event {
	case bus.EventFixLearned:
		if r.Diff == "" {
			return false
		}
		f := &Fix{ID: FixID(r.Diff), Signature: r.Signature, Component: r.Component, Failure: r.Error, Diff: r.Diff,
			Files: r.Files, Rung: r.Agent, Incident: r.Incident, Learned: at, Seq: seq, Patch: r.PatchID}
		if old := find(f.ID); old != nil {
			// A new heal with the same diff: it is good again, and newest;
			// but what an operator undid stays undone.
			f.Pinned, f.PinnedBy = old.Pinned, old.PinnedBy
			if old.Undone {
				f.Undone, f.Failed, f.FailedAt, f.FailedReason = true, true, old.FailedAt, old.FailedReason
			}
			fixes = without(fixes, old)
		}
		m.bySig[r.Signature] = append(fixes, f)
	case bus.EventFixFailed:
		f := find(r.Fix)
		if f == nil {
			return false
		}
		f.Failed, f.FailedAt, f.FailedReason = true, at, r.Reason
		if r.Status == StatusUndone {
			f.Undone, f.Pinned, f.PinnedBy = true, false, ""
		}
	case bus.EventFixForgotten:
		if len(fixes) == 0 {
			return false
		}
		delete(m.bySig, r.Signature)
	case bus.EventFixPinned:
		f := find(r.Fix)
		if f == nil {
			return false
		}
		f.Pinned, f.PinnedBy, f.Undone = true, r.Actor, false
	default:
		return false
	}
	return true
}

func without(fixes []*Fix, f *Fix) []*Fix {
	out := make([]*Fix, 0, len(fixes))
	for _, g := range fixes {
		if g != f {
			out = append(out, g)
		}
	}
	return out
}

func recordTime(r *bus.AuditRecord) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, r.TimestampISO); err == nil {
		return t.UTC()
	}
	return time.Time{}
}

// Candidates returns the fixes of sig that may be tried, in the order to try
// them: pinned first, then newest learned first.
func (m *Memory) Candidates(sig string) []Fix {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Fix
	for _, f := range m.bySig[sig] {
		if f.Usable() {
			out = append(out, *f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Pinned != out[j].Pinned {
			return out[i].Pinned
		}
		return out[i].Learned.After(out[j].Learned)
	})
	return out
}

// Fix returns fix id of sig ("" id: the newest), and whether there is one.
func (m *Memory) Fix(sig, id string) (Fix, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fixes := m.bySig[sig]
	for i := len(fixes) - 1; i >= 0; i-- {
		if id == "" || fixes[i].ID == id {
			return *fixes[i], true
		}
	}
	return Fix{}, false
}

// Carrying returns the fixes of component a patch carried: those whose
// diff's SHA-256 is diffSHA256 (a patch manifest's), or learned from patch
// id. Undone fixes are left out: they are undone already.
func (m *Memory) Carrying(component, diffSHA256, patch string) []Fix {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Fix
	for _, fixes := range m.bySig {
		for _, f := range fixes {
			if f.Component != component || f.Undone {
				continue
			}
			if (len(diffSHA256) >= len(f.ID) && diffSHA256[:len(f.ID)] == f.ID) || (patch != "" && f.Patch == patch) {
				out = append(out, *f)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Signature+out[i].ID < out[j].Signature+out[j].ID })
	return out
}

// Show returns every fix of sig, usable or not, newest first.
func (m *Memory) Show(sig string) []Fix {
	m.mu.Lock()
	defer m.mu.Unlock()
	fixes := m.bySig[sig]
	out := make([]Fix, 0, len(fixes))
	for i := len(fixes) - 1; i >= 0; i-- {
		out = append(out, *fixes[i])
	}
	return out
}

// List returns one entry per signature, newest learned first.
func (m *Memory) List() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Entry, 0, len(m.bySig))
	for sig, fixes := range m.bySig {
		if len(fixes) == 0 {
			continue
		}
		newest := fixes[len(fixes)-1]
		e := Entry{Signature: sig, Component: newest.Component, Failure: newest.Failure, Fixes: len(fixes), Learned: newest.Learned}
		for _, f := range fixes {
			if f.Usable() {
				e.Usable++
			}
			e.Pinned = e.Pinned || f.Pinned
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Learned.Equal(out[j].Learned) {
			return out[i].Learned.After(out[j].Learned)
		}
		return out[i].Signature < out[j].Signature
	})
	return out
}

// Len is how many signatures the memory holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.bySig)
}

// Pinned returns every pinned fix, for the permanent copy kept beside the
// stream (whose records age out).
func (m *Memory) Pinned() []Fix {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Fix
	for _, fixes := range m.bySig {
		for _, f := range fixes {
			if f.Pinned {
				out = append(out, *f)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Signature+out[i].ID < out[j].Signature+out[j].ID })
	return out
}

// Restore puts back a pinned fix the stream no longer holds (its records
// aged out); a fix the memory knows already is left as the stream says.
func (m *Memory) Restore(f Fix) {
	if f.Signature == "" || f.Diff == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.bySig[f.Signature] {
		if g.ID == f.ID {
			return
		}
	}
	f.Pinned = true
	m.bySig[f.Signature] = append([]*Fix{&f}, m.bySig[f.Signature]...)
}
