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
