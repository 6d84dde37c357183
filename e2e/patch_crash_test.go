package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
)

// crashMesh is a mesh whose component "web" is healthy with port=8080 in
// app.conf and whose kimicho answers with the diff that sets it. The first
// orchestrator's health check after a patch blocks until the orchestrator
// is stopped: it stands for a RAZAR killed right after the applied record.
type crashMesh struct {
	*mesh
	home  string
	calls atomic.Int32 // kimicho's
}

func newCrashMesh(t *testing.T) *crashMesh {
	t.Helper()
	cm := &crashMesh{}
	fix := razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		cm.calls.Add(1)
		return razar.Fix{Status: razar.StatusFixed, Summary: "port 8080", Diff: portDiff("8080")}, nil
	})
	m := newMesh(t, fiveRungs(map[string]rung{"kimicho": {backend: fix}}), orchestrator.Config{Threshold: 9})
	cm.mesh, cm.home = m, t.TempDir()
	if err := os.WriteFile(filepath.Join(m.workdir, "app.conf"), []byte(brokenConf), 0o644); err != nil {
		t.Fatal(err)
	}
	m.boot.Components[0].HealthCheck = &razar.HealthCheck{Command: []string{"grep", "-q", "^port=8080$", "app.conf"}}
	m.cfg.Home = cm.home
	m.cfg.Verify = func(ctx context.Context, _ config.Component) error {
		<-ctx.Done() // killed before the health check could answer
		return ctx.Err()
	}
	m.stopOrch()
	m.stopOrch = m.startOrchestrator()
	return cm
}

// applied returns the incident's applied records.
func (cm *crashMesh) applied(incident string) []bus.AuditRecord {
	var out []bus.AuditRecord
	for _, r := range cm.audit(incident) {
		if r.Event == bus.EventApplied {
			out = append(out, r)
		}
	}
	return out
}

// setManifestState rewrites a manifest's state, as a kill at an earlier
// point of Promote would have left it.
func setManifestState(t *testing.T, backup, state string) {
	t.Helper()
	name := filepath.Join(backup, patch.ManifestName)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	raw["state"] = state
	if b, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestKilledAfterTheAppliedRecordTheRestartedOrchestratorHealsWithoutReapplying
// stops the orchestrator as a crash would, once the applied record is on the
// stream and before the health check answers, with the workdir left in each
// state a kill around Promote can leave, and restarts it on the same stream.
func TestKilledAfterTheAppliedRecordTheRestartedOrchestratorHealsWithoutReapplying(t *testing.T) {
	fixed := "# app\nport=8080\n"
	tests := []struct {
		name string
		// during changes the workdir and backup while RAZAR is down.
		during func(t *testing.T, workdir, backup string)
		// want: healed, or else the reason's text; conf is app.conf after.
		healed   bool
		reason   string
		conf     string
		manifest string // the manifest's state after, "" for none
	}{
		{
			name:   "after Promote returned",
			during: func(*testing.T, string, string) {},
			healed: true, conf: fixed, manifest: patch.StateApplied,
		},
		{
			name: "after the last swap, before the manifest said applied",
			during: func(t *testing.T, _, backup string) {
				setManifestState(t, backup, patch.StatePromoting)
			},
			healed: true, conf: fixed, manifest: patch.StateApplied,
		},
		{
			name: "after the manifest, before the first swap",
			during: func(t *testing.T, workdir, backup string) {
				setManifestState(t, backup, patch.StatePromoting)
				writeFile(t, filepath.Join(workdir, "app.conf"), brokenConf)
			},
			healed: true, conf: fixed, manifest: patch.StateApplied,
		},
		{
			name: "and someone edited the patched file meanwhile",
			during: func(t *testing.T, workdir, _ string) {
				writeFile(t, filepath.Join(workdir, "app.conf"), "# app\nport=9090\n")
			},
			reason: "app.conf was changed by someone else", conf: "# app\nport=9090\n", manifest: patch.StateApplied,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := newCrashMesh(t)
			ctx := context.Background()
			id, _, err := cm.orch.Escalate(ctx, "web", "web: wrong port", "")
			if err != nil {
				t.Fatal(err)
			}
			var first bus.AuditRecord
			bustest.Eventually(t, 20*time.Second, func() bool {
				recs := cm.applied(id)
				if len(recs) == 1 {
					first = recs[0]
				}
				return len(recs) == 1
			}, "no applied record")
			cm.stopOrch() // the crash

			backup := filepath.Join(razar.Home(cm.home).Patches(), "web", first.PatchID)
			if m, err := patch.ReadManifest(backup); err != nil || m.State != patch.StateApplied {
				t.Fatalf("manifest at the crash: %+v, %v", m, err)
			}
			tt.during(t, cm.workdir, backup)

			cm.cfg.Verify = nil // the restarted RAZAR runs the real health check
			cm.stopOrch = cm.startOrchestrator()
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			rec, err := cm.orch.Wait(wctx, id)
			if err != nil {
				t.Fatal(err)
			}

			var kimicho razar.Attempt
			for _, a := range rec.Attempts {
				if a.Rung == "kimicho" && a.Number == first.Attempt {
					kimicho = a
				}
			}
			if tt.healed {
				if rec.State != razar.IncidentHealed || kimicho.Rung != "kimicho" || kimicho.Outcome != razar.OutcomeHealed {
					t.Fatalf("incident after the restart: %s (%s), attempts %s", rec.State, rec.Reason, attemptsOf(rec))
				}
			} else if kimicho.Rung != "kimicho" || kimicho.Outcome != razar.OutcomeRejected || !strings.Contains(kimicho.Reason, tt.reason) {
				t.Fatalf("kimicho's attempt after the restart: %s %q, want rejected with %q", kimicho.Outcome, kimicho.Reason, tt.reason)
			}
			if got := readFile(t, filepath.Join(cm.workdir, "app.conf")); got != tt.conf {
				t.Fatalf("app.conf after the restart:\n%s\nwant:\n%s", got, tt.conf)
			}
			if n := cm.calls.Load(); tt.healed && n != 1 {
				t.Errorf("kimicho asked %d times, want once: the restart re-reads its answer", n)
			}
			// One patch, one applied record, one backup: nothing re-applied.
			var patches []string
			for _, r := range cm.audit(id) {
				if r.Event == bus.EventApplied || r.Event == bus.EventReverted {
					patches = append(patches, string(r.Event)+":"+r.PatchID)
				}
				if r.Event == bus.EventRejected && tt.healed {
					t.Errorf("rejected record after the restart: %s", r.Reason)
				}
			}
			if len(patches) != 1 || patches[0] != "applied:"+first.PatchID {
				t.Errorf("patch records: %v, want one applied record for %s", patches, first.PatchID)
			}
			dirs, _ := os.ReadDir(filepath.Join(razar.Home(cm.home).Patches(), "web"))
			if len(dirs) != 1 || dirs[0].Name() != first.PatchID {
				t.Errorf("backups: %v, want only %s", dirs, first.PatchID)
			}
			if m, err := patch.ReadManifest(backup); err != nil || m.State != tt.manifest {
				t.Errorf("manifest after the restart: %+v, %v; want state %s", m, err, tt.manifest)
			}
		})
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
