package patch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/razar/razar"
)

func TestMain(m *testing.M) {
	SandboxMain() // the sandbox init, when Validate started this binary as one
	if helper := os.Getenv(helperEnv); helper != "" {
		os.Exit(runHelper(helper)) // the test binary as another process: see sandbox_test.go
	}
	goleak.VerifyTestMain(m)
}

// The workdir every test starts from.
var baseFiles = map[string]struct {
	content string
	perm    os.FileMode
}{
	"app.conf":     {appConf, 0o644},
	"check.sh":     {"#!/bin/sh\ngrep -q \"key03 = fixed\" app.conf || { echo \"key03 is not fixed\" >&2; exit 1; }\necho validate ok\n", 0o755},
	"old.txt":      {"obsolete\n", 0o644},
	"lib/util.txt": {"util v1\nshared line\n", 0o640},
}

var appConf = func() string {
	var b strings.Builder
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "key%02d = v%02d\n", i, i)
	}
	return b.String()
}()

// Diffs made by git 2.39 against the base workdir.
const (
	diffModify = `diff --git a/app.conf b/app.conf
index 3da05e3..3d140f9 100644
--- a/app.conf
+++ b/app.conf
@@ -1,6 +1,6 @@
 key01 = v01
 key02 = v02
-key03 = v03
+key03 = fixed
 key04 = v04
 key05 = v05
 key06 = v06
@@ -14,7 +14,7 @@ key13 = v13
 key14 = v14
 key15 = v15
 key16 = v16
-key17 = v17
+key17 = fixed
 key18 = v18
 key19 = v19
 key20 = v20
`
	// diffModify as diff -u writes it: no git header, names kept as written.
	diffModifyPlain = `--- a/app.conf	2025-01-01 00:00:00.000000000 +0000
+++ b/app.conf	2025-01-01 00:00:01.000000000 +0000
@@ -1,6 +1,6 @@
 key01 = v01
 key02 = v02
-key03 = v03
+key03 = fixed
 key04 = v04
 key05 = v05
 key06 = v06
`
	// diffModify with hunk 2's context wrong.
	diffWrongContext = `diff --git a/app.conf b/app.conf
--- a/app.conf
+++ b/app.conf
@@ -1,6 +1,6 @@
 key01 = v01
 key02 = v02
-key03 = v03
+key03 = fixed
 key04 = v04
 key05 = v05
 key06 = v06
@@ -14,7 +14,7 @@ key13 = v13
 key14 = v14
 key15 = v15
 key16 = WRONG
-key17 = v17
+key17 = fixed
 key18 = v18
 key19 = v19
 key20 = v20
`
	diffCreate = `diff --git a/bin/run.sh b/bin/run.sh
new file mode 100755
index 0000000..85ba14d
--- /dev/null
+++ b/bin/run.sh
@@ -0,0 +1,2 @@
+#!/bin/sh
+echo run
diff --git a/conf.d/extra.conf b/conf.d/extra.conf
new file mode 100644
index 0000000..07873af
--- /dev/null
+++ b/conf.d/extra.conf
@@ -0,0 +1 @@
+extra = 1
`
	diffCreateEmpty = `diff --git a/empty b/empty
new file mode 100644
index 0000000..e69de29
`
	diffDelete = `diff --git a/old.txt b/old.txt
deleted file mode 100644
index 6e263ab..0000000
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-obsolete
`
	diffRename = `diff --git a/lib/util.txt b/lib/util2.txt
similarity index 60%
rename from lib/util.txt
rename to lib/util2.txt
index 733facc..3333579 100644
--- a/lib/util.txt
+++ b/lib/util2.txt
@@ -1,2 +1,2 @@
-util v1
+util v2
 shared line
`
	diffMode = `diff --git a/check.sh b/check.sh
old mode 100755
new mode 100644
`
	diffBinary = `diff --git a/logo.bin b/logo.bin
new file mode 100644
index 0000000000000000000000000000000000000000..82a730805dc10b812221b870902492c4c49ee7ce
GIT binary patch
literal 11
ScmZQzWJ=1+ODwAV{|^8Vz66E<

literal 0
HcmV?d00001

`
	diffBinaryNoData = `diff --git a/logo.bin b/logo.bin
new file mode 100644
index 0000000..82a7308
Binary files /dev/null and b/logo.bin differ
`
)

