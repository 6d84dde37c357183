package orchestrator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
)

// TestEscalationWithAWorkspaceStaysUnderTheMaxPayload: the largest history
// and the largest workspace together still encode under the server's max
// payload; file texts go first, the newest-ranked first, and are counted.
func TestEscalationWithAWorkspaceStaysUnderTheMaxPayload(t *testing.T) {
	huge := strings.Repeat("\"quoted\"\tline\n", 20000)
	var hist []razar.Attempt
	for i := range 50 {
		hist = append(hist, razar.Attempt{Number: i + 1, Rung: "k2", Outcome: razar.OutcomeRejected, Diff: bus.Clip(huge, bus.MaxDiffBytes)})
	}
	w := &razar.Workspace{Entry: razar.WorkspaceEntry{Name: "web", Command: []string{"x"}}, LogTail: strings.Repeat("log\n", 2000), Budget: config.MaxContextBudget}
	for i := range 20 {
		text := bus.Clip(huge, config.MaxContextBudget/4)
		w.Files = append(w.Files, razar.FileText{Path: fmt.Sprintf("f%d", i), Bytes: len(text), Text: text})
	}
	for i := range 500 {
		w.Listing = append(w.Listing, razar.FileInfo{Path: fmt.Sprintf("dir/some/long/path/file-%04d.yaml", i)})
	}
	esc := &bus.Escalation{Incident: "inc-1", Component: "web", Attempt: 51, Rung: "k2", Pass: 1,
		Context: BoundContext(hist, bus.MaxContextBytes), Workspace: w}
	fitEscalation(esc)
	b, err := bus.Encode(esc)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > maxEscalationBytes {
		t.Fatalf("escalation of %d bytes, over %d", len(b), maxEscalationBytes)
	}
	if len(w.Files) == 0 || w.Files[0].Path != "f0" || w.FilesOmitted != 20-len(w.Files) {
		t.Errorf("kept %d files (first %q), %d omitted", len(w.Files), w.Files[0].Path, w.FilesOmitted)
	}
}

// TestRefusalsOutsideAnyBudgetAreRecordedUpToALimitPerRungAndMinute: a rung
// looping on calls no attempt's budget counts cannot fill the audit
// stream; another rung, and the next minute, are counted afresh.
func TestRefusalsOutsideAnyBudgetAreRecordedUpToALimitPerRungAndMinute(t *testing.T) {
	var d desk
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	recorded, warned := 0, 0
	for range 100 {
		r, first := d.recordRefusal("k2", now)
		if r {
			recorded++
		}
		if first {
			warned++
		}
	}
	if recorded != maxUnbudgetedRefusals || warned != 1 {
		t.Errorf("recorded %d, warned %d", recorded, warned)
	}
	if r, _ := d.recordRefusal("airstar", now); !r {
		t.Error("another rung's refusal was not recorded")
	}
	if r, _ := d.recordRefusal("k2", now.Add(time.Minute)); !r {
		t.Error("the next minute's first refusal was not recorded")
	}
}
