package statuspage

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// records builds an incident's audit records, one second apart.
func records(rs ...bus.AuditRecord) []bus.AuditRecord {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for i := range rs {
		rs[i].Incident = "inc-20260102-150405-a1b2c3"
		if rs[i].Component == "" {
			rs[i].Component = "web"
		}
		rs[i].Stamp(t0.Add(time.Duration(i) * time.Second))
	}
	return rs
}

// TestBuildFromRecordsAloneGroupsByAttemptAndSumsTokens: an incident whose
// key has expired is rebuilt from its records: attempts in order with
// their rung, shown files, calls and patch steps; a call outside any
// attempt and the end are incident events; tokens are the attempts' sum.
func TestBuildFromRecordsAloneGroupsByAttemptAndSumsTokens(t *testing.T) {
	rs := records(
		bus.AuditRecord{Event: bus.EventOpened, Error: "web: down"},
		bus.AuditRecord{Event: bus.EventEscalation, Agent: "k2", AgentDisplay: "K2 Coder", Attempt: 2, Pass: 1, From: "crown"},
		bus.AuditRecord{Event: bus.EventShown, Agent: "k2", Attempt: 2, Bytes: 9, Shown: []razar.FileText{{Path: "app.conf", Bytes: 9, SHA256: "ab", Why: "named in the error"}}},
		bus.AuditRecord{Event: bus.EventContext, Agent: "k2", Attempt: 2, Op: "read", Path: "app.conf", Bytes: 30, Verdict: "ok"},
		bus.AuditRecord{Event: bus.EventPatch, Agent: "k2", Attempt: 2, PatchID: "p-1", Validation: "passed", Diff: "d", Placement: []string{"hunk 1 of app.conf placed at line 2, not 9 as stated"}},
		bus.AuditRecord{Event: bus.EventRejected, Agent: "k2", Attempt: 2, PatchID: "p-1", Reason: "health check failed"},
		bus.AuditRecord{Event: bus.EventAttempt, Agent: "k2", Attempt: 2, Outcome: "rejected", Usage: &razar.Usage{Prompt: 100, Completion: 10}},
		bus.AuditRecord{Event: bus.EventAttempt, Agent: "crown", Attempt: 1, Outcome: "no_fix"},
		bus.AuditRecord{Event: bus.EventAttempt, Agent: "rstar", Attempt: 3, Outcome: "no_fix", Usage: &razar.Usage{Prompt: 5, Completion: 1}},
		bus.AuditRecord{Event: bus.EventContext, Component: bus.SystemComponent, Agent: "k2", Op: "read", Path: "x", Verdict: "refused: not pending"},
		bus.AuditRecord{Event: bus.EventFailed, Status: "failed", Reason: "every rung tried", Attempt: 3},
	)
	inc := Build("inc-20260102-150405-a1b2c3", nil, rs)
	if inc.Stored || inc.State != "failed" || inc.Component != "web" || inc.Error != "web: down" {
		t.Fatalf("incident: %+v", inc)
	}
	if inc.Tokens != (razar.Usage{Prompt: 105, Completion: 11}) {
		t.Errorf("tokens %+v, want the attempts' sum 105 + 11", inc.Tokens)
	}
	if len(inc.Attempts) != 3 || inc.Attempts[0].Rung != "crown" || inc.Attempts[1].Rung != "k2" || inc.Attempts[2].Rung != "rstar" {
		t.Fatalf("attempts: %+v", inc.Attempts)
	}
	k2 := inc.Attempts[1]
	if k2.Display != "K2 Coder" || k2.From != "crown" || len(k2.Shown) != 1 || len(k2.Calls) != 1 || len(k2.Patches) != 1 {
		t.Fatalf("attempt 2: %+v", k2)
	}
	if p := k2.Patches[0]; len(p.Placement) != 1 || len(p.Steps) != 1 || p.Steps[0].Text != "rejected: health check failed" {
		t.Errorf("patch: %+v", p)
	}
	var texts []string
	for _, e := range inc.Events {
		texts = append(texts, e.Text)
	}
	got := strings.Join(texts, "\n")
	if !strings.Contains(got, "tool call read x by k2 outside any attempt: refused: not pending") || !strings.Contains(got, "failed: every rung tried") {
		t.Errorf("events:\n%s", got)
	}
}

// TestStoredIncidentAddsTheAttemptsTheScanMissedAndThePendingOne: the
// stored record's attempt summaries fill in attempts without records, and
// its pending attempt appears as pending.
func TestStoredIncidentAddsTheAttemptsTheScanMissedAndThePendingOne(t *testing.T) {
	rec := &bus.IncidentRecord{ID: "inc-1", Component: "web", State: razar.IncidentOpen, Tokens: razar.Usage{Prompt: 7},
		Attempts: []razar.Attempt{{Number: 1, Rung: "crown", Outcome: razar.OutcomeNoFix, Reason: "no rule"}},
		Pending:  &bus.Pending{Attempt: 2, Rung: "k2", Pass: 1}}
	inc := Build("inc-1", rec, nil)
	if !inc.Stored || inc.Tokens.Prompt != 7 || len(inc.Attempts) != 2 {
		t.Fatalf("incident: %+v", inc)
	}
	if a := inc.Attempts[0]; a.Rung != "crown" || a.Outcome != "no_fix" || a.Reason != "no rule" {
		t.Errorf("attempt 1 from the summary: %+v", a)
	}
	var out bytes.Buffer
	if err := WriteText(&out, inc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "── attempt 2 · k2 · pass 1 · pending") {
		t.Errorf("the pending attempt is not shown as such:\n%s", out.String())
	}
}

// TestTextStripsWhatWouldDriveATerminal: escape sequences, carriage
// returns and bidirectional overrides from a rung never reach the
// terminal; a multi-line reason stays readable under its label.
func TestTextStripsWhatWouldDriveATerminal(t *testing.T) {
	inc := &Incident{ID: "inc-1", Component: "web", State: "open", Stored: true, Attempts: []*Attempt{{
		Number: 1, Rung: "k2", Display: "K2", Summary: "ok\x1b]0;pwned\x07\r\u202egnp.exe",
		Reason: "line one\nline two",
	}}}
	var out bytes.Buffer
	if err := WriteText(&out, inc); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e"} {
		if strings.Contains(s, bad) {
			t.Errorf("output holds %q:\n%q", bad, s)
		}
	}
	if !strings.Contains(s, "   reason: line one\n           line two\n") {
		t.Errorf("the reason's second line is not under the first:\n%s", s)
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, inc); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page.String(), "\x1b") || strings.Contains(page.String(), "\u202e") {
		t.Errorf("page holds control characters:\n%q", page.String())
	}
}