// stagingIn makes a fresh <home>/state/staging for Stage.
func stagingIn(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state", "staging")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newWorkdir makes the base workdir in a fresh temporary directory.
func newWorkdir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for name, f := range baseFiles {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.content), f.perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.perm); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// digest lists every entry under root with its type, mode and content
// sha256 (a symlink's target for links): equal digests mean byte-identical
// trees.
func digest(t testing.TB, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "L %s -> %s\n", rel, target)
		case fi.IsDir():
			fmt.Fprintf(&b, "D %s %o\n", rel, fi.Mode().Perm())
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "F %s %o %x\n", rel, fi.Mode().Perm(), sha256.Sum256(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fixedConf(keys ...int) string {
	s := appConf
	for _, k := range keys {
		s = strings.Replace(s, fmt.Sprintf("key%02d = v%02d", k, k), fmt.Sprintf("key%02d = fixed", k), 1)
	}
	return s
}

// The whole path of a good patch: check, stage, validate, promote, revert.
func TestModifyPipeline(t *testing.T) {
	dir := newWorkdir(t)
	before := digest(t, dir)
	backup := filepath.Join(t.TempDir(), "state", "patches", "app", "p1")

	p, err := Check(diffModify, dir, Limits{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !regexp.MustCompile(`^p-\d{8}-\d{6}-[0-9a-f]{6}$`).MatchString(p.ID) {
		t.Errorf("plan id %q", p.ID)
	}
	want := []FileChange{{Path: "app.conf", Op: OpModify, SHA256Before: sum(appConf)}}
	if fmt.Sprint(p.Files) != fmt.Sprint(want) {
		t.Fatalf("Check files = %+v, want %+v", p.Files, want)
	}
	if p.DiffSHA256 != sum(diffModify) {
		t.Errorf("DiffSHA256 = %s", p.DiffSHA256)
	}

	stage, cleanup, err := Stage(p, dir, stagingIn(t))
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	defer cleanup()
	if got := readFile(t, filepath.Join(stage, "app.conf")); got != fixedConf(3, 17) {
		t.Fatalf("staged app.conf:\n%s", got)
	}
	if got := digest(t, dir); got != before {
		t.Fatalf("Stage changed the workdir:\n%s", got)
	}
	if fi, err := os.Stat(filepath.Join(stage, "check.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("staged check.sh: %v %v, want mode 755", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(stage, "lib/util.txt")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("staged lib/util.txt: %v %v, want mode 640", fi, err)
	}

	// The validate command runs against the staged copy, not the workdir.
	ctx := context.Background()
	if out, err := Validate(ctx, []string{"./check.sh"}, dir, nil, 10*time.Second); err == nil {
		t.Fatalf("validate in the unpatched workdir passed: %q", out)
	}
	out, err := Validate(ctx, []string{"./check.sh"}, stage, nil, 10*time.Second)
	if err != nil || out != "validate ok\n" {
		t.Fatalf("Validate in stage = %q, %v", out, err)
	}

	if err := Promote(p, stage, dir, backup); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "app.conf")); got != fixedConf(3, 17) {
		t.Fatalf("promoted app.conf:\n%s", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "app.conf")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("promoted app.conf mode: %v %v", fi, err)
	}
	want[0].SHA256After = sum(fixedConf(3, 17))
	if fmt.Sprint(p.Files) != fmt.Sprint(want) {
		t.Fatalf("Promote files = %+v, want %+v", p.Files, want)
	}

	m, err := ReadManifest(backup)
	if err != nil {
		t.Fatal(err)
	}
	if m.PatchID != p.ID || m.State != StateApplied || m.DiffSHA256 != p.DiffSHA256 || fmt.Sprint(m.Files) != fmt.Sprint(want) {
		t.Errorf("manifest = %+v", m)
	}
	wantEntry := Entry{Path: "app.conf", Existed: true, Mode: 0o644, Backup: "files/app.conf", SHA256Before: sum(appConf), SHA256After: sum(fixedConf(3, 17)), ModeAfter: 0o644}
	if len(m.Entries) != 1 || m.Entries[0] != wantEntry {
		t.Errorf("manifest entries = %+v, want %+v", m.Entries, wantEntry)
	}
	if got := readFile(t, filepath.Join(backup, "files", "app.conf")); got != appConf {
		t.Errorf("backup of app.conf:\n%s", got)
	}
	if err := Promote(p, stage, dir, backup); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Errorf("second Promote into the same backup dir: %v", err)
	}

	reverted, err := Revert(dir, backup)
	if err != nil {
		t.Fatalf("Revert: %v", err)
	}
	wantRev := []FileChange{{Path: "app.conf", Op: OpModify, SHA256Before: sum(fixedConf(3, 17)), SHA256After: sum(appConf)}}
	if fmt.Sprint(reverted) != fmt.Sprint(wantRev) {
		t.Errorf("Revert = %+v, want %+v", reverted, wantRev)
	}
	if got := digest(t, dir); got != before {
		t.Fatalf("workdir after Revert:\n%s\nwant:\n%s", got, before)
	}
	if m, err := ReadManifest(backup); err != nil || m.State != StateReverted || m.Reverted.IsZero() {
		t.Errorf("manifest after Revert: %+v, %v", m, err)
	}
	_, err = Revert(dir, backup)
	if !errors.Is(err, ErrNothingToRevert) || !strings.Contains(err.Error(), "already reverted") {
		t.Errorf("second Revert: %v, want ErrNothingToRevert (already reverted)", err)
	}
}

// Each kind of change, promoted and then reverted to a byte-identical tree.
func TestPromoteRevert(t *testing.T) {
	tests := []struct {
		name  string
		diff  string
		ops   []string
		files map[string]string // path -> content after, "" for absent
		modes map[string]os.FileMode
	}{
		{
			name: "modify", diff: diffModify, ops: []string{OpModify},
			files: map[string]string{"app.conf": fixedConf(3, 17)},
			modes: map[string]os.FileMode{"app.conf": 0o644},
		},
		{
			name: "plain unified diff", diff: diffModifyPlain, ops: []string{OpModify},
			files: map[string]string{"app.conf": fixedConf(3)},
		},
		{
			name: "create in new directories", diff: diffCreate, ops: []string{OpCreate, OpCreate},
			files: map[string]string{"bin/run.sh": "#!/bin/sh\necho run\n", "conf.d/extra.conf": "extra = 1\n"},
			modes: map[string]os.FileMode{"bin/run.sh": 0o755, "conf.d/extra.conf": 0o644},
		},
		{
			name: "create empty file", diff: diffCreateEmpty, ops: []string{OpCreate},
			files: map[string]string{"empty": ""},
		},
		{
			name: "delete", diff: diffDelete, ops: []string{OpDelete},
			files: map[string]string{"old.txt": ""},
		},
		{
			name: "rename with edit", diff: diffRename, ops: []string{OpRename},
			files: map[string]string{"lib/util.txt": "", "lib/util2.txt": "util v2\nshared line\n"},
			modes: map[string]os.FileMode{"lib/util2.txt": 0o640},
		},
		{
			name: "mode only", diff: diffMode, ops: []string{OpModify},
			modes: map[string]os.FileMode{"check.sh": 0o644},
		},
		{
			name: "several at once", diff: diffModify + diffCreate + diffDelete + diffRename,
			ops: []string{OpModify, OpCreate, OpCreate, OpDelete, OpRename},
			files: map[string]string{
				"app.conf": fixedConf(3, 17), "bin/run.sh": "#!/bin/sh\necho run\n", "old.txt": "",
				"lib/util.txt": "", "lib/util2.txt": "util v2\nshared line\n",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newWorkdir(t)
			before := digest(t, dir)
			backup := filepath.Join(t.TempDir(), "p")
			p, err := Check(tt.diff, dir, Limits{})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			var ops []string
			for _, f := range p.Files {
				ops = append(ops, f.Op)
			}
			if fmt.Sprint(ops) != fmt.Sprint(tt.ops) {
				t.Fatalf("ops = %v, want %v", ops, tt.ops)
			}
			stage, cleanup, err := Stage(p, dir, stagingIn(t))
			if err != nil {
				t.Fatalf("Stage: %v", err)
			}
			defer cleanup()
			if err := Promote(p, stage, dir, backup); err != nil {
				t.Fatalf("Promote: %v", err)
			}
			for name, want := range tt.files {
				b, err := os.ReadFile(filepath.Join(dir, name))
				switch {
				case want == "" && name != "empty":
					if !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s still exists (%v)", name, err)
					}
				case err != nil:
					t.Errorf("%s: %v", name, err)
				case string(b) != want:
					t.Errorf("%s = %q, want %q", name, b, want)
				}
			}
			for name, want := range tt.modes {
				if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != want {
					t.Errorf("%s mode: %v, %v; want %o", name, fi, err, want)
				}
			}
			// SHA256After is what is on disk now.
			for _, f := range p.Files {
				got := ""
				if b, err := os.ReadFile(filepath.Join(dir, f.Path)); err == nil {
					got = sum(string(b))
				}
				if f.Op == OpDelete {
					got = ""
				}
				if f.SHA256After != got {
					t.Errorf("%s %s: SHA256After %s, on disk %s", f.Op, f.Path, f.SHA256After, got)
				}
			}
			if _, err := Revert(dir, backup); err != nil {
				t.Fatalf("Revert: %v", err)
			}
			if got := digest(t, dir); got != before {
				t.Fatalf("workdir after Revert:\n%s\nwant:\n%s", got, before)
			}
		})
	}
}

