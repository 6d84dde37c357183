package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/clock"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
	"github.com/razar/razar/supervisor"
)

const (
	brokenConf = "# app\nport=abc\n"
	checkSh    = "#!/bin/sh\ngrep -Eq '^port=[0-9]+$' app.conf || { echo 'app.conf: port is not a number' >&2; exit 1; }\n"
)

func portDiff(to string) string {
	return "--- a/app.conf\n+++ b/app.conf\n@@ -1,2 +1,2 @@\n # app\n-port=abc\n+port=" + to + "\n"
}

// treeHash hashes every file under dir (names and bytes).
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		data, _ := os.ReadFile(n)
		h.Write([]byte(n + "\x00"))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// patchMesh boots one component, "app", that runs only with port=8080 in
// app.conf and validates with check.sh; kimicho answers with diff.
func patchMesh(t *testing.T, kimicho razar.Agent, approval string, T int) *bootMesh {
	t.Helper()
	b := newBootMesh(t, []config.Component{{
		Name: "app", Priority: 1, Approval: approval,
		Command:  sh("grep -q '^port=8080$' app.conf || { echo wrong port >&2; exit 1; }; exec sleep 600"),
		Validate: []string{"sh", "./check.sh"},
	}}, fiveRungs(map[string]rung{"kimicho": {backend: kimicho}}), orchestrator.Config{Threshold: T}, supervisor.Config{})
	for name, body := range map[string]string{"app.conf": brokenConf, "check.sh": checkSh} {
		if err := os.WriteFile(filepath.Join(b.workdir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func answer(fix razar.Fix) razar.Agent {
	return razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) { return fix, nil })
}

func events(recs []bus.AuditRecord, kinds ...bus.Event) []string {
	var out []string
	for _, r := range recs {
		for _, k := range kinds {
			if r.Event == k {
				out = append(out, string(r.Event)+":"+r.Status)
			}
		}
	}
	return out
}

func TestPatchAppliedAndHolds(t *testing.T) {
	b := patchMesh(t, answer(razar.Fix{Status: razar.StatusFixed, Summary: "port 8080", Diff: portDiff("8080")}), "", 9)
	if err := b.sup.Boot(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(b.workdir, "app.conf"))
	if !strings.Contains(string(data), "port=8080") {
		t.Fatalf("app.conf not patched:\n%s", data)
	}
	if c := b.component("app"); c.Status != bus.StatusHealthy {
		t.Fatalf("app: %+v", c)
	}
	recs := b.audit(b.component("app").Incident)
	if got := events(recs, bus.EventApplied, bus.EventRejected, bus.EventReverted); len(got) != 1 || got[0] != "applied:applied" {
		t.Fatalf("patch history: %v", got)
	}
	for _, r := range recs {
		if r.Event == bus.EventApplied {
			if len(r.Files) != 1 || r.Files[0].Path != "app.conf" || r.Files[0].SHA256Before == "" || r.Files[0].SHA256After == "" || r.Files[0].SHA256Before == r.Files[0].SHA256After {
				t.Fatalf("applied record files: %+v", r.Files)
			}
			m, err := patch.ReadManifest(filepath.Join(razar.Home(b.home).Patches(), "app", r.PatchID))
			if err != nil {
				t.Fatalf("no backup for %s: %v", r.PatchID, err)
			}
			if m.PatchID != r.PatchID {
				t.Fatalf("manifest says patch %s, records say %s", m.PatchID, r.PatchID)
			}
		}
		if r.Event == bus.EventPatch && r.Validation != "passed" {
			t.Fatalf("proposal record: %+v", r)
		}
	}
}

func TestPatchThatDoesNotHoldIsReverted(t *testing.T) {
	// 9999 passes validation (a number) but the app needs 8080.
	b := patchMesh(t, answer(razar.Fix{Status: razar.StatusFixed, Diff: portDiff("9999")}), "", 0)
	before := treeHash(t, b.workdir)
	err := b.sup.Boot(context.Background())
	if !errors.Is(err, supervisor.ErrBootHalted) {
		t.Fatalf("boot: %v", err)
	}
	if after := treeHash(t, b.workdir); after != before {
		t.Fatal("workdir not byte-identical after the revert")
	}
	q, _ := os.ReadFile(filepath.Join(b.home, "quarantine/app.json"))
	if !strings.Contains(string(q), "health check failed after patch") {
		t.Fatalf("quarantine reason:\n%s", q)
	}
	var inc string
	for _, c := range b.view().Components {
		inc = c.Incident
	}
	got := events(b.audit(inc), bus.EventApplied, bus.EventReverted)
	if strings.Join(got, " ") != "applied:applied reverted:reverted" {
		t.Fatalf("patch history: %v", got)
	}
}

func TestHostileDiffFromARungIsRejected(t *testing.T) {
	hostile := "--- a/../escape\n+++ b/../escape\n@@ -0,0 +1 @@\n+owned\n"
	b := patchMesh(t, answer(razar.Fix{Status: razar.StatusFixed, Diff: hostile}), "", 0)
	before := treeHash(t, b.workdir)
	if err := b.sup.Boot(context.Background()); !errors.Is(err, supervisor.ErrBootHalted) {
		t.Fatalf("boot: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(b.workdir), "escape")); err == nil {
		t.Fatal("the diff escaped the workdir")
	}
	if treeHash(t, b.workdir) != before {
		t.Fatal("workdir changed by a rejected diff")
	}
	var inc string
	for _, c := range b.view().Components {
		inc = c.Incident
	}
	if got := events(b.audit(inc), bus.EventRejected); len(got) != 1 {
		t.Fatalf("rejected records: %v", got)
	}
}

func TestCandidatesFirstThatHoldsWins(t *testing.T) {
	b := patchMesh(t, answer(razar.Fix{Status: razar.StatusFixed, Candidates: []razar.Candidate{
		{Summary: "not a number", Diff: portDiff("eighty")}, // fails validation
		{Summary: "wrong port", Diff: portDiff("9999")},     // validates, does not hold
		{Summary: "right port", Diff: portDiff("8080")},
	}}), "", 9)
	if err := b.sup.Boot(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := events(b.audit(b.component("app").Incident), bus.EventPatch, bus.EventApplied, bus.EventRejected, bus.EventReverted)
	want := "patch: rejected:rejected patch: applied:applied reverted:reverted patch: applied:applied"
	if strings.Join(got, " ") != want {
		t.Fatalf("records\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestManualApproval(t *testing.T) {
	for _, approve := range []bool{true, false} {
		name := map[bool]string{true: "approve", false: "reject"}[approve]
		t.Run(name, func(t *testing.T) {
			b := patchMesh(t, answer(razar.Fix{Status: razar.StatusFixed, Diff: portDiff("8080")}), "manual", 0)
			done := make(chan error, 1)
			go func() { done <- b.sup.Boot(context.Background()) }()
			var id string
			bustest.Eventually(t, 20*time.Second, func() bool {
				for _, c := range b.view().Components {
					for _, r := range b.audit(c.Incident) {
						if r.Event == bus.EventPending {
							id = r.PatchID
						}
					}
				}
				return id != ""
			}, "no patch held for approval")
			conf, _ := os.ReadFile(filepath.Join(b.workdir, "app.conf"))
			if string(conf) != brokenConf {
				t.Fatal("a held patch touched the workdir")
			}
			if err := b.orch.Decide("app", "p-nope", true); !errors.Is(err, razar.ErrNotFound) {
				t.Fatalf("decide on an unknown patch: %v", err)
			}
			if err := b.orch.Decide("app", id, approve); err != nil {
				t.Fatal(err)
			}
			err := <-done
			if approve && err != nil {
				t.Fatalf("boot after approval: %v", err)
			}
			if !approve && !errors.Is(err, supervisor.ErrBootHalted) {
				t.Fatalf("boot after rejection: %v", err)
			}
			var inc string
			for _, c := range b.view().Components {
				inc = c.Incident
			}
			want := "patch: pending:pending applied:applied"
			if !approve {
				want = "patch: pending:pending rejected:rejected"
			}
			if got := strings.Join(events(b.audit(inc), bus.EventPatch, bus.EventPending, bus.EventApplied, bus.EventRejected), " "); got != want {
				t.Fatalf("records\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestApprovalWindowPassesOnTheInjectedClock: a held patch nobody decides
// on is rejected when its approval window passes, on the orchestrator's
// clock, not the wall's; the workdir is untouched.
func TestApprovalWindowPassesOnTheInjectedClock(t *testing.T) {
	clk := clock.NewFake(time.Now())
	b := newBootMesh(t, []config.Component{{
		Name: "app", Priority: 1, Approval: "manual",
		Command:  sh("grep -q '^port=8080$' app.conf || { echo wrong port >&2; exit 1; }; exec sleep 600"),
		Validate: []string{"sh", "./check.sh"},
	}}, fiveRungs(map[string]rung{"kimicho": {backend: answer(razar.Fix{Status: razar.StatusFixed, Diff: portDiff("8080")})}}),
		orchestrator.Config{Threshold: 0, Clock: clk}, supervisor.Config{})
	for name, body := range map[string]string{"app.conf": brokenConf, "check.sh": checkSh} {
		if err := os.WriteFile(filepath.Join(b.workdir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- b.sup.Boot(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The window is the rung's timeout, 5 s: nothing passes it but the clock.
	if !clk.WaitFor(ctx, func(d time.Duration) bool { return d == 5*time.Second }) {
		t.Fatal("no patch waited out an approval window")
	}
	clk.Advance(5 * time.Second)
	if err := <-done; !errors.Is(err, supervisor.ErrBootHalted) {
		t.Fatalf("boot: %v, want halted (the only fix was never approved)", err)
	}
	var inc string
	for _, c := range b.view().Components {
		inc = c.Incident
	}
	var reason string
	for _, r := range b.audit(inc) {
		if r.Event == bus.EventRejected {
			reason = r.Reason
		}
	}
	if !strings.Contains(reason, "no approval within") {
		t.Fatalf("rejected record reason %q", reason)
	}
	if conf, _ := os.ReadFile(filepath.Join(b.workdir, "app.conf")); string(conf) != brokenConf {
		t.Fatal("an unapproved patch touched the workdir")
	}
}
