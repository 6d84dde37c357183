package patch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// Files the placement tests add to the base workdir.
var placeFiles = map[string]string{
	"ws.conf":    "a = 1  \nb = 2\t\nc = 3\n",
	"crlf.conf":  "a=1\r\nb=2\r\nc=3\r\n",
	"nonl.conf":  "a\nb",
	"dup.conf":   "x = 1\ny = 2\nz = 0\nx = 1\ny = 2\n",
	"dupws.conf": "x = 1 \ny = 2\nx = 1\t\ny = 2\n",
	"empty.conf": "",
}

func placeWorkdir(t testing.TB) string {
	t.Helper()
	dir := newWorkdir(t)
	for name, content := range placeFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Each tolerance: a sloppy diff (or search/replace blocks) that applies,
// what the files it touches become, and the notes that say how it was
// placed (none for an exact diff).
var tolerances = []struct {
	name  string
	diff  string
	want  map[string]string // path -> content after; "" for deleted
	notes []string          // each in some note
	exact bool              // no notes at all
}{
	{name: "exact git diff", diff: diffModify, want: map[string]string{"app.conf": fixedConf(3, 17)}, exact: true},
	{name: "exact plain diff without prefixes", diff: "--- app.conf\n+++ app.conf\n@@ -2,3 +2,3 @@\n key02 = v02\n-key03 = v03\n+key03 = fixed\n key04 = v04\n",
		want: map[string]string{"app.conf": fixedConf(3)}, exact: true},
	{name: "wrong line numbers", diff: "--- a/app.conf\n+++ b/app.conf\n@@ -9,3 +9,3 @@\n key02 = v02\n-key03 = v03\n+key03 = fixed\n key04 = v04\n",
		want: map[string]string{"app.conf": fixedConf(3)}, notes: []string{"hunk 1 of app.conf placed at line 2, not 9 as stated"}},
	{name: "@@ ... @@", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n key16 = v16\n-key17 = v17\n+key17 = fixed\n",
		want: map[string]string{"app.conf": fixedConf(17)}, notes: []string{"hunk 1 of app.conf had no line numbers; placed at line 16"}},
	{name: "bare @@", diff: "--- a/app.conf\n+++ b/app.conf\n@@\n-key17 = v17\n+key17 = fixed\n",
		want: map[string]string{"app.conf": fixedConf(17)}, notes: []string{"placed at line 17"}},
	{name: "counts that do not add up", diff: "--- a/app.conf\n+++ b/app.conf\n@@ -1 +1 @@\n key01 = v01\n key02 = v02\n-key03 = v03\n+key03 = fixed\n",
		want: map[string]string{"app.conf": fixedConf(3)}, notes: []string{"line counts corrected (@@ -1 +1 @@ as written)"}},
	{name: "git header without a/ and b/", diff: "diff --git app.conf app.conf\n--- app.conf\n+++ app.conf\n@@ -3 +3 @@\n-key03 = v03\n+key03 = fixed\n",
		want: map[string]string{"app.conf": fixedConf(3)}, notes: []string{"app.conf: file header completed"}},
	{name: "git's mnemonic prefixes", diff: "diff --git i/app.conf w/app.conf\n--- i/app.conf\n+++ w/app.conf\n@@ ... @@\n-key03 = v03\n+key03 = fixed\n",
		want: map[string]string{"app.conf": fixedConf(3)}, notes: []string{"placed at line 3"}},
	{name: "git header with no ---/+++ lines", diff: "diff --git a/app.conf b/app.conf\n@@ ... @@\n-key03 = v03\n+key03 = fixed\n",
		want: map[string]string{"app.conf": fixedConf(3)}, notes: []string{"app.conf: file header completed"}},
	{name: "trailing whitespace lost", diff: "--- a/ws.conf\n+++ b/ws.conf\n@@ -1,3 +1,3 @@\n a = 1\n-b = 2\n+b = 5\n c = 3\n",
		want: map[string]string{"ws.conf": "a = 1  \nb = 5\nc = 3\n"}, notes: []string{"hunk 1 of ws.conf matched ignoring trailing whitespace and line endings"}},
	{name: "LF diff on a CRLF file", diff: "--- a/crlf.conf\n+++ b/crlf.conf\n@@ -1,3 +1,3 @@\n a=1\n-b=2\n+b=5\n c=3\n",
		want: map[string]string{"crlf.conf": "a=1\r\nb=5\r\nc=3\r\n"}, notes: []string{"matched ignoring trailing whitespace and line endings"}},
	{name: "CRLF diff on an LF file", diff: strings.ReplaceAll(diffModify, "\n", "\r\n"),
		want: map[string]string{"app.conf": fixedConf(3, 17)}, notes: []string{"the diff's CRLF line endings were read as LF"}},
	{name: "file without a final newline, diff silent about it", diff: "--- a/nonl.conf\n+++ b/nonl.conf\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n",
		want: map[string]string{"nonl.conf": "a\nc"}, notes: []string{"nonl.conf has no newline at its end; kept so"}},
	{name: "file without a final newline, diff adding one", diff: "--- a/nonl.conf\n+++ b/nonl.conf\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n",
		want: map[string]string{"nonl.conf": "a\nc\n"}},
	{name: "change above a last line without newline", diff: "--- a/nonl.conf\n+++ b/nonl.conf\n@@ ... @@\n-a\n+z\n b\n",
		want: map[string]string{"nonl.conf": "z\nb"}},
	{name: "diff text without its final newline", diff: strings.TrimSuffix(diffModify, "\n"), want: map[string]string{"app.conf": fixedConf(3, 17)}, exact: true},
	{name: "blank context line written empty", diff: "--- a/ws.conf\n+++ b/ws.conf\n@@ ... @@\n-c = 3\n+c = 4\n",
		want: map[string]string{"ws.conf": "a = 1  \nb = 2\t\nc = 4\n"}},
	{name: "hunks out of order without numbers", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n-key17 = v17\n+key17 = fixed\n@@ ... @@\n-key03 = v03\n+key03 = fixed\n",
		want: map[string]string{"app.conf": fixedConf(3, 17)}, notes: []string{"hunk 1 of app.conf had no line numbers; placed at line 17", "hunk 2 of app.conf had no line numbers; placed at line 3"}},
	{name: "hunks that touch are merged", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n-key03 = v03\n+key03 = fixed\n@@ ... @@\n-key04 = v04\n+key04 = fixed\n",
		want: map[string]string{"app.conf": fixedConf(3, 4)}, notes: []string{"2 hunks that touch were merged into 1"}},
	{name: "repeated lines at the stated line", diff: "--- a/dup.conf\n+++ b/dup.conf\n@@ -4,2 +4,2 @@\n-x = 1\n+x = 9\n y = 2\n",
		want: map[string]string{"dup.conf": "x = 1\ny = 2\nz = 0\nx = 9\ny = 2\n"}, exact: true},
	{name: "insertion at its stated line", diff: "--- a/app.conf\n+++ b/app.conf\n@@ -3,0 +4 @@\n+inserted = 1\n",
		want: map[string]string{"app.conf": strings.Replace(appConf, "key03 = v03\n", "key03 = v03\ninserted = 1\n", 1)}},
	{name: "removing the first lines", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n-key01 = v01\n-key02 = v02\n",
		want: map[string]string{"app.conf": strings.Replace(appConf, "key01 = v01\nkey02 = v02\n", "", 1)}},
	{name: "new file with @@ ... @@ and a blank line without +", diff: "--- /dev/null\n+++ b/new.conf\n@@ ... @@\n+a\n\n+b\n",
		want: map[string]string{"new.conf": "a\n\nb\n"}},
	{name: "new file written as a change to a missing file", diff: "--- a/new.conf\n+++ b/new.conf\n@@ -1,0 +1,2 @@\n+a\n+b\n",
		want: map[string]string{"new.conf": "a\nb\n"}, notes: []string{"new.conf: does not exist; created"}},
	{name: "deletion without numbers", diff: "--- a/old.txt\n+++ /dev/null\n@@ ... @@\n-obsolete\n", want: map[string]string{"old.txt": ""}},
	{name: "diff in a fence after prose", diff: "Here is the fix:\n\n```diff\n--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n-key03 = v03\n+key03 = fixed\n```\nThis sets key03.\n",
		want: map[string]string{"app.conf": fixedConf(3)}},
	{name: "prose right after the diff", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n-key03 = v03\n+key03 = fixed\nThis sets key03.\n",
		want: map[string]string{"app.conf": fixedConf(3)}},
	{name: "two files, one sloppy", diff: "--- a/app.conf\n+++ b/app.conf\n@@ -2,1 +2,1 @@\n-key03 = v03\n+key03 = fixed\n--- a/old.txt\n+++ b/old.txt\n@@ -1 +1 @@\n-obsolete\n+current\n",
		want: map[string]string{"app.conf": fixedConf(3), "old.txt": "current\n"}, notes: []string{"placed at line 3, not 2 as stated"}},

	{name: "search/replace", diff: "app.conf\n<<<<<<< SEARCH\nkey03 = v03\n=======\nkey03 = fixed\n>>>>>>> REPLACE\n",
		want: map[string]string{"app.conf": fixedConf(3)}, notes: []string{"search/replace block 1 of app.conf placed at line 3"}},
	{name: "search/replace, several blocks and files in fences", diff: "Fixes:\n\n`app.conf`:\n```\n<<<<<<< SEARCH\nkey17 = v17\n=======\nkey17 = fixed\n>>>>>>> REPLACE\n```\n\n```\n<<<<<<< SEARCH\nkey03 = v03\n=======\nkey03 = fixed\n>>>>>>> REPLACE\n```\nold.txt\n```\n<<<<<<< SEARCH\nobsolete\n=======\ncurrent\n>>>>>>> REPLACE\n```\n",
		want: map[string]string{"app.conf": fixedConf(3, 17), "old.txt": "current\n"}, notes: []string{"search/replace block 2 of app.conf placed at line 3"}},
	{name: "search/replace creating a file", diff: "conf.d/new.conf\n<<<<<<< SEARCH\n=======\nport = 8080\n>>>>>>> REPLACE\n",
		want: map[string]string{"conf.d/new.conf": "port = 8080\n"}, notes: []string{"conf.d/new.conf: created by a search/replace block"}},
	{name: "search/replace filling an empty file", diff: "empty.conf\n<<<<<<< SEARCH\n=======\nport = 8080\n>>>>>>> REPLACE\n",
		want: map[string]string{"empty.conf": "port = 8080\n"}},
	{name: "search/replace removing lines", diff: "app.conf\n<<<<<<< SEARCH\nkey19 = v19\nkey20 = v20\n=======\n>>>>>>> REPLACE\n",
		want: map[string]string{"app.conf": strings.Replace(appConf, "key19 = v19\nkey20 = v20\n", "", 1)}},
	{name: "search/replace ignoring trailing whitespace", diff: "ws.conf\n<<<<<<< SEARCH\nb = 2\n=======\nb = 7\n>>>>>>> REPLACE\n",
		want: map[string]string{"ws.conf": "a = 1  \nb = 7\nc = 3\n"}, notes: []string{"matched ignoring trailing whitespace"}},
	{name: "search/replace on a file without a final newline", diff: "nonl.conf\n<<<<<<< SEARCH\nb\n=======\nc\n>>>>>>> REPLACE\n",
		want: map[string]string{"nonl.conf": "a\nc"}},
}

func TestPlacementTolerates(t *testing.T) {
	for _, tt := range tolerances {
		t.Run(tt.name, func(t *testing.T) {
			dir := placeWorkdir(t)
			before := digest(t, dir)
			p, err := Check(tt.diff, dir, Limits{})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			stage, cleanup, err := Stage(p, dir, stagingIn(t))
			if err != nil {
				t.Fatalf("Stage: %v\nplaced diff:\n%s", err, p.Diff)
			}
			defer cleanup()
			for name, want := range tt.want {
				got, err := os.ReadFile(filepath.Join(stage, name))
				switch {
				case want == "" && !errors.Is(err, os.ErrNotExist):
					t.Errorf("%s not deleted: %v", name, err)
				case want != "" && string(got) != want:
					t.Errorf("%s = %q, want %q\nplaced diff:\n%s", name, got, want, p.Diff)
				}
			}
			all := strings.Join(p.Placement, "\n")
			for _, n := range tt.notes {
				if !strings.Contains(all, n) {
					t.Errorf("notes %q lack %q", p.Placement, n)
				}
			}
			if tt.exact && len(p.Placement) > 0 {
				t.Errorf("an exact diff got notes %q", p.Placement)
			}
			if p.DiffSHA256 != sum(tt.diff) {
				t.Errorf("DiffSHA256 is not the hash of the diff as sent")
			}
			if got := digest(t, dir); got != before {
				t.Errorf("Check and Stage changed the workdir")
			}
		})
	}
}

// Each refusal of placement: the reason names the hunk and says what to do.
var placeRefusals = []struct {
	name   string
	diff   string
	quote  bool
	want   []string
	absent []string
}{
	{name: "no match: the nearest lines by number only", diff: diffWrongContext,
		want:   []string{`hunk 2 of app.conf (first lines " key14 = v14", " key15 = v15") does not match app.conf`, "nearest place is lines 14-20 (6 of its 7", `its line " key16 = WRONG" differs from line 16 of the file`, "Read lines 14-20 of app.conf"},
		absent: []string{"key16 = v16"}},
	{name: "no match: the nearest lines quoted when allowed", diff: diffWrongContext, quote: true,
		want: []string{"Those lines of the file:", "\n    16  key16 = v16", "\n    14  key14 = v14"}},
	{name: "no line of the hunk in the file", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n-port = 8450\n+port = 8080\n",
		want: []string{`hunk 1 of app.conf (first lines "-port = 8450", "+port = 8080") does not match app.conf`, "none of its unchanged or removed lines is in the file"}},
	{name: "two places", diff: "--- a/dup.conf\n+++ b/dup.conf\n@@ ... @@\n-x = 1\n+x = 3\n",
		want: []string{`hunk 1 of dup.conf (first lines "-x = 1", "+x = 3") matches 2 places in dup.conf (lines 1, 4) and it has no line numbers: add unchanged lines`}},
	{name: "two places, neither at the stated line", diff: "--- a/dup.conf\n+++ b/dup.conf\n@@ -3,2 +3,2 @@\n-x = 1\n+x = 3\n y = 2\n",
		want: []string{"matches 2 places in dup.conf (lines 1, 4) and none at its stated line 3"}},
	{name: "two places ignoring trailing whitespace", diff: "--- a/dupws.conf\n+++ b/dupws.conf\n@@ ... @@\n-x = 1\n+x = 3\n",
		want: []string{"matches 2 places in dupws.conf (lines 1, 3)"}},
	{name: "added lines with nothing to place them by", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n+new = 1\n",
		want: []string{"hunk 1 of app.conf (first lines \"+new = 1\") only adds lines and has no line numbers: include an unchanged line"}},
	{name: "a hunk line without its leading space", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n key02 = v02\nkey03 = v03\n-key04 = v04\n+key04 = x\n",
		want: []string{`hunk 1 of app.conf: line "key03 = v03" is not a hunk line`}},
	{name: "an empty hunk", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n@@ ... @@\n-key03 = v03\n+x\n", want: []string{"hunk 1 of app.conf (@@ ... @@) has no lines"}},
	{name: "search/replace not found", diff: "app.conf\n<<<<<<< SEARCH\nkey03 = v3\n=======\nkey03 = fixed\n>>>>>>> REPLACE\n",
		want: []string{`search/replace block 1 of app.conf (first lines "key03 = v3") does not match app.conf`}},
	{name: "search/replace in two places", diff: "dup.conf\n<<<<<<< SEARCH\ny = 2\n=======\ny = 3\n>>>>>>> REPLACE\n",
		want: []string{"search/replace block 1 of dup.conf (first lines \"y = 2\") matches 2 places in dup.conf (lines 2, 5)"}},
	{name: "two blocks over the same lines", diff: "app.conf\n<<<<<<< SEARCH\nkey03 = v03\nkey04 = v04\n=======\nx\n>>>>>>> REPLACE\napp.conf\n<<<<<<< SEARCH\nkey04 = v04\n=======\ny\n>>>>>>> REPLACE\n",
		want: []string{"search/replace block 2 of app.conf (first lines \"key04 = v04\") matches line 4 of app.conf only where an earlier hunk or block already changes lines"}},
	{name: "search/replace without a path", diff: "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n",
		want: []string{"search/replace block 1 has no file path: put the file's path"}},
	{name: "search/replace without its divider", diff: "app.conf\n<<<<<<< SEARCH\nkey03 = v03\n>>>>>>> REPLACE\n",
		want: []string{`search/replace block 1 of app.conf: no "=======" after its SEARCH lines`}},
	{name: "search/replace without its end", diff: "app.conf\n<<<<<<< SEARCH\nkey03 = v03\n=======\nx\n",
		want: []string{`search/replace block 1 of app.conf: no ">>>>>>> REPLACE"`}},
	{name: "search/replace with an empty SEARCH on a file", diff: "app.conf\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n",
		want: []string{"search/replace block 1 of app.conf (first lines \"x\") has an empty SEARCH, and app.conf is not empty"}},
	{name: "search/replace of a missing file", diff: "nope.conf\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n",
		want: []string{"nope.conf: does not exist in the workdir; to create it, send one search/replace block with an empty SEARCH"}},
	{name: "search/replace mixed with a diff", diff: "--- a/app.conf\n+++ b/app.conf\n@@ ... @@\n-key03 = v03\n+x\napp.conf\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n",
		want: []string{"send either a diff or search/replace blocks, not both"}},
}

func TestPlacementRefuses(t *testing.T) {
	for _, tt := range placeRefusals {
		t.Run(tt.name, func(t *testing.T) {
			dir := placeWorkdir(t)
			before := digest(t, dir)
			lim := Limits{}
			if tt.quote {
				lim.Quote = func(p string) bool { return p == "app.conf" }
			}
			p, err := Check(tt.diff, dir, lim)
			var re *RejectError
			if !errors.As(err, &re) || p != nil {
				t.Fatalf("Check = %v, %v; want a *RejectError and no plan", p, err)
			}
			t.Logf("reason: %s", re.Reason)
			for _, w := range tt.want {
				if !strings.Contains(re.Reason, w) {
					t.Errorf("reason lacks %q", w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(re.Reason, a) {
					t.Errorf("reason has %q", a)
				}
			}
			if got := digest(t, dir); got != before {
				t.Errorf("a refused diff changed the workdir")
			}
		})
	}
}

// FuzzPlace feeds Check a file and a diff for it, seeded with the sloppy
// diffs models write: it must refuse with a *RejectError or accept a diff
// that Stage applies as placed (placement writes only exact diffs), never
// change the workdir, and placing its own output again must change
// nothing and note nothing.
func FuzzPlace(f *testing.F) {
	for _, tt := range tolerances {
		for name := range tt.want {
			content, ok := placeFiles[name]
			if !ok && name == "app.conf" {
				content = appConf
			} else if !ok {
				content = "obsolete\n"
			}
			f.Add(content, strings.ReplaceAll(tt.diff, name, "f.conf"))
		}
	}
	for _, tt := range placeRefusals {
		f.Add(appConf, strings.ReplaceAll(tt.diff, "app.conf", "f.conf"))
	}
	f.Fuzz(func(t *testing.T, file, diff string) {
		if len(file) > 64<<10 || len(diff) > 64<<10 {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f.conf"), []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		before := digest(t, dir)
		p, err := Check(diff, dir, Limits{})
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Check error that is not a rejection: %v", err)
			}
			return
		}
		// Stage applies each file as applyPlan does, without the copies
		// and fsyncs that would make fuzzing crawl.
		var applied bool
		if len(p.Files) == 1 && p.Files[0].Path == "f.conf" && p.Files[0].Op == OpModify {
			_, err = applyPlan(p, file)
			if err != nil && len(p.Placement) > 0 {
				t.Fatalf("a placed diff does not apply: %v\nplaced:\n%s\nnotes: %q", err, p.Diff, p.Placement)
			}
			applied = err == nil
		}
		if got := digest(t, dir); got != before {
			t.Fatalf("Check and Stage changed the workdir")
		}
		if !applied || p.Diff == diff {
			return
		}
		again, err := Check(p.Diff, dir, Limits{})
		if err != nil {
			t.Fatalf("the placed diff is refused: %v\nplaced:\n%s", err, p.Diff)
		}
		if again.Diff != p.Diff || len(again.Placement) > 0 {
			t.Fatalf("placing the placed diff again changed it:\n%s\nto:\n%s\nnotes %q", p.Diff, again.Diff, again.Placement)
		}
	})
}

// Sloppiness FuzzPlaceOracle applies to an exact diff, one bit each.
const (
	sloppyNoNumbers     = 1 << iota // "@@ ... @@"
	sloppyWrongNumbers              // the stated line off by 7
	sloppyNoPrefixes                // "--- f.conf" in a plain diff
	sloppyTrailing                  // trailing whitespace dropped from context and removed lines
	sloppyCRLF                      // the diff's lines end in CRLF
	sloppyNoFinalNL                 // the diff text has no final newline
	sloppyGitNoPrefix               // "diff --git f.conf f.conf"
	sloppySearchReplace             // a search/replace block instead
)

// FuzzPlaceOracle makes the one-hunk diff between two versions of a file,
// makes it sloppy as models do, and checks the answer against the only
// right ones: refused, or the file with the hunk's old lines replaced by
// its new ones at one of the places those old lines are.
func FuzzPlaceOracle(f *testing.F) {
	f.Add(appConf, fixedConf(3), uint8(0))
	f.Add(appConf, fixedConf(17), uint8(sloppyNoNumbers|sloppyNoPrefixes))
	f.Add("a = 1  \nb = 2\t\nc = 3\n", "a = 1  \nb = 5\nc = 3\n", uint8(sloppyTrailing|sloppyWrongNumbers))
	f.Add("x\ny\nx\ny\n", "x\ny\nx\nz\n", uint8(sloppyNoNumbers))
	f.Add("a\nb", "a\nc", uint8(sloppyCRLF|sloppyNoFinalNL))
	f.Add(appConf, strings.Replace(appConf, "key10 = v10\n", "", 1), uint8(sloppySearchReplace|sloppyTrailing))
	f.Add("one\n\ntwo\n\nthree\n", "one\n\n2\n\nthree\n", uint8(sloppyGitNoPrefix|sloppyTrailing))
	f.Fuzz(func(t *testing.T, old, new string, how uint8) {
		if old == "" || old == new || len(old) > 16<<10 || len(new) > 16<<10 || strings.ContainsAny(old+new, "\r\x00") {
			return
		}
		split := func(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }
		ol, nl := split(old), split(new)
		pre := 0
		for pre < len(ol) && pre < len(nl) && ol[pre] == nl[pre] {
			pre++
		}
		suf := 0
		for suf < len(ol)-pre && suf < len(nl)-pre && ol[len(ol)-1-suf] == nl[len(nl)-1-suf] {
			suf++
		}
		cb, ca := min(pre, 2), min(suf, 2)
		type op struct {
			c byte
			s string
		}
		var ops []op
		for _, l := range ol[pre-cb : pre] {
			ops = append(ops, op{' ', l})
		}
		for _, l := range ol[pre : len(ol)-suf] {
			ops = append(ops, op{'-', l})
		}
		for _, l := range nl[pre : len(nl)-suf] {
			ops = append(ops, op{'+', l})
		}
		for _, l := range ol[len(ol)-suf : len(ol)-suf+ca] {
			ops = append(ops, op{' ', l})
		}
		var oldSide []string
		nOld, nNew := 0, 0
		for _, o := range ops {
			if o.c != '+' {
				oldSide = append(oldSide, o.s)
				nOld++
			}
			if o.c != '-' {
				nNew++
			}
		}
		if nOld == 0 {
			return
		}
		isMarker := func(s string) bool {
			return srSearch.MatchString(s) || srDivider.MatchString(s) || srReplace.MatchString(s)
		}
		trail := func(s string) string {
			if how&sloppyTrailing != 0 {
				return strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s
		}
		var b strings.Builder
		if how&sloppySearchReplace != 0 {
			b.WriteString("f.conf\n<<<<<<< SEARCH\n")
			for _, o := range ops {
				if isMarker(o.s) {
					return
				}
				if o.c != '+' {
					b.WriteString(trail(o.s) + "\n")
				}
			}
			b.WriteString("=======\n")
			for _, o := range ops {
				if o.c != '-' {
					b.WriteString(o.s + "\n")
				}
			}
			b.WriteString(">>>>>>> REPLACE\n")
		} else {
			switch {
			case how&sloppyGitNoPrefix != 0:
				b.WriteString("diff --git f.conf f.conf\n--- f.conf\n+++ f.conf\n")
			case how&sloppyNoPrefixes != 0:
				b.WriteString("--- f.conf\n+++ f.conf\n")
			default:
				b.WriteString("--- a/f.conf\n+++ b/f.conf\n")
			}
			start := pre - cb + 1
			if how&sloppyWrongNumbers != 0 {
				start += 7
			}
			if how&sloppyNoNumbers != 0 {
				b.WriteString("@@ ... @@\n")
			} else {
				fmt.Fprintf(&b, "@@ -%d,%d +%d,%d @@\n", start, nOld, start, nNew)
			}
			for _, o := range ops {
				line := string(o.c) + o.s
				if o.c != '+' && how&sloppyTrailing != 0 {
					line = strings.TrimRightFunc(line, unicode.IsSpace)
				}
				b.WriteString(line + "\n")
			}
		}
		diff := b.String()
		if how&sloppyCRLF != 0 {
			diff = strings.ReplaceAll(diff, "\n", "\r\n")
		}
		if how&sloppyNoFinalNL != 0 {
			diff = strings.TrimSuffix(strings.TrimSuffix(diff, "\n"), "\r")
		}

		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f.conf"), []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Check(diff, dir, Limits{})
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Check error that is not a rejection: %v", err)
			}
			return
		}
		got, err := applyPlan(p, old)
		if err != nil {
			t.Fatalf("the placed diff does not apply: %v\ndiff:\n%s\nplaced:\n%s", err, diff, p.Diff)
		}
		// The right answers: the hunk's new side at a place where its old
		// side is, the file's own final newline kept.
		loose := func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) }
		for q := 0; q+len(oldSide) <= len(ol); q++ {
			match := true
			for j, l := range oldSide {
				if loose(ol[q+j]) != loose(l) {
					match = false
					break
				}
			}
			if !match {
				continue
			}
			res := slices.Clone(ol[:q])
			x := q
			for _, o := range ops {
				switch o.c {
				case ' ':
					res = append(res, ol[x])
					x++
				case '-':
					x++
				case '+':
					res = append(res, o.s)
				}
			}
			res = append(res, ol[q+len(oldSide):]...)
			want := strings.Join(res, "\n")
			if len(res) > 0 && strings.HasSuffix(old, "\n") {
				want += "\n"
			}
			if got == want {
				return
			}
		}
		t.Fatalf("placed wrong: got %q from %q\ndiff:\n%s\nplaced:\n%s\nnotes %q", got, old, diff, p.Diff, p.Placement)
	})
}