// makeDiff creates n files named f<i>.txt, each with lines lines.
func makeDiff(n, lines int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "diff --git a/f%d.txt b/f%d.txt\nnew file mode 100644\n--- /dev/null\n+++ b/f%d.txt\n@@ -0,0 +1,%d @@\n", i, i, i, lines)
		for j := range lines {
			fmt.Fprintf(&b, "+line %d of a generated file\n", j)
		}
	}
	return b.String()
}

// hostile diffs: each rejected with a reason that names the problem, and
// the workdir (and anything outside it) byte-identical afterwards.
var hostile = []struct {
	name    string
	diff    string
	lim     Limits
	setup   func(t *testing.T, dir, outside string)
	atStage bool   // rejected by Stage rather than Check
	want    string // in the reason
}{
	{name: "escape by ..", want: `"../escape": path leaves the workdir ("..")`, diff: `diff --git a/../escape b/../escape
new file mode 100644
--- /dev/null
+++ b/../escape
@@ -0,0 +1 @@
+pwned
`},
	{name: "escape by a/../..", want: `"a/../../escape": path leaves the workdir`, diff: `diff --git a/a/../../escape b/a/../../escape
new file mode 100644
--- /dev/null
+++ b/a/../../escape
@@ -0,0 +1 @@
+pwned
`},
	{name: "escape by .. in a modify", want: `path leaves the workdir`, diff: `--- a/lib/../../target.txt
+++ b/lib/../../target.txt
@@ -1 +1 @@
-secret
+pwned
`},
	{name: "absolute path", want: `"/etc/passwd": absolute path`, diff: `--- /etc/passwd
+++ /etc/passwd
@@ -1 +1 @@
-root:x:0:0:root:/root:/bin/bash
+root::0:0:root:/root:/bin/bash
`},
	{name: "absolute path in a git header", want: `"/etc/passwd": absolute path`, diff: `diff --git /etc/passwd /etc/passwd
--- /etc/passwd
+++ /etc/passwd
@@ -1 +1 @@
-root:x:0:0:root:/root:/bin/bash
+root::0:0:root:/root:/bin/bash
`},
	{name: "absolute rename target", want: `"/tmp/pwned": absolute path`, diff: `diff --git a/old.txt b/old.txt
similarity index 100%
rename from old.txt
rename to /tmp/pwned
`},
	{
		name: "path through a symlink leading out", want: "link/target.txt: path goes through symlink link",
		setup: func(t *testing.T, dir, outside string) { symlink(t, outside, filepath.Join(dir, "link")) },
		diff: `diff --git a/link/target.txt b/link/target.txt
--- a/link/target.txt
+++ b/link/target.txt
@@ -1 +1 @@
-secret
+pwned
`,
	},
	{
		name: "new file through a symlinked directory", want: "link/new.txt: path goes through symlink link",
		setup: func(t *testing.T, dir, outside string) { symlink(t, outside, filepath.Join(dir, "link")) },
		diff: `diff --git a/link/new.txt b/link/new.txt
new file mode 100644
--- /dev/null
+++ b/link/new.txt
@@ -0,0 +1 @@
+pwned
`,
	},
	{
		name: "target is a symlink leading out", want: "cfg: is a symlink",
		setup: func(t *testing.T, dir, outside string) {
			symlink(t, filepath.Join(outside, "target.txt"), filepath.Join(dir, "cfg"))
		},
		diff: `--- a/cfg
+++ b/cfg
@@ -1 +1 @@
-secret
+pwned
`,
	},
	{
		name: "delete a symlink", want: "cfg: is a symlink",
		setup: func(t *testing.T, dir, outside string) {
			symlink(t, filepath.Join(outside, "target.txt"), filepath.Join(dir, "cfg"))
		},
		diff: `diff --git a/cfg b/cfg
deleted file mode 100644
--- a/cfg
+++ /dev/null
@@ -1 +0,0 @@
-secret
`,
	},
	{name: "patch creating a symlink", want: "link: symlink (git mode 120000)", diff: `diff --git a/link b/link
new file mode 120000
index 0000000..e2c5f2d
--- /dev/null
+++ b/link
@@ -0,0 +1 @@
+/etc
\ No newline at end of file
`},
	{name: "mode change to a symlink", want: "app.conf: symlink (git mode 120000)", diff: `diff --git a/app.conf b/app.conf
old mode 100644
new mode 120000
`},
	{name: "submodule", want: "vendor/x: submodule", diff: `diff --git a/vendor/x b/vendor/x
new file mode 160000
index 0000000..1234567
--- /dev/null
+++ b/vendor/x
@@ -0,0 +1 @@
+Subproject commit 1234567890123456789012345678901234567890
`},
	{name: "GIT binary patch", want: "logo.bin: binary patch", diff: diffBinary},
	{name: "binary without data", want: "logo.bin: binary patch", diff: diffBinaryNoData},
	{name: "over MaxBytes", want: "over the limit of 100", lim: Limits{MaxBytes: 100}, diff: diffModify},
	{name: "over the default 256 KiB", want: "over the limit of 262144", diff: makeDiff(1, 10000)},
	{name: "too many files", want: "diff touches 3 files, over the limit of 2", lim: Limits{MaxFiles: 2}, diff: makeDiff(3, 1)},
	{name: "not a diff at all", want: "not a diff", diff: "hello world"},
	{name: "prose with a newline", want: "not a diff", diff: "Here is the fix:\n\nchange the port to 8081.\n"},
	{name: "empty string", want: "empty diff", diff: ""},
	{name: "whitespace", want: "empty diff", diff: " \n\t\n"},
	{name: "hunk with no file header", want: "not a valid diff", diff: "@@ -1 +1 @@\n-x\n+y\n"},
	{name: "copy", want: "copy patches are not supported", diff: `diff --git a/old.txt b/new.txt
similarity index 100%
copy from old.txt
copy to new.txt
`},
	{name: "control characters in a name", want: "control characters", diff: "diff --git \"a/x\\ny\" \"b/x\\ny\"\nnew file mode 100644\n--- /dev/null\n+++ \"b/x\\ny\"\n@@ -0,0 +1 @@\n+a\n"},
	{name: "name too long", want: "file name longer than 255 bytes", diff: "--- " + strings.Repeat("0", 256) + "\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"},
	{name: "path too long", want: "path longer than 1024 bytes", diff: "--- /dev/null\n+++ " + strings.Repeat("d/", 600) + "x\n@@ -0,0 +1 @@\n+x\n"},
	{name: "workdir itself", want: "names the workdir itself", diff: "--- a/.\n+++ b/.\n@@ -1 +1 @@\n-a\n+b\n"},
	{name: "mixed headers", want: "mixes 1 git file headers with 1 plain ones", diff: diffDelete + diffModifyPlain},
	{name: "same file twice", want: "app.conf: touched more than once", diff: diffModify + diffModify},
	{name: "file and its directory", want: "new/x: new is touched as a file", diff: "--- /dev/null\n+++ b/new\n@@ -0,0 +1 @@\n+a\n--- /dev/null\n+++ b/new/x\n@@ -0,0 +1 @@\n+a\n"},
	{name: "modify a missing file", want: "missing.conf: does not exist", diff: "--- a/missing.conf\n+++ b/missing.conf\n@@ -1 +1 @@\n-a\n+b\n"},
	{name: "modify a directory", want: "lib: is a directory, not a regular file", diff: "--- a/lib\n+++ b/lib\n@@ -1 +1 @@\n-a\n+b\n"},
	{name: "create over an existing file", want: "old.txt: already exists", diff: "--- /dev/null\n+++ b/old.txt\n@@ -0,0 +1 @@\n+a\n"},
	{name: "no changes", want: "app.conf: no changes", diff: "diff --git a/app.conf b/app.conf\n"},
	{name: "protected file", want: "check.sh: protected path: the validate script", lim: Limits{Protected: []Protection{{Path: "check.sh", Why: "the validate script"}}}, diff: `diff --git a/check.sh b/check.sh
--- a/check.sh
+++ b/check.sh
@@ -1,3 +1,2 @@
 #!/bin/sh
-grep -q "key03 = fixed" app.conf || { echo "key03 is not fixed" >&2; exit 1; }
 echo validate ok
`},
	{name: "wrong context", want: `hunk 2 of app.conf (first lines " key14 = v14", " key15 = v15") does not match app.conf`, diff: diffWrongContext},
	{name: "hunk past the end", want: `hunk 1 of old.txt (first lines "-gone", "+new") does not match`, diff: "--- a/old.txt\n+++ b/old.txt\n@@ -5,1 +5,1 @@\n-gone\n+new\n"},
	{name: "delete that leaves content", want: `hunk 1 of old.txt (first lines "-something else") does not match`, diff: "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-something else\n"},
	{name: "delete of part of a file", atStage: true, want: "lib/util.txt does not apply", diff: "--- a/lib/util.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-util v1\n"},
	// Placement is tolerant of a model's sloppiness, never of where a diff
	// points: the same refusals come through a sloppy hunk or a
	// search/replace block, before any file is read.
	{
		name: "hunk without numbers through a symlink", want: "link/target.txt: path goes through symlink link",
		setup: func(t *testing.T, dir, outside string) { symlink(t, outside, filepath.Join(dir, "link")) },
		diff:  "--- link/target.txt\n+++ link/target.txt\n@@ ... @@\n-secret\n+pwned\n",
	},
	{
		name: "search/replace through a symlink", want: "link/target.txt: path goes through symlink link",
		setup: func(t *testing.T, dir, outside string) { symlink(t, outside, filepath.Join(dir, "link")) },
		diff:  "link/target.txt\n<<<<<<< SEARCH\nsecret\n=======\npwned\n>>>>>>> REPLACE\n",
	},
	{
		name: "search/replace creating through a symlinked directory", want: "link/new.txt: path goes through symlink link",
		setup: func(t *testing.T, dir, outside string) { symlink(t, outside, filepath.Join(dir, "link")) },
		diff:  "link/new.txt\n<<<<<<< SEARCH\n=======\npwned\n>>>>>>> REPLACE\n",
	},
	{
		name: "search/replace on a symlinked file", want: "cfg: is a symlink",
		setup: func(t *testing.T, dir, outside string) {
			symlink(t, filepath.Join(outside, "target.txt"), filepath.Join(dir, "cfg"))
		},
		diff: "cfg\n<<<<<<< SEARCH\nsecret\n=======\npwned\n>>>>>>> REPLACE\n",
	},
	{name: "search/replace escaping by ..", want: `"../escape": path leaves the workdir`, diff: "../escape\n<<<<<<< SEARCH\n=======\npwned\n>>>>>>> REPLACE\n"},
	{name: "search/replace on an absolute path", want: `"/etc/passwd": absolute path`, diff: "/etc/passwd\n<<<<<<< SEARCH\nroot:x:0:0:root:/root:/bin/bash\n=======\nroot::0:0:root:/root:/bin/bash\n>>>>>>> REPLACE\n"},
	{name: "git header without prefixes escaping by ..", want: `"../x": path leaves the workdir`, diff: "diff --git ../x ../x\n--- ../x\n+++ ../x\n@@ ... @@\n-a\n+b\n"},
	{name: "hunk without numbers on a protected file", want: "check.sh: protected path: the validate script", lim: Limits{Protected: []Protection{{Path: "check.sh", Why: "the validate script"}}},
		diff: "--- check.sh\n+++ check.sh\n@@ ... @@\n-echo validate ok\n+echo pwned\n"},
	{name: "search/replace on a protected file", want: "check.sh: protected path: the validate script", lim: Limits{Protected: []Protection{{Path: "check.sh", Why: "the validate script"}}},
		diff: "check.sh\n<<<<<<< SEARCH\necho validate ok\n=======\necho pwned\n>>>>>>> REPLACE\n"},
	{name: "search/replace over MaxBytes", want: "over the limit of 60", lim: Limits{MaxBytes: 60}, diff: "app.conf\n<<<<<<< SEARCH\nkey03 = v03\n=======\nkey03 = fixed\n>>>>>>> REPLACE\n"},
	{name: "search/replace over MaxFiles", want: "diff touches 2 files, over the limit of 1", lim: Limits{MaxFiles: 1}, diff: "app.conf\n<<<<<<< SEARCH\nkey03 = v03\n=======\nx\n>>>>>>> REPLACE\nold.txt\n<<<<<<< SEARCH\nobsolete\n=======\nx\n>>>>>>> REPLACE\n"},
	{name: "empty delete of a non-empty file", atStage: true, want: "old.txt: the deletion does not cover the whole file", diff: "diff --git a/old.txt b/old.txt\ndeleted file mode 100644\n"},
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func TestHostile(t *testing.T) {
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			dir := newWorkdir(t)
			outside := t.TempDir()
			if err := os.WriteFile(filepath.Join(outside, "target.txt"), []byte("secret\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, dir, outside)
			}
			staging := stagingIn(t)
			before, outBefore := digest(t, dir), digest(t, outside)
			parent := digest(t, filepath.Dir(dir))

			p, err := Check(tt.diff, dir, tt.lim)
			if tt.atStage {
				if err != nil {
					t.Fatalf("Check: %v, want it accepted and refused by Stage", err)
				}
				var stage string
				var cleanup func()
				stage, cleanup, err = Stage(p, dir, staging)
				cleanup()
				if stage != "" {
					t.Errorf("Stage returned dir %q with its error", stage)
				}
			} else if p != nil {
				t.Errorf("Check returned a plan with its error: %+v", p)
			}
			var re *RejectError
			if !errors.As(err, &re) || !errors.Is(err, ErrRejected) {
				t.Fatalf("err = %v, want a *RejectError", err)
			}
			t.Logf("reason: %s", re.Reason)
			if !strings.Contains(re.Reason, tt.want) {
				t.Errorf("reason %q does not contain %q", re.Reason, tt.want)
			}
			if got := digest(t, dir); got != before {
				t.Errorf("workdir changed:\n%s\nwant:\n%s", got, before)
			}
			if got := digest(t, outside); got != outBefore {
				t.Errorf("outside dir changed:\n%s", got)
			}
			if got := digest(t, filepath.Dir(dir)); got != parent {
				t.Errorf("workdir's parent changed:\n%s\nwant:\n%s", got, parent)
			}
		})
	}
}

