package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// A rung's sloppy diff, or its search/replace block, lands: the component
// heals, and the patch record says how each hunk was placed.
func TestSloppyFixLandsAndItsPlacementIsRecorded(t *testing.T) {
	for _, tt := range []struct {
		name, diff, note string
	}{
		{"hunk without numbers or prefixes", "--- app.conf\n+++ app.conf\n@@ ... @@\n-port=abc\n+port=8080\n", "hunk 1 of app.conf had no line numbers; placed at line 2"},
		{"wrong line numbers", "--- a/app.conf\n+++ b/app.conf\n@@ -7,2 +7,2 @@\n # app\n-port=abc\n+port=8080\n", "hunk 1 of app.conf placed at line 1, not 7 as stated"},
		{"search/replace block", "app.conf\n<<<<<<< SEARCH\nport=abc\n=======\nport=8080\n>>>>>>> REPLACE\n", "search/replace block 1 of app.conf placed at line 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := patchMesh(t, answer(razar.Fix{Status: razar.StatusFixed, Summary: "port 8080", Diff: tt.diff}), "", 9)
			if err := b.sup.Boot(context.Background()); err != nil {
				t.Fatal(err)
			}
			if data, _ := os.ReadFile(filepath.Join(b.workdir, "app.conf")); string(data) != "# app\nport=8080\n" {
				t.Fatalf("app.conf = %q", data)
			}
			recs := b.audit(b.component("app").Incident)
			var placed []string
			for _, r := range recs {
				if r.Event == bus.EventPatch {
					placed = r.Placement
				}
			}
			if !strings.Contains(strings.Join(placed, "\n"), tt.note) {
				t.Fatalf("patch record placement %q lacks %q", placed, tt.note)
			}
			if got := events(recs, bus.EventApplied, bus.EventRejected); len(got) != 1 || got[0] != "applied:applied" {
				t.Fatalf("patch history: %v", got)
			}
		})
	}
}

// TestRefusedHunkQuotesOnlyFilesTheRungMaySee: a hunk that matches nowhere
// is refused with the nearest lines of the file quoted, so the next rung
// can mend it; of a file the workspace never shows (.env), the refusal
// gives line numbers only, and the file's secret is in no record.
func TestRefusedHunkQuotesOnlyFilesTheRungMaySee(t *testing.T) {
	const secret = "sekrit-0123456789abcdef"
	for _, tt := range []struct {
		name, diff   string
		want, absent []string
	}{
		{"a shown file is quoted", "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n # app\n-port=xyz\n+port=8080\n",
			[]string{"Those lines of the file:", "port=abc"}, nil},
		{"a denied file is not", "--- a/.env\n+++ b/.env\n@@ ... @@\n API_KEY=guess\n-MODE=a\n+MODE=c\n",
			[]string{"Read lines 1-2 of .env"}, []string{secret, "Those lines of the file:"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := patchMesh(t, answer(razar.Fix{Status: razar.StatusFixed, Summary: "mend", Diff: tt.diff}), "", 2)
			env := filepath.Join(b.workdir, ".env")
			if err := os.WriteFile(env, []byte("API_KEY="+secret+"\nMODE=a\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_ = b.sup.Boot(context.Background()) // halts: every attempt fails
			var reasons []string
			for _, r := range b.audit(b.component("app").Incident) {
				if strings.Contains(r.Error+r.Reason+r.Summary+r.Diff+r.OutputTail, secret) {
					t.Errorf("%s record holds the .env secret", r.Event)
				}
				if r.Event == bus.EventRejected {
					reasons = append(reasons, r.Reason)
				}
			}
			if len(reasons) == 0 {
				t.Fatal("no rejected record")
			}
			for _, w := range tt.want {
				if !strings.Contains(reasons[0], w) {
					t.Errorf("refusal lacks %q:\n%s", w, reasons[0])
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(reasons[0], a) {
					t.Errorf("refusal has %q:\n%s", a, reasons[0])
				}
			}
			if data, _ := os.ReadFile(env); string(data) != "API_KEY="+secret+"\nMODE=a\n" {
				t.Errorf(".env changed: %q", data)
			}
		})
	}
}
