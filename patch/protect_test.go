package patch

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
	"github.com/razar/razar/config"
)

// writeTree makes files (name -> content; a name ending in "*" is made
// executable, without the star) under a fresh directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		perm := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, perm = n, 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), perm); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rewriteDiff replaces the whole of file name, which holds old, with new.
func rewriteDiff(name, old, new string) string {
	var b strings.Builder
	ol, nl := strings.SplitAfter(strings.TrimSuffix(old, "\n"), "\n"), strings.SplitAfter(strings.TrimSuffix(new, "\n"), "\n")
	fmt.Fprintf(&b, "--- a/%s\n+++ b/%s\n@@ -1,%d +1,%d @@\n", name, name, len(ol), len(nl))
	for _, l := range ol {
		b.WriteString("-" + strings.TrimSuffix(l, "\n") + "\n")
	}
	for _, l := range nl {
		b.WriteString("+" + strings.TrimSuffix(l, "\n") + "\n")
	}
	return b.String()
}

// whyOf is the Why of the protection covering rel, or "" if none does.
func whyOf(prots []Protection, rel string) string {
	for _, p := range prots {
		if p.covers(rel) {
			return p.Why
		}
	}
	return ""
}

const (
	portCheck = "#!/bin/sh\ngrep -Eq '^port=[0-9]+$' app.conf || { echo 'app.conf: port is not a number' >&2; exit 1; }\n"
	appConf2  = "# app\nport=abc\n"
)