func TestCheckLimitsConfig(t *testing.T) {
	dir := newWorkdir(t)
	for _, lim := range []Limits{{MaxBytes: -1}, {MaxFiles: -1}, {Protected: []Protection{{Path: "../x"}}}, {Protected: []Protection{{Path: "/etc"}}},
		{Protected: []Protection{{Glob: "/etc/*"}}}, {Protected: []Protection{{Glob: "a/../b"}}}, {Protected: []Protection{{Glob: "[x"}}},
		{Protected: []Protection{{Path: "a", Glob: "b"}}}} {
		if _, err := Check(diffModify, dir, lim); !errors.Is(err, razar.ErrInvalidConfig) {
			t.Errorf("Check with %+v: %v, want ErrInvalidConfig", lim, err)
		}
	}
	if _, err := Check(diffModify, filepath.Join(dir, "old.txt"), Limits{}); err == nil || errors.Is(err, ErrRejected) {
		t.Errorf("Check with a file as workdir: %v, want a plain error", err)
	}
	// A protected directory covers what is under it.
	_, err := Check(diffRename, dir, Limits{Protected: []Protection{{Path: "lib", Why: "a library"}}})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "protected path, under lib: a library") {
		t.Errorf("rename under a protected dir: %v", err)
	}
}

// The workdir reached through a symlink is fine: only links inside it count.
func TestSymlinkedWorkdir(t *testing.T) {
	dir := newWorkdir(t)
	link := filepath.Join(t.TempDir(), "wd")
	symlink(t, dir, link)
	p, err := Check(diffModify, link, Limits{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	stage, cleanup, err := Stage(p, link, stagingIn(t))
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	defer cleanup()
	if err := Promote(p, stage, link, filepath.Join(t.TempDir(), "b")); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "app.conf")); got != fixedConf(3, 17) {
		t.Errorf("app.conf:\n%s", got)
	}
}

