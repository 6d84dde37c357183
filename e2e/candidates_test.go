package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/supervisor"
)

// fortyCandidates is one answer with 40 alternative patches, none of which
// validates (the port is not a number).
func fortyCandidates() razar.Fix {
	fix := razar.Fix{Status: razar.StatusFixed, Summary: "forty tries"}
	for i := range 40 {
		fix.Candidates = append(fix.Candidates, razar.Candidate{Summary: fmt.Sprintf("try %d", i+1), Diff: portDiff(fmt.Sprintf("x%d", i+1))})
	}
	return fix
}

// kimichoAttempt returns the attempt record of kimicho's first attempt on
// the incident, and the patch records of that attempt.
func kimichoAttempt(t *testing.T, b *bootMesh) (bus.AuditRecord, []bus.AuditRecord) {
	t.Helper()
	var inc string
	for _, c := range b.view().Components {
		inc = c.Incident
	}
	var att bus.AuditRecord
	var patches []bus.AuditRecord
	for _, r := range b.audit(inc) {
		if r.Agent != "kimicho" || r.Attempt != 2 {
			continue
		}
		switch r.Event {
		case bus.EventAttempt:
			att = r
		case bus.EventPatch:
			patches = append(patches, r)
		}
	}
	if att.Event == "" {
		t.Fatalf("no attempt record of kimicho on incident %q", inc)
	}
	return att, patches
}

func TestFortyCandidatesInOneAnswerCostAtMostThreeValidations(t *testing.T) {
	b := patchMesh(t, answer(fortyCandidates()), "", 0)
	if err := b.sup.Boot(context.Background()); !errors.Is(err, supervisor.ErrBootHalted) {
		t.Fatalf("boot: %v, want halted (no candidate validates)", err)
	}
	att, patches := kimichoAttempt(t, b)
	if len(patches) != config.DefaultCandidates {
		t.Fatalf("%d candidates staged and validated, want %d (the default cap)", len(patches), config.DefaultCandidates)
	}
	for i, p := range patches {
		if want := fmt.Sprintf("try %d", i+1); p.Summary != want || p.Validation != "failed" {
			t.Errorf("patch record %d: %q validation %q, want %q failed", i, p.Summary, p.Validation, want)
		}
	}
	if !strings.Contains(att.Reason, "candidates 4 to 40 refused: at most 3 alternatives") {
		t.Fatalf("attempt reason %q does not say the rest were refused", att.Reason)
	}
}

func TestACandidatesValidationEndsAtTheAttemptsDeadline(t *testing.T) {
	// Every candidate's validation would run for ten minutes; the rung's
	// attempt has 5 s. The first validation is stopped at the deadline and
	// no other candidate is staged.
	b := patchMesh(t, answer(fortyCandidates()), "", 0)
	b.boot.Components[0].Validate = []string{"sleep", "600"}
	for i := range b.roster.Agents {
		if b.roster.Agents[i].Name == "kimicho" {
			b.roster.Agents[i].Timeout = razar.Duration(5 * time.Second)
		}
	}
	done := make(chan error, 1)
	go func() { done <- b.sup.Boot(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, supervisor.ErrBootHalted) {
			t.Fatalf("boot: %v, want halted", err)
		}
	case <-time.After(90 * time.Second): // unbounded, the three validations would take 6 minutes
		t.Fatal("the boot did not end: validations ran past the attempt's deadline")
	}
	att, patches := kimichoAttempt(t, b)
	if len(patches) != 1 || !strings.Contains(patches[0].Reason, "stopped at the attempt's deadline") {
		t.Fatalf("patch records %+v, want one validation stopped at the attempt's deadline", patches)
	}
	if !strings.Contains(att.Reason, "candidates 2 to 3 not staged: the attempt's deadline") {
		t.Fatalf("attempt reason %q does not say the other candidates were not staged", att.Reason)
	}
}
