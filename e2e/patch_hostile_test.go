package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/supervisor"
)

// needs8080 runs only with port=8080 in app.conf.
const needs8080 = "grep -q '^port=8080$' app.conf || { echo wrong port >&2; exit 1; }; exec sleep 600"

// rewrite is a diff replacing the whole of file name, which holds old, with new.
func rewrite(name, old, new string) string {
	ol, nl := strings.Split(strings.TrimSuffix(old, "\n"), "\n"), strings.Split(strings.TrimSuffix(new, "\n"), "\n")
	var b strings.Builder
	fmt.Fprintf(&b, "--- a/%s\n+++ b/%s\n@@ -1,%d +1,%d @@\n", name, name, len(ol), len(nl))
	for _, l := range ol {
		b.WriteString("-" + l + "\n")
	}
	for _, l := range nl {
		b.WriteString("+" + l + "\n")
	}
	return b.String()
}

// hostileMesh boots comp, whose workdir holds files (a name ending in "*"
// is executable), with kimicho answering fix and every other rung finding
// nothing; one pass of the ladder (T = 0).
func hostileMesh(t *testing.T, comp config.Component, files map[string]string, fix razar.Fix) *bootMesh {
	t.Helper()
	for name, body := range files {
		perm := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, perm = n, 0o755
		}
		if err := os.WriteFile(filepath.Join(comp.Workdir, name), []byte(body), perm); err != nil {
			t.Fatal(err)
		}
	}
	comp.Name, comp.Priority = "app", 1
	return newBootMesh(t, []config.Component{comp}, fiveRungs(map[string]rung{"kimicho": {backend: answer(fix)}}), orchestrator.Config{Threshold: 0}, supervisor.Config{})
}

// incidentRecords are the audit records of the mesh's one incident.
func incidentRecords(b *bootMesh) []bus.AuditRecord {
	var inc string
	for _, c := range b.view().Components {
		inc = c.Incident
	}
	return b.audit(inc)
}

// TestHostileRungCannotRewriteTheCodeThatJudgesIt: a rung answers with a
// diff that sets a wrong port and rewrites the code that would catch it to
// `exit 0`: the validate program run as `sh -c ./check.sh`, one given by
// absolute path, a file the validate script sources, the Makefile behind
// `make check`, the health-check script. Each is refused at check with a
// reason naming the file and why it is protected, nothing is applied, the
// incident fails, and the workdir is byte-identical.
func TestHostileRungCannotRewriteTheCodeThatJudgesIt(t *testing.T) {
	const exit0 = "#!/bin/sh\nexit 0\n"
	sourcing := "#!/bin/sh\n. ./lib.sh\ncheck_port\n"
	lib := "check_port() { grep -Eq '^port=[0-9]+$' app.conf || { echo 'app.conf: port is not a number' >&2; exit 1; }; }\n"
	makefile := "check:\n\t@grep -Eq '^port=[0-9]+$$' app.conf\n"
	health := "#!/bin/sh\ngrep -q '^port=8080$' app.conf\n"
	tests := []struct {
		name   string
		comp   func(workdir string) config.Component
		files  map[string]string
		target string // the file the hostile diff rewrites
		old    string
		want   string // in the rejection reason
	}{
		{
			name: "validator sh -c ./check.sh",
			comp: func(string) config.Component {
				return config.Component{Command: sh(needs8080), Validate: []string{"sh", "-c", "./check.sh"}}
			},
			files: map[string]string{"check.sh*": checkSh}, target: "check.sh", old: checkSh,
			want: "patch rejected: check.sh: protected path: the validate program (validate: sh -c ./check.sh)",
		},
		{
			name: "validator by absolute path",
			comp: func(w string) config.Component {
				return config.Component{Command: sh(needs8080), Validate: []string{filepath.Join(w, "check.sh")}}
			},
			files: map[string]string{"check.sh*": checkSh}, target: "check.sh", old: checkSh,
			want: "patch rejected: check.sh: protected path: the validate program",
		},
		{
			name: "file the validate script sources",
			comp: func(string) config.Component {
				return config.Component{Command: sh(needs8080), Validate: []string{"sh", "./check.sh"}}
			},
			files: map[string]string{"check.sh": sourcing, "lib.sh": lib}, target: "lib.sh", old: lib,
			want: "patch rejected: lib.sh: protected path: a file check.sh sources (validate: sh ./check.sh)",
		},
		{
			name: "Makefile behind make check",
			comp: func(string) config.Component {
				return config.Component{Command: sh(needs8080), Validate: []string{"make", "check"}}
			},
			files: map[string]string{"Makefile": makefile}, target: "Makefile", old: makefile,
			want: "patch rejected: Makefile: protected path: the validate makefile (validate: make check)",
		},
		{
			name: "health-check script",
			comp: func(string) config.Component {
				return config.Component{Command: sh("exec sleep 600"), HealthCheck: &razar.HealthCheck{Command: []string{"sh", "./health.sh"}}}
			},
			files: map[string]string{"health.sh": health}, target: "health.sh", old: health,
			want: "patch rejected: health.sh: protected path: the health-check script (health-check: sh ./health.sh)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			workdir := t.TempDir()
			comp := tt.comp(workdir)
			comp.Workdir = workdir
			if comp.HealthCheck == nil {
				// Judged by its config, not by whether sh got to exit within
				// the start grace on a loaded machine.
				comp.HealthCheck = &razar.HealthCheck{Command: []string{"grep", "-q", "^port=8080$", "app.conf"}}
			}
			tt.files["app.conf"] = brokenConf
			pass := exit0
			if tt.target == "Makefile" {
				pass = "check:\n\t@exit 0\n"
			}
			diff := portDiff("9999") + rewrite(tt.target, tt.old, pass)
			b := hostileMesh(t, comp, tt.files, razar.Fix{Status: razar.StatusFixed, Summary: "make the check pass", Diff: diff})
			before := treeHash(t, workdir)

			if err := b.sup.Boot(context.Background()); !errors.Is(err, supervisor.ErrBootHalted) {
				t.Fatalf("boot: %v, want it halted (the only fix was hostile)", err)
			}
			if treeHash(t, workdir) != before {
				t.Fatal("workdir changed by a rejected diff")
			}
			recs := incidentRecords(b)
			if got := strings.Join(events(recs, bus.EventApplied, bus.EventRejected, bus.EventReverted), " "); got != "rejected:rejected" {
				t.Fatalf("patch history: %s", got)
			}
			for _, r := range recs {
				if r.Event == bus.EventRejected && !strings.Contains(r.Reason, tt.want) {
					t.Errorf("rejection reason %q, want %q in it", r.Reason, tt.want)
				}
				if r.Event == bus.EventPatch && r.Validation != "rejected" {
					t.Errorf("proposal record validation %q: the diff got past check", r.Validation)
				}
			}
		})
	}
}