// Stage leaves symlinks and special files out of the copy.
func TestStageSkipsSymlinks(t *testing.T) {
	dir := newWorkdir(t)
	outside := t.TempDir()
	symlink(t, outside, filepath.Join(dir, "link"))
	p, err := Check(diffModify, dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	stage, cleanup, err := Stage(p, dir, stagingIn(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(stage, "link")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stage has the symlink: %v", err)
	}
	cleanup()
	if _, err := os.Stat(stage); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cleanup left %s: %v", stage, err)
	}
}

func TestStageConflict(t *testing.T) {
	dir := newWorkdir(t)
	p, err := Check(diffModify, dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte(appConf+"edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stage, cleanup, err := Stage(p, dir, stagingIn(t))
	cleanup()
	if !errors.Is(err, ErrConflict) || stage != "" {
		t.Errorf("Stage after an edit: %q, %v; want ErrConflict", stage, err)
	}
}

// stagedPlan checks and stages diff in a fresh workdir.
func stagedPlan(t *testing.T, diff string) (p *Plan, dir, stage string) {
	t.Helper()
	dir = newWorkdir(t)
	p, err := Check(diff, dir, Limits{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	stage, cleanup, err := Stage(p, dir, stagingIn(t))
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	t.Cleanup(cleanup)
	return p, dir, stage
}

// A swap that fails midway puts back the files already swapped.
func TestPromoteFailureRestores(t *testing.T) {
	p, dir, stage := stagedPlan(t, diffModify+diffCreate+diffDelete)
	before := digest(t, dir)
	backup := filepath.Join(t.TempDir(), "p")
	var swapped []string
	p.beforeSwap = func(rel string) {
		swapped = append(swapped, rel)
		if rel == "conf.d/extra.conf" {
			// Someone puts a directory where the new file goes, after the
			// checks: the rename onto it fails.
			if err := os.MkdirAll(filepath.Join(dir, "conf.d", "extra.conf", "inner"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	err := Promote(p, stage, dir, backup)
	if err == nil || !strings.Contains(err.Error(), "swap conf.d/extra.conf") || !strings.Contains(err.Error(), "workdir restored") {
		t.Fatalf("Promote = %v, want a failed swap of conf.d/extra.conf, restored", err)
	}
	if fmt.Sprint(swapped) != "[app.conf bin/run.sh conf.d/extra.conf]" {
		t.Errorf("swapped %v before failing", swapped)
	}
	if _, err := os.Stat(backup); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("backup dir left behind: %v", err)
	}
	// Take away the intruder; what is left must be the workdir as it was.
	if err := os.RemoveAll(filepath.Join(dir, "conf.d")); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, dir); got != before {
		t.Fatalf("workdir after a failed Promote:\n%s\nwant:\n%s", got, before)
	}
	for _, f := range p.Files {
		if f.SHA256After != "" {
			t.Errorf("%s: SHA256After set after a failed Promote", f.Path)
		}
	}
}

// Promote refuses, changing nothing, when the workdir or the stage moved on.
func TestPromoteRefuses(t *testing.T) {
	tests := []struct {
		name   string
		diff   string
		change func(t *testing.T, dir, stage string)
		want   error
		text   string
	}{
		{
			name: "target edited after Stage", diff: diffModify, want: ErrConflict, text: "app.conf changed since Check",
			change: func(t *testing.T, dir, stage string) {
				writeFile(t, filepath.Join(dir, "app.conf"), appConf+"by hand\n")
			},
		},
		{
			name: "target made a directory", diff: diffModify, want: ErrRejected, text: "app.conf: is a directory, not a regular file",
			change: func(t *testing.T, dir, stage string) {
				if err := os.Remove(filepath.Join(dir, "app.conf")); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(filepath.Join(dir, "app.conf"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "new file appeared", diff: diffCreate, want: ErrRejected, text: "bin/run.sh: already exists",
			change: func(t *testing.T, dir, stage string) {
				if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "bin", "run.sh"), "mine\n")
			},
		},
		{
			name: "symlink planted after Check", diff: diffCreate, want: ErrRejected, text: "path goes through symlink conf.d",
			change: func(t *testing.T, dir, stage string) {
				symlink(t, t.TempDir(), filepath.Join(dir, "conf.d"))
			},
		},
		{
			name: "staged file changed by validate", diff: diffModify, want: ErrConflict, text: "staged app.conf changed after Stage",
			change: func(t *testing.T, dir, stage string) {
				writeFile(t, filepath.Join(stage, "app.conf"), "rewritten\n")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, dir, stage := stagedPlan(t, tt.diff)
			tt.change(t, dir, stage)
			before := digest(t, dir)
			backup := filepath.Join(t.TempDir(), "p")
			err := Promote(p, stage, dir, backup)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Promote = %v, want %v with %q", err, tt.want, tt.text)
			}
			if got := digest(t, dir); got != before {
				t.Errorf("workdir changed:\n%s\nwant:\n%s", got, before)
			}
			if _, err := os.Stat(backup); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("backup dir made: %v", err)
			}
		})
	}
	t.Run("not staged", func(t *testing.T) {
		dir := newWorkdir(t)
		p, err := Check(diffModify, dir, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := Promote(p, t.TempDir(), dir, filepath.Join(t.TempDir(), "p")); err == nil || !strings.Contains(err.Error(), "Stage first") {
			t.Errorf("Promote of an unstaged plan: %v", err)
		}
	})
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRevertRefuses(t *testing.T) {
	dir := newWorkdir(t)
	for _, b := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		_, err := Revert(dir, b)
		if !errors.Is(err, ErrNothingToRevert) || !strings.Contains(err.Error(), "no manifest.json") {
			t.Errorf("Revert(%s) = %v, want ErrNothingToRevert", b, err)
		}
	}

	p, dir, stage := stagedPlan(t, diffModify+diffCreate)
	backup := filepath.Join(t.TempDir(), "p")
	if err := Promote(p, stage, dir, backup); err != nil {
		t.Fatal(err)
	}
	// Edited after the patch: Revert must not clobber the edit.
	writeFile(t, filepath.Join(dir, "conf.d", "extra.conf"), "edited by hand\n")
	edited := digest(t, dir)
	_, err := Revert(dir, backup)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "conf.d/extra.conf changed since the patch") {
		t.Fatalf("Revert after an edit = %v, want ErrConflict", err)
	}
	if got := digest(t, dir); got != edited {
		t.Fatalf("a refused Revert changed the workdir:\n%s", got)
	}
	if _, err := Revert(newWorkdir(t), backup); err == nil || !strings.Contains(err.Error(), "was applied to") {
		t.Errorf("Revert on another workdir: %v", err)
	}

	// Put the patched content back: Revert goes through, and a second
	// Revert has nothing left to do.
	writeFile(t, filepath.Join(dir, "conf.d", "extra.conf"), "extra = 1\n")
	got, err := Revert(dir, backup)
	if err != nil {
		t.Fatalf("Revert: %v", err)
	}
	want := []FileChange{
		{Path: "app.conf", Op: OpModify, SHA256Before: sum(fixedConf(3, 17)), SHA256After: sum(appConf)},
		{Path: "bin/run.sh", Op: OpDelete, SHA256Before: sum("#!/bin/sh\necho run\n")},
		{Path: "conf.d/extra.conf", Op: OpDelete, SHA256Before: sum("extra = 1\n")},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Revert = %+v\nwant %+v", got, want)
	}
	for _, d := range []string{"bin", "conf.d"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("directory %s made by the patch is still there: %v", d, err)
		}
	}
	if _, err := Revert(dir, backup); !errors.Is(err, ErrNothingToRevert) {
		t.Errorf("Revert twice: %v", err)
	}
}

// A Revert cut short (here: after a crash during Promote, manifest still
// "promoting", half the files swapped) can be run, and run again.
func TestRevertHalfDone(t *testing.T) {
	p, dir, stage := stagedPlan(t, diffModify+diffDelete)
	before := digest(t, dir)
	backup := filepath.Join(t.TempDir(), "p")
	if err := Promote(p, stage, dir, backup); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(backup)
	if err != nil {
		t.Fatal(err)
	}
	m.State = StatePromoting
	if err := writeManifest(backup, m); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "app.conf"), appConf) // already back to its old self
	if err := os.Chmod(filepath.Join(dir, "app.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Revert(dir, backup); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	if got := digest(t, dir); got != before {
		t.Fatalf("workdir after Revert:\n%s\nwant:\n%s", got, before)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "v.sh"), []byte("#!/bin/sh\necho \"in $(basename \"$PWD\") with $RAZAR_X\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		argv     []string
		env      []string
		timeout  time.Duration
		wantOut  string // the tail must end with this
		wantErr  string // "" for success
		exitCode int
		timedOut bool
	}{
		{name: "nothing to validate", argv: nil},
		{name: "exit 0", argv: []string{"sh", "-c", "echo hello"}, wantOut: "hello\n"},
		{name: "relative script and env", argv: []string{"./v.sh"}, env: []string{"RAZAR_X=42"}, wantOut: "in " + filepath.Base(dir) + " with 42\n"},
		{
			name: "exit 1", argv: []string{"sh", "-c", "echo checking; echo 'config broken: key03' >&2; exit 1"},
			wantOut: "checking\nconfig broken: key03\n", wantErr: "validate sh -c echo checking; echo 'config broken: key03' >&2; exit 1: exit status 1", exitCode: 1,
		},
		{name: "exit 3", argv: []string{"sh", "-c", "exit 3"}, wantErr: "exit status 3", exitCode: 3},
		{
			name: "timeout", argv: []string{"sleep", "5"}, timeout: 200 * time.Millisecond,
			wantErr: "validate sleep 5: timed out after 200ms", exitCode: -1, timedOut: true,
		},
		{
			name: "timeout kills the group", argv: []string{"sh", "-c", "echo started; sleep 5 & sleep 5"}, timeout: 200 * time.Millisecond,
			wantOut: "started\n", wantErr: "timed out", exitCode: -1, timedOut: true,
		},
		{name: "missing command", argv: []string{"./nope.sh"}, wantErr: "validate ./nope.sh: start: no such file or directory", exitCode: -1},
		{
			name: "long output keeps the tail", argv: []string{"sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; i=$((i+1)); done; echo LAST"},
			wantOut: "line 2999\nLAST\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			out, err := Validate(context.Background(), tt.argv, dir, tt.env, timeout)
			// The tail, plus a "..." marker when earlier output was dropped.
			if len(strings.TrimPrefix(out, "...")) > ValidateOutputTail {
				t.Errorf("output tail is %d bytes", len(out))
			}
			if !strings.HasSuffix(out, tt.wantOut) {
				t.Errorf("output %q, want it to end with %q", out, tt.wantOut)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var ve *ValidateError
			if !errors.As(err, &ve) || !errors.Is(err, ErrValidationFailed) {
				t.Fatalf("err = %v, want a *ValidateError", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q, want %q in it", err, tt.wantErr)
			}
			if ve.ExitCode != tt.exitCode || ve.TimedOut != tt.timedOut {
				t.Errorf("exit code %d timed out %v, want %d %v", ve.ExitCode, ve.TimedOut, tt.exitCode, tt.timedOut)
			}
			if tt.timedOut != errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("errors.Is(err, DeadlineExceeded) = %v", !tt.timedOut)
			}
		})
	}

	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Validate(ctx, []string{"sleep", "5"}, dir, nil, time.Minute)
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrValidationFailed) {
			t.Errorf("err = %v, want context.Canceled and not a validation failure", err)
		}
	})
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^p-\d{8}-\d{6}-[0-9a-f]{6}$`)
	a, b := NewID(), NewID()
	if !re.MatchString(a) || !re.MatchString(b) || a == b {
		t.Errorf("NewID() = %q, %q", a, b)
	}
	if day := time.Now().UTC().Format("20060102"); !strings.HasPrefix(a, "p-"+day) && !strings.HasPrefix(b, "p-"+day) {
		t.Errorf("NewID() = %q, want UTC date %s", a, day)
	}
}

// FuzzCheck feeds Check (and Stage, for what Check accepts) arbitrary
// diffs: it must never panic, never write the workdir, and accept only
// clean relative paths inside it that go through no symlink.
func FuzzCheck(f *testing.F) {
	for _, d := range []string{diffModify, diffModifyPlain, diffWrongContext, diffCreate, diffCreateEmpty, diffDelete, diffRename, diffMode, diffBinary, diffBinaryNoData} {
		f.Add(d)
	}
	for _, h := range hostile {
		if len(h.diff) < 4096 {
			f.Add(h.diff)
		}
	}
	for _, tt := range tolerances { // the sloppy diffs models write
		f.Add(tt.diff)
	}
	dir := newWorkdir(f)
	outside := f.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		f.Fatal(err)
	}
	before := digest(f, dir)
	staging := stagingIn(f)
	f.Fuzz(func(t *testing.T, diff string) {
		p, err := Check(diff, dir, Limits{})
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("Check error that is not a rejection: %v", err)
			}
			if p != nil {
				t.Fatalf("plan with an error")
			}
			return
		}
		if len(p.Files) == 0 {
			t.Fatalf("accepted a diff with no files")
		}
		for _, fc := range p.Files {
			for _, name := range []string{fc.Path, fc.OldPath} {
				if name == "" && (name == fc.Path || fc.Op == OpRename) {
					t.Fatalf("accepted an empty path: %+v", fc)
				}
				if name == "" {
					continue
				}
				if path.Clean(name) != name || !filepath.IsLocal(name) || strings.HasPrefix(name, "/") || strings.Contains("/"+name+"/", "/../") {
					t.Fatalf("accepted path %q", name)
				}
				for d := name; d != "."; d = path.Dir(d) {
					if fi, err := os.Lstat(filepath.Join(dir, d)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
						t.Fatalf("accepted path %q through symlink %s", name, d)
					}
				}
			}
		}
		_, cleanup, _ := Stage(p, dir, staging)
		cleanup()
		if got := digest(t, dir); got != before {
			t.Fatalf("Check+Stage changed the workdir:\n%s", got)
		}
	})
}