// TestProtectionsCoverProgramsNotTheirData: what ComponentProtections
// protects for each way of writing a validate or health-check command, and
// that the data files those commands read stay patchable.
func TestProtectionsCoverProgramsNotTheirData(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		validate []string // "$W" is replaced by the workdir
		health   []string
		protect  []string
		env      map[string]string
		want     map[string]string // path -> text its Why must hold
		free     []string          // paths no rule may cover
	}{
		{
			name: "sh -c runs a script", files: map[string]string{"check.sh*": portCheck, "app.conf": appConf2},
			validate: []string{"sh", "-c", "./check.sh"},
			want:     map[string]string{"check.sh": "the validate program (validate: sh -c ./check.sh)"},
			free:     []string{"app.conf", "other.sh"},
		},
		{
			name: "sh -ec with a chain of commands", files: map[string]string{"a.sh*": "exit 0\n", "bin/b*": "exit 0\n"},
			validate: []string{"sh", "-ec", "cd . && ./a.sh app.conf && bin/b >log.txt 2>&1; grep -q x app.conf"},
			want:     map[string]string{"a.sh": "validate", "bin/b": "validate"},
			free:     []string{"app.conf", "log.txt"},
		},
		{
			name: "absolute path into the workdir", files: map[string]string{"check.sh*": portCheck},
			validate: []string{"$W/check.sh", "app.conf"},
			want:     map[string]string{"check.sh": "the validate program"},
			free:     []string{"app.conf"},
		},
		{
			name: "script and the files it sources",
			files: map[string]string{
				"check.sh*":       "#!/bin/sh\n. ./lib.sh\nsource conf/defaults.sh # comment\n. \"$(dirname \"$0\")/tools/common.sh\"\ncheck_port app.conf\n",
				"lib.sh":          "check_port() { grep -q port \"$1\"; }\n",
				"tools/common.sh": "X=1\n",
			},
			validate: []string{"sh", "./check.sh"},
			want: map[string]string{
				"check.sh": "the validate script (validate: sh ./check.sh)", "lib.sh": "a file check.sh sources",
				"conf/defaults.sh": "a file check.sh sources", "tools/common.sh": "a file check.sh sources",
			},
			free: []string{"app.conf"},
		},
		{
			name: "a script's here-documents: data for cat, commands for sh",
			files: map[string]string{
				"check.sh*": "#!/bin/sh\ncat <<EOF\nusage: ./usage.sh\nEOF\nsh <<'EOF'\n./inner.sh\nEOF\n$'./quoted.sh' app.conf\n",
			},
			validate: []string{"sh", "./check.sh"},
			want:     map[string]string{"check.sh": "the validate script", "inner.sh": "a file check.sh runs", "quoted.sh": "a file check.sh runs"},
			free:     []string{"usage.sh", "app.conf"},
		},
		{
			name: "a script run directly, by its shebang",
			files: map[string]string{"check*": "#!/usr/bin/env bash\nset -e\nif ./tools/lint.sh; then bash tools/more.sh; fi\n", "tools/lint.sh*": "exit 0\n",
				"tools/more.sh": ". ./deep.sh\n", "deep.sh": "true\n"},
			validate: []string{"./check"},
			want: map[string]string{"check": "the validate program", "tools/lint.sh": "a file check runs", "tools/more.sh": "a file check runs",
				"deep.sh": "a file tools/more.sh sources"},
		},
		{
			name:     "make check: every makefile name, its includes and recipes",
			files:    map[string]string{"Makefile": "include rules.mk\ncheck: ; @./pre.sh\n\t@./check.sh app.conf\n\tgrep -q port=ok app.conf\n", "rules.mk": "X=1\n", "check.sh*": portCheck},
			validate: []string{"make", "check"},
			want: map[string]string{"Makefile": "the validate makefile (validate: make check)", "GNUmakefile": "the validate makefile", "makefile": "the validate makefile",
				"rules.mk": "a file Makefile includes", "check.sh": "a file Makefile runs", "pre.sh": "a file Makefile runs"},
			free: []string{"app.conf"},
		},
		{
			name:     "make -C dir -f file",
			files:    map[string]string{"sub/ci.mk": "check:\n\t./run.sh\n"},
			validate: []string{"make", "-s", "-C", "sub", "-fci.mk", "check"},
			want:     map[string]string{"sub/ci.mk": "the validate makefile", "sub/run.sh": "a file sub/ci.mk runs"},
			free:     []string{"sub/Makefile", "Makefile", "run.sh"},
		},
		{
			name: "health-check script and program", files: map[string]string{"health.sh": "curl -fsS localhost:1/ready\n"},
			validate: []string{"grep", "-q", "port=ok", "app.conf"},
			health:   []string{"sh", "./health.sh"},
			want:     map[string]string{"health.sh": "the health-check script (health-check: sh ./health.sh)"},
			free:     []string{"app.conf"},
		},
		{
			name:     "data files of programs that are not interpreters",
			validate: []string{"nginx", "-t", "-c", "nginx.conf"},
			health:   []string{"grep", "-q", "port=ok", "app.conf"},
			free:     []string{"nginx.conf", "app.conf"},
		},
		{
			name:     "a validator's own config argument",
			files:    map[string]string{"bin/validate*": "\x7fELF\x00\x00binary"},
			validate: []string{"./bin/validate", "--config", "app.conf"},
			want:     map[string]string{"bin/validate": "the validate program"},
			free:     []string{"app.conf"},
		},
		{
			name:     "python script, python -m module",
			validate: []string{"python3", "-W", "ignore", "-u", "check.py", "app.conf"},
			health:   []string{"python3.12", "-m", "tools.health", "--port", "1"},
			want:     map[string]string{"check.py": "the validate script", "tools/health.py": "the health-check script", "tools/__init__.py": "health-check", "tools.py": "health-check"},
			free:     []string{"app.conf"},
		},
		{
			name:     "perl, ruby and node scripts; -e code is no file",
			validate: []string{"perl", "-w", "-Ilib", "check.pl", "app.conf"},
			health:   []string{"node", "--require", "hook.js", "health.js"},
			want:     map[string]string{"check.pl": "validate script", "health.js": "health-check script"},
			free:     []string{"app.conf", "hook.js"},
		},
		{
			name:     "perl -ne",
			validate: []string{"perl", "-ne", "exit 1 unless /port/", "app.conf"},
			free:     []string{"app.conf", "exit 1 unless /port/"},
		},
		{
			name:     "wrappers are seen through",
			validate: []string{"env", "-i", "MODE=ci", "timeout", "-s", "KILL", "10", "nice", "-n", "5", "./check.sh"},
			want:     map[string]string{"check.sh": "the validate program"},
			free:     []string{"MODE=ci", "10", "5"},
		},
		{
			name:     "BASH_ENV",
			validate: []string{"bash", "-c", "check_port"},
			env:      map[string]string{"BASH_ENV": "lib/env.sh"},
			want:     map[string]string{"lib/env.sh": "BASH_ENV=lib/env.sh"},
			free:     []string{"app.conf"},
		},
		{
			name:     "bare names are looked up in PATH",
			files:    map[string]string{"check.sh*": portCheck},
			validate: []string{"check.sh"},
			health:   []string{"sh", "-c", "check.sh"},
			free:     []string{"check.sh"},
		},
		{
			name:     "paths outside the workdir",
			validate: []string{"sh", "../other/check.sh"},
			health:   []string{"/usr/bin/check"},
			free:     []string{"other/check.sh", "usr/bin/check"},
		},
		{
			name:    "protect globs",
			protect: []string{"secrets/**", "*.key", "bin", "conf/**/*.pem"},
			want: map[string]string{"secrets/a/b.txt": `protect glob "secrets/**"`, "x.key": `protect glob "*.key"`, "bin/tool": `protect glob "bin"`,
				"conf/a.pem": "conf/**/*.pem", "conf/x/y/a.pem": "conf/**/*.pem"},
			free: []string{"sub/x.key", "binx", "secretsx", "conf/a.pem.txt", "app.conf"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			sub := func(argv []string) []string {
				out := make([]string, len(argv))
				for i, a := range argv {
					out[i] = strings.ReplaceAll(a, "$W", dir)
				}
				return out
			}
			c := config.Component{Name: "app", Workdir: dir, Validate: sub(tt.validate), Protect: tt.protect}
			c.Env = tt.env
			if tt.health != nil {
				c.HealthCheck = &razar.HealthCheck{Command: sub(tt.health)}
			}
			prots := ComponentProtections(c)
			for _, p := range prots {
				t.Logf("protected: path %q glob %q: %s", p.Path, p.Glob, p.Why)
			}
			for rel, want := range tt.want {
				if why := whyOf(prots, rel); !strings.Contains(why, want) {
					t.Errorf("%s: protected as %q, want %q in it", rel, why, want)
				}
			}
			for _, rel := range tt.free {
				if why := whyOf(prots, rel); why != "" {
					t.Errorf("%s: protected (%s), want it patchable", rel, why)
				}
			}
			// What Check is given it accepts as Limits.
			if _, err := (Limits{Protected: prots}).withDefaults(); err != nil {
				t.Errorf("Limits of these protections: %v", err)
			}
		})
	}
}