// TestPatchToADataFileTheValidatorReadsIsValidated: the config a plain
// validator reads (`grep -q port=ok app.conf`) is what a patch is for: a
// candidate with the wrong value fails validation on its staged copy, the
// right one passes, is applied and heals. No stage is left behind.
func TestPatchToADataFileTheValidatorReadsIsValidated(t *testing.T) {
	workdir := t.TempDir()
	conf := "port=bad\n"
	b := hostileMesh(t, config.Component{
		Workdir:  workdir,
		Command:  sh("grep -q '^port=ok$' app.conf || { echo bad port >&2; exit 1; }; exec sleep 600"),
		Validate: []string{"grep", "-q", "port=ok", "app.conf"},
	}, map[string]string{"app.conf": conf}, razar.Fix{Status: razar.StatusFixed, Candidates: []razar.Candidate{
		{Summary: "wrong value", Diff: rewrite("app.conf", conf, "port=wrong\n")},
		{Summary: "right value", Diff: rewrite("app.conf", conf, "port=ok\n")},
	}})
	if err := b.sup.Boot(context.Background()); err != nil {
		t.Fatalf("boot: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(workdir, "app.conf")); string(data) != "port=ok\n" {
		t.Fatalf("app.conf = %q", data)
	}
	recs := b.audit(b.component("app").Incident)
	var validations []string
	for _, r := range recs {
		if r.Event == bus.EventPatch {
			validations = append(validations, r.Validation)
			if !strings.HasPrefix(r.Sandbox, "sandbox: ") || r.Message != "" {
				t.Errorf("patch record sandbox %q, message %q: want the sandbox, no weak note", r.Sandbox, r.Message)
			}
		}
	}
	if got := strings.Join(validations, " "); got != "failed passed" {
		t.Fatalf("validations %q, want the wrong value failed and the right one passed", got)
	}
	if got := strings.Join(events(recs, bus.EventApplied, bus.EventRejected, bus.EventReverted), " "); got != "rejected:rejected applied:applied" {
		t.Fatalf("patch history: %s", got)
	}
	if left, _ := os.ReadDir(razar.Home(b.home).Staging()); len(left) != 0 {
		t.Errorf("stages left in %s: %v", razar.Home("").Staging(), left)
	}
}

// TestStagingLeftByAKilledRazarIsCleanedAtTheNextStart: a stage left under
// state/staging (RAZAR killed mid-validation; read-only inside, as a
// validator may leave it) is gone once the next orchestrator starts.
func TestStagingLeftByAKilledRazarIsCleanedAtTheNextStart(t *testing.T) {
	b := newBootMesh(t, []config.Component{{Name: "app", Priority: 1, Command: sh("exec sleep 600")}}, fiveRungs(nil), orchestrator.Config{}, supervisor.Config{})
	left := filepath.Join(razar.Home(b.home).Staging(), "p-20260101-000000-abcdef-123", "conf")
	if err := os.MkdirAll(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "app.conf"), []byte("port=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(left, 0o500); err != nil {
		t.Fatal(err)
	}
	b.stopOrch() // as a killed RAZAR leaves it
	b.stopOrch = b.startOrchestrator()
	bustest.Eventually(t, 10*time.Second, func() bool {
		ents, err := os.ReadDir(razar.Home(b.home).Staging())
		return err == nil && len(ents) == 0
	}, "the stale stage is still in %s", razar.Home("").Staging())
}