// applyPlan applies a one-file plan to content in memory, as Stage applies
// it to the staged file.
func applyPlan(p *Plan, content string) (string, error) {
	var out strings.Builder
	err := gitdiff.Apply(&out, strings.NewReader(content), p.changes[0].file)
	return out.String(), err
}

// Placement's search is bounded: a diff with more hunks off their stated
// line than a file that size allows is refused, saying what to send
// instead; the same hunks with their stated lines right are placed.
func TestPlacementSearchIsBounded(t *testing.T) {
	dir := t.TempDir()
	var file strings.Builder
	const lines = 100_000
	for i := range lines {
		fmt.Fprintf(&file, "line %d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.txt"), []byte(file.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	hunks := placeBudget/(2*lines) + 10
	var sloppy, exact strings.Builder
	sloppy.WriteString("--- a/big.txt\n+++ b/big.txt\n")
	exact.WriteString("--- a/big.txt\n+++ b/big.txt\n")
	for k := range hunks {
		fmt.Fprintf(&sloppy, "@@ ... @@\n-line %d\n+changed %d\n", k*100, k)
		fmt.Fprintf(&exact, "@@ -%d +%d @@\n-line %d\n+changed %d\n", k*100+1, k*100+1, k*100, k)
	}
	_, err := Check(sloppy.String(), dir, Limits{})
	var re *RejectError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "too many such hunks to search for in files this size: give exact @@ -line,count +line,count @@ headers") {
		t.Fatalf("Check = %v, want the search budget refusal", err)
	}
	p, err := Check(exact.String(), dir, Limits{})
	if err != nil {
		t.Fatalf("Check of the same hunks at their stated lines: %v", err)
	}
	if len(p.Placement) > 0 {
		t.Errorf("exact hunks got notes %q", p.Placement[:1])
	}
}