// TestProtectionFollowsSymlinks: a validate script that is a symlink
// protects its target too, so a patch cannot rewrite the script through it.
func TestProtectionFollowsSymlinks(t *testing.T) {
	dir := writeTree(t, map[string]string{"real/check.sh*": portCheck, "app.conf": appConf2})
	symlink(t, "real/check.sh", filepath.Join(dir, "check.sh"))
	prots := ComponentProtections(config.Component{Workdir: dir, Validate: []string{"sh", "./check.sh"}})
	if why := whyOf(prots, "real/check.sh"); !strings.Contains(why, "through symlink check.sh") {
		t.Fatalf("real/check.sh protected as %q", why)
	}
	_, err := Check(rewriteDiff("real/check.sh", portCheck, "#!/bin/sh\nexit 0\n"), dir, Limits{Protected: prots})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "real/check.sh: protected path") {
		t.Fatalf("Check: %v", err)
	}
}

// TestHostileDiffCannotRewriteItsJudge: each attack measured from outside,
// a diff that rewrites the validate or health-check code to "exit 0"
// (together with a bad change it would wave through), is refused by Check
// with a reason naming the file and why it is protected, and the workdir
// is byte-identical afterwards.
func TestHostileDiffCannotRewriteItsJudge(t *testing.T) {
	const exit0 = "#!/bin/sh\nexit 0\n"
	sourcing := "#!/bin/sh\n. ./lib.sh\ncheck_port\n"
	lib := "check_port() { grep -Eq '^port=[0-9]+$' app.conf; }\n"
	makefile := "check:\n\tgrep -Eq '^port=[0-9]+$$' app.conf\n"
	tests := []struct {
		name     string
		files    map[string]string
		validate []string
		health   []string
		target   string // the file the diff rewrites
		old      string
		want     string // in the reason
	}{
		{"validator sh -c ./check.sh", map[string]string{"check.sh*": portCheck}, []string{"sh", "-c", "./check.sh"}, nil,
			"check.sh", portCheck, "check.sh: protected path: the validate program (validate: sh -c ./check.sh)"},
		{"validator by absolute path", map[string]string{"check.sh*": portCheck}, []string{"$W/check.sh"}, nil,
			"check.sh", portCheck, "check.sh: protected path: the validate program"},
		{"file the validator sources", map[string]string{"check.sh*": sourcing, "lib.sh": lib}, []string{"sh", "./check.sh"}, nil,
			"lib.sh", lib, "lib.sh: protected path: a file check.sh sources (validate: sh ./check.sh)"},
		{"Makefile behind make check", map[string]string{"Makefile": makefile}, []string{"make", "check"}, nil,
			"Makefile", makefile, "Makefile: protected path: the validate makefile (validate: make check)"},
		{"health-check script", map[string]string{"health.sh": portCheck}, nil, []string{"sh", "./health.sh"},
			"health.sh", portCheck, "health.sh: protected path: the health-check script (health-check: sh ./health.sh)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.files["app.conf"] = appConf2
			dir := writeTree(t, tt.files)
			for i, a := range tt.validate {
				tt.validate[i] = strings.ReplaceAll(a, "$W", dir)
			}
			c := config.Component{Name: "app", Workdir: dir, Validate: tt.validate}
			if tt.health != nil {
				c.HealthCheck = &razar.HealthCheck{Command: tt.health}
			}
			before := digest(t, dir)
			pass := exit0
			if tt.target == "Makefile" {
				pass = "check:\n\t@exit 0\n"
			}
			diff := rewriteDiff("app.conf", appConf2, "# app\nport=none\n") + rewriteDiff(tt.target, tt.old, pass)
			p, err := Check(diff, dir, Limits{Protected: ComponentProtections(c)})
			var re *RejectError
			if !errors.As(err, &re) || p != nil {
				t.Fatalf("Check = %+v, %v; want a rejection", p, err)
			}
			if !strings.Contains(re.Reason, tt.want) {
				t.Errorf("reason %q, want %q in it", re.Reason, tt.want)
			}
			if got := digest(t, dir); got != before {
				t.Errorf("workdir changed:\n%s\nwant:\n%s", got, before)
			}
		})
	}
}

// TestDataFileTheValidatorReadsIsPatchedAndValidated: a diff to the config
// a non-interpreter validator reads (grep -q port=ok app.conf) passes
// Check, and validation judges the patched copy: a wrong value fails, the
// right one passes.
func TestDataFileTheValidatorReadsIsPatchedAndValidated(t *testing.T) {
	dir := writeTree(t, map[string]string{"app.conf": "port=bad\n"})
	c := config.Component{Name: "app", Workdir: dir, Validate: []string{"grep", "-q", "port=ok", "app.conf"}}
	lim := Limits{Protected: ComponentProtections(c)}
	for _, tt := range []struct {
		value string
		pass  bool
	}{{"wrong", false}, {"ok", true}} {
		p, err := Check(rewriteDiff("app.conf", "port=bad\n", "port="+tt.value+"\n"), dir, lim)
		if err != nil {
			t.Fatalf("Check of app.conf: %v", err)
		}
		stage, cleanup, err := Stage(p, dir, stagingIn(t))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Validate(context.Background(), c.Validate, stage, nil, 10*time.Second)
		cleanup()
		if tt.pass != (err == nil) {
			t.Errorf("port=%s: validate err = %v, want pass %v", tt.value, err, tt.pass)
		}
	}
}

func TestProtectGlobMatching(t *testing.T) {
	tests := []struct {
		glob string
		in   []string
		out  []string
	}{
		{"*.key", []string{"a.key", ".key", "a.key/x"}, []string{"d/a.key", "a.keys"}},
		{"**/*.key", []string{"a.key", "d/a.key", "d/e/a.key"}, []string{"a.keys", "d/a.key.bak"}},
		{"secrets/**", []string{"secrets", "secrets/a", "secrets/a/b"}, []string{"secret", "x/secrets/a"}},
		{"**", []string{"a", "a/b"}, nil},
		{"a/**/z", []string{"a/z", "a/b/z", "a/b/c/z", "a/b/z/x"}, []string{"a/b", "z"}},
		{"bin", []string{"bin", "bin/x"}, []string{"binx", "x/bin"}},
		{"[ab]?.sh", []string{"a1.sh", "bz.sh"}, []string{"c1.sh", "a.sh"}},
		{`\*`, []string{"*"}, []string{"x"}},
	}
	for _, tt := range tests {
		if err := config.ValidProtectGlob(tt.glob); err != nil {
			t.Errorf("ValidProtectGlob(%q): %v", tt.glob, err)
		}
		p := Protection{Glob: tt.glob}
		for _, n := range tt.in {
			if !p.covers(n) {
				t.Errorf("glob %q does not cover %q", tt.glob, n)
			}
		}
		for _, n := range tt.out {
			if p.covers(n) {
				t.Errorf("glob %q covers %q", tt.glob, n)
			}
		}
	}
}

func TestShellWords(t *testing.T) {
	got := shellWords("A=1 ./a 'x y' \"q \\\"z\\\"\" 2>/dev/null | b >out; c && d\n# ./not\ne $(./f g) `./h` \\\n  cont\n")
	want := `[[A=1 ./a x y q "z"] [b] [c] [d] [./f g] [./h] [e $(./f g) ` + "`./h`" + ` cont]]`
	if fmt.Sprint(got) != want {
		t.Errorf("shellWords =\n%v\nwant\n%s", got, want)
	}
}

// TestShellWordsParsesWhatASplitterMisread: texts a hand-written splitter
// read wrong (here-documents read as commands, $'..' kept as written, a
// ")" or "#" inside quotes ending a substitution), read as the shell does.
func TestShellWordsParsesWhatASplitterMisread(t *testing.T) {
	type cmds = [][]string
	tests := []struct {
		name, text string
		want       cmds
	}{
		{"a here-document is data", "cat <<EOF >out\n./not-run arg\nEOF\n./next\n", cmds{{"cat"}, {"./next"}}},
		{"a quoted here-document delimiter", "cat <<-'EOF'\n\t$(./not-run)\n\tEOF\n", cmds{{"cat"}}},
		{"a here-document fed to a shell runs", "sh -e <<EOF\n./run.sh a\nEOF\n", cmds{{"./run.sh", "a"}, {"sh", "-e"}}},
		{"a here-string is data", "grep -q x <<< './not-run'\n", cmds{{"grep", "-q", "x"}}},
		{"ANSI-C quoting", `$'./a\x2esh' $'\'q\''`, cmds{{"./a.sh", "'q'"}}},
		{"a parenthesis in quotes inside $(..)", `x=$(echo ")" ; ./y) ./z`,
			cmds{{"echo", ")"}, {"./y"}, {`x=$(echo ")" ; ./y)`, "./z"}}},
		{"a comment inside $(..)", "v=$(./a # it's )\n)\n./b\n", cmds{{"./a"}, {"v=$(./a # it's )\n)"}, {"./b"}}},
		{"# inside a word is no comment", "./a#b c#d # ./e\n", cmds{{"./a#b", "c#d"}}},
		{"line continuations", "./a \\\n  b \"c\\\nd\"\n", cmds{{"./a", "b", "cd"}}},
		{"arithmetic is no command", "n=$((1+2)); ./a $((n*2))", cmds{{"n=$((1+2))"}, {"./a", "$((n*2))"}}},
		{"process substitution runs", "diff <(./a) b", cmds{{"./a"}, {"diff", "<(./a)", "b"}}},
		{"function bodies, case arms, loops", "f() { ./a; }\ncase $1 in x) ./b ;; esac\nfor i in ./c; do ./d; done",
			cmds{{"./a"}, {"./b"}, {"./d"}}},
		{"a syntax error stops the reading", "./a\n./b 'unterminated\n./c\n", cmds{{"./a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shellWords(tt.text); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("shellWords(%q) =\n%q\nwant\n%q", tt.text, got, tt.want)
			}
		})
	}
}

// FuzzComponentProtections feeds arbitrary text as a validate command's -c
// string and as the script it runs: the scan must not panic or hang, and
// every path it protects is clean and inside the workdir.
func FuzzComponentProtections(f *testing.F) {
	f.Add("./check.sh", "#!/bin/sh\n. ./lib.sh\n")
	f.Add(`. "$(dirname "$0")/x.sh"; $(./a) `+"`./b`", "include a.mk\ncheck: ; ./c\n\t@./d\n")
	f.Add("sh -c 'sh -c \"./e\"'", "\\\n'unterminated \"")
	f.Add("make -C .. -f x", "source ../../etc/passwd\n")
	f.Fuzz(func(t *testing.T, text, script string) {
		dir := t.TempDir()
		for _, name := range []string{"check.sh", "Makefile"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		c := config.Component{Workdir: dir, Validate: []string{"sh", "-c", text},
			HealthCheck: &razar.HealthCheck{Command: []string{"make", "-f", "Makefile"}}}
		for _, p := range ComponentProtections(c) {
			if p.Glob != "" || p.Why == "" {
				t.Fatalf("protection %+v", p)
			}
			if c, err := cleanRel(p.Path); err != nil || c != p.Path {
				t.Fatalf("protected path %q is not clean and inside the workdir: %v", p.Path, err)
			}
		}
	})
}
