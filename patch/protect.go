package patch

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"

	"github.com/razar/razar/config"
)

// Protection is one rule of Limits.Protected: workdir paths no patch may
// touch (modify, create, delete, or rename from or to), and why.
type Protection struct {
	// Path is a clean, slash-separated, workdir-relative path: a file, or a
	// directory and everything under it. Empty when Glob is set.
	Path string
	// Glob is a pattern over slash paths with config.ValidProtectGlob's
	// syntax (path.Match per segment, "**" for any number of segments); a
	// path is protected when the glob matches it or one of its parent
	// directories.
	Glob string
	// Why says what the path is, for the rejection: "the validate script
	// (validate: sh -c ./check.sh)", "protect glob \"secrets/**\"".
	Why string
}

// covers reports whether rel, a clean workdir-relative path, falls under p.
func (p Protection) covers(rel string) bool {
	if p.Glob == "" {
		return rel == p.Path || strings.HasPrefix(rel, p.Path+"/")
	}
	return config.GlobCovers(p.Glob, rel)
}

// Bounds on the scan of protected scripts.
const (
	maxScanDepth = 8       // scripts that run or source scripts, nested
	maxScanFiles = 64      // scripts read for one component
	maxScanBytes = 1 << 20 // of one script
)

// ComponentProtections lists what no patch may touch in c's workdir:
//
//   - the programs of its validate command and of its health_check
//     command: argv[0] when it names a file inside the workdir, relative
//     with a slash ("./check.sh", "bin/check", resolved against the
//     workdir as exec does) or absolute; a bare name is looked up in PATH
//     and never protected;
//   - the script an interpreter runs: when argv[0]'s base is sh, bash,
//     dash, zsh, ksh, ash, mksh, python, python3 (or python3.N), perl,
//     ruby or node, its first operand after the options (a bare name
//     counts: interpreters open it relative to the workdir); for
//     "sh -c CMD" every command of CMD is read the same way ("./check.sh"
//     in "sh -c './check.sh'"); for "python -m mod" the module's file and
//     package directory; for make, the file after -f, else GNUmakefile,
//     makefile and Makefile (all three, so a patch cannot add one make
//     would prefer), in the -C directory if one is given. The wrappers
//     env, exec, command, nohup, nice, timeout and time are seen through;
//   - best effort, the files a protected shell script or makefile runs or
//     reads as code: every command line's program given with a slash
//     (". ./lib.sh", "source lib.sh", "./helper", "sh tools/x.sh", a
//     recipe's "./check.sh", a command in a here-document fed to a shell;
//     scripts are read with mvdan.cc/sh's parser, so a here-document fed
//     to anything else is data), a makefile's include lines, recursively up
//     to 8 levels and 64 files; `$(dirname "$0")/x` resolves to the
//     script's directory, other paths built from variables are not
//     followed. Scripts of the other interpreters are not scanned (their
//     imports are not followed);
//   - the file the component's env names in BASH_ENV, which bash sources
//     before any script;
//   - each of c.Protect, a glob (config.ValidProtectGlob).
//
// Data files are never protected by the first three rules: an argument of
// a program that is not an interpreter ("app.conf" in
// "grep -q port=ok app.conf", "nginx.conf" in "nginx -t -c nginx.conf") is
// what a patch is expected to fix, and validation is there to judge it. A
// protected path that is a symlink, or goes through one, protects its
// target inside the workdir too. Paths outside the workdir are left out:
// Check never lets a patch touch them anyway.
func ComponentProtections(c config.Component) []Protection {
	pr := &protector{root: filepath.Clean(c.Workdir), seen: map[string]bool{}, scanned: map[string]bool{}}
	if abs, err := filepath.Abs(pr.root); err == nil {
		pr.root = abs
	}
	pr.real = pr.root
	if real, err := filepath.EvalSymlinks(pr.root); err == nil {
		pr.real = real
	}
	if len(c.Validate) > 0 {
		pr.command(c.Validate, ".", origin{role: "validate", cmdline: commandName(c.Validate)}, 0)
	}
	if hc := c.HealthCheck; hc != nil && len(hc.Command) > 0 {
		pr.command(hc.Command, ".", origin{role: "health-check", cmdline: commandName(hc.Command)}, 0)
	}
	// Non-interactive bash sources $BASH_ENV before any script it runs.
	if f := c.Env["BASH_ENV"]; f != "" {
		if rel, ok := pr.resolve(f, "."); ok {
			pr.add(rel, "the file bash reads at start (env BASH_ENV="+f+")")
		}
	}
	for _, g := range c.Protect {
		pr.out = append(pr.out, Protection{Glob: g, Why: fmt.Sprintf("protect glob %q of the component", g)})
	}
	return pr.out
}

// protector gathers the protections of one component.
type protector struct {
	root    string // the workdir, absolute
	real    string // the workdir with symlinks resolved
	out     []Protection
	seen    map[string]bool // paths already protected
	scanned map[string]bool // scripts already read
}

// origin says where a command comes from, for the Why of what it protects.
type origin struct {
	role    string // "validate" or "health-check"
	cmdline string // the configured command, as errors show it
	parent  string // the protected script the command is in; "" for the configured command
	how     string // what parent does with it: "runs", "sources", "includes"
}

// why describes a file protected as kind ("program", "script", "makefile").
func (o origin) why(kind string) string {
	if o.parent == "" {
		return fmt.Sprintf("the %s %s (%s: %s)", o.role, kind, o.role, o.cmdline)
	}
	return fmt.Sprintf("a file %s %s (%s: %s)", o.parent, o.how, o.role, o.cmdline)
}

// nested is the origin of commands found inside the protected file rel.
func (o origin) nested(rel, how string) origin {
	return origin{role: o.role, cmdline: o.cmdline, parent: rel, how: how}
}

// add protects rel, and the target inside the workdir of any symlink on
// its way.
func (pr *protector) add(rel, why string) {
	if !pr.seen[rel] {
		pr.seen[rel] = true
		pr.out = append(pr.out, Protection{Path: rel, Why: why})
	}
	target, err := filepath.EvalSymlinks(join(pr.real, rel))
	if err != nil {
		return
	}
	if t, ok := pr.inside(target); ok && t != rel && !pr.seen[t] {
		pr.seen[t] = true
		pr.out = append(pr.out, Protection{Path: t, Why: why + ", through symlink " + rel})
	}
}

// inside turns an absolute path into a workdir-relative one, if it is in
// the workdir.
func (pr *protector) inside(abs string) (string, bool) {
	abs = filepath.Clean(abs)
	for _, root := range []string{pr.root, pr.real} {
		if rel, err := filepath.Rel(root, abs); err == nil && rel != "." && filepath.IsLocal(rel) {
			return filepath.ToSlash(rel), true
		}
	}
	return "", false
}

// resolve turns a path a command names, relative to dir (workdir-relative)
// or absolute, into a workdir-relative one, if it is in the workdir.
func (pr *protector) resolve(p, dir string) (string, bool) {
	if p == "" || strings.ContainsAny(p, "$`*?[") {
		return "", false // built at run time: not followed
	}
	var rel string
	if filepath.IsAbs(p) {
		var ok bool
		if rel, ok = pr.inside(p); !ok {
			return "", false
		}
	} else {
		rel = path.Join(dir, filepath.ToSlash(p))
	}
	// Only a name a diff could carry needs protecting.
	if c, err := cleanRel(rel); err != nil || c != rel {
		return "", false
	}
	return rel, true
}

// wrappers run their operand as a command: argument words to skip first.
var wrappers = map[string]func(args []string) int{
	"exec": func(args []string) int { return skipOpts(args, "a") },
	"command": func(args []string) int {
		n := skipOpts(args, "")
		for _, a := range args[:n] {
			if strings.ContainsAny(a, "vV") {
				return len(args) // command -v: a lookup, nothing runs
			}
		}
		return n
	},
	"nohup": func(args []string) int { return skipOpts(args, "") },
	"time":  func(args []string) int { return skipOpts(args, "fo") },
	"nice":  func(args []string) int { return skipOpts(args, "n") },
	"env": func(args []string) int {
		i := skipOpts(args, "uCS")
		for i < len(args) && isAssignment(args[i]) {
			i++
		}
		return i
	},
	"timeout": func(args []string) int {
		i := skipOpts(args, "sk")
		return i + 1 // the duration
	},
}

// skipOpts counts the leading option words of args; the short options in
// withArg take the next word as their argument when it is not attached.
func skipOpts(args []string, withArg string) int {
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return i + 1
		}
		if len(a) < 2 || a[0] != '-' {
			return i
		}
		i++
		if strings.HasPrefix(a, "--") {
			continue
		}
		if last := a[len(a)-1:]; strings.Contains(withArg, last) && strings.Index(a, last) == len(a)-1 {
			i++
		}
	}
	return i
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func isAssignment(w string) bool { return assignment.MatchString(w) }

var (
	pythonName  = regexp.MustCompile(`^python[0-9.]*$`)
	perlCluster = regexp.MustCompile(`^-[a-zA-Z]*[eE]$`)
)

// command protects what argv runs when started in dir.
func (pr *protector) command(argv []string, dir string, o origin, depth int) {
	if depth > maxScanDepth {
		return
	}
	argv = pr.unwrap(argv, dir, o)
	if len(argv) == 0 || argv[0] == "" {
		return
	}
	prog, args := argv[0], argv[1:]
	if strings.Contains(prog, "/") {
		if rel, ok := pr.resolve(prog, dir); ok {
			pr.add(rel, o.why("program"))
			pr.scanByShebang(rel, dir, o, depth)
		}
	}
	name := path.Base(filepath.ToSlash(prog))
	switch {
	case isShell(name):
		pr.shellRun(args, dir, o, depth)
	case pythonName.MatchString(name):
		pr.pythonRun(args, dir, o)
	case name == "perl" || name == "ruby" || name == "node" || name == "nodejs":
		if script := scriptOperand(name, args); script != "" {
			if rel, ok := pr.resolve(script, dir); ok {
				pr.add(rel, o.why("script"))
			}
		}
	case name == "make" || name == "gmake":
		pr.makeRun(args, dir, o, depth)
	}
}

// unwrap strips the wrappers argv starts with (env, nice, ...), protecting
// each one given by path, and returns the command they run: nil when they
// run none.
func (pr *protector) unwrap(argv []string, dir string, o origin) []string {
	for len(argv) > 0 {
		skip, ok := wrappers[path.Base(argv[0])]
		if !ok {
			break
		}
		if strings.Contains(argv[0], "/") {
			if rel, ok := pr.resolve(argv[0], dir); ok {
				pr.add(rel, o.why("program"))
			}
		}
		n := skip(argv[1:])
		if n >= len(argv[1:]) {
			return nil
		}
		argv = argv[1+n:]
	}
	return argv
}

// shellRun protects what a shell with args runs: its -c text, or its
// script and what that script runs.
func (pr *protector) shellRun(args []string, dir string, o origin, depth int) {
	script, text := shellOperand(args)
	switch {
	case text != "":
		pr.shellText(text, dir, o, depth+1)
	case script != "":
		if rel, ok := pr.resolve(script, dir); ok {
			pr.add(rel, o.why("script"))
			pr.scanShell(rel, dir, o, depth+1)
		}
	}
}

// pythonRun protects the script or the -m module's top package (as a
// directory or a .py file) a python with args runs.
func (pr *protector) pythonRun(args []string, dir string, o origin) {
	script, module := pythonOperand(args)
	if script != "" {
		if rel, ok := pr.resolve(script, dir); ok {
			pr.add(rel, o.why("script"))
		}
	}
	if module != "" {
		top, _, _ := strings.Cut(module, ".")
		for _, p := range []string{top, top + ".py"} {
			if rel, ok := pr.resolve(p, dir); ok {
				pr.add(rel, o.why("script"))
			}
		}
	}
}

// makeRun protects the makefiles a make with args reads (its -f files, or
// the default names, in its -C directory) and what their recipes run.
func (pr *protector) makeRun(args []string, dir string, o origin, depth int) {
	files, mdir := makeOperands(args)
	if mdir != "" {
		d, ok := pr.resolve(mdir, dir)
		if !ok {
			return // runs outside the workdir
		}
		dir = d
	}
	if len(files) == 0 {
		files = []string{"GNUmakefile", "makefile", "Makefile"}
	}
	for _, f := range files {
		if rel, ok := pr.resolve(f, dir); ok {
			pr.add(rel, o.why("makefile"))
			pr.scanMake(rel, dir, o, depth+1)
		}
	}
}

func isShell(name string) bool {
	switch name {
	case "sh", "bash", "dash", "zsh", "ksh", "ash", "mksh":
		return true
	}
	return false
}

// shellOperand finds what a shell runs: the script operand, or the text
// of -c. Both are empty when it reads commands from stdin.
func shellOperand(args []string) (script, text string) {
	cmdMode := false
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" {
			i++
			break
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		if strings.HasPrefix(a, "--") {
			if a == "--rcfile" || a == "--init-file" {
				i++
			}
			continue
		}
		letters := a[1:]
		if strings.ContainsRune(letters, 's') {
			return "", ""
		}
		if strings.ContainsRune(letters, 'c') {
			cmdMode = true
		}
		if strings.ContainsAny(letters, "oO") {
			i++ // -o pipefail
		}
	}
	if i >= len(args) {
		return "", ""
	}
	if cmdMode {
		return "", args[i]
	}
	return args[i], ""
}

// pythonOperand finds the script or the -m module python runs.
func pythonOperand(args []string) (script, module string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return args[i+1], ""
			}
			return "", ""
		case a == "-c":
			return "", ""
		case a == "-m":
			if i+1 < len(args) {
				return "", args[i+1]
			}
			return "", ""
		case strings.HasPrefix(a, "-m"):
			return "", a[2:]
		case strings.HasPrefix(a, "-c"):
			return "", ""
		case a == "-W" || a == "-X":
			i++
		case len(a) > 1 && a[0] == '-':
		case a == "-":
			return "", ""
		default:
			return a, ""
		}
	}
	return "", ""
}

// scriptOperand finds the script perl, ruby or node runs: none with -e.
func scriptOperand(name string, args []string) string {
	eval := map[string]bool{"-e": true, "-E": true, "--eval": true, "-p": name == "node", "--print": true}
	withArg := map[string]bool{"-I": true, "-r": true, "--require": true, "-C": name == "ruby", "-M": name == "perl"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		case eval[a] || (name != "node" && perlCluster.MatchString(a)):
			return "" // -ne 'code'

		case withArg[a]:
			i++
		case len(a) > 1 && a[0] == '-':
		case a == "-":
			return ""
		default:
			return a
		}
	}
	return ""
}

// makeOperands finds the makefiles (-f) and directory (-C) of a make command.
func makeOperands(args []string) (files []string, dir string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch {
		case a == "--":
			return files, dir
		case a == "-f" || a == "--file" || a == "--makefile":
			if f := next(); f != "" {
				files = append(files, f)
			}
		case strings.HasPrefix(a, "--file=") || strings.HasPrefix(a, "--makefile="):
			_, f, _ := strings.Cut(a, "=")
			files = append(files, f)
		case a == "-C" || a == "--directory":
			if d := next(); d != "" {
				dir = path.Join(dir, d)
			}
		case strings.HasPrefix(a, "--directory="):
			_, d, _ := strings.Cut(a, "=")
			dir = path.Join(dir, d)
		case a == "-I" || a == "-o" || a == "-W" || a == "--include-dir" || a == "--old-file" || a == "--what-if":
			next()
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--"):
			// Short options clustered; f and C may carry their argument.
			for j := 1; j < len(a); j++ {
				switch a[j] {
				case 'f', 'C':
					arg := a[j+1:]
					if arg == "" {
						arg = next()
					}
					if arg != "" {
						if a[j] == 'f' {
							files = append(files, arg)
						} else {
							dir = path.Join(dir, arg)
						}
					}
					j = len(a)
				case 'I', 'o', 'W', 'j', 'l':
					if j == len(a)-1 && a[j] != 'j' && a[j] != 'l' {
						next()
					}
					j = len(a)
				}
			}
		}
	}
	return files, dir
}

// readScript reads a protected script for scanning, once: nil when it was
// read already, the scan budget is spent, or it is missing or too big.
func (pr *protector) readScript(rel string) []byte {
	if pr.scanned[rel] || len(pr.scanned) >= maxScanFiles {
		return nil
	}
	pr.scanned[rel] = true
	f, err := os.Open(join(pr.real, rel))
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxScanBytes+1))
	if err != nil || len(b) > maxScanBytes {
		return nil
	}
	return b
}

// scanByShebang scans a protected program that is a shell script (a
// shell's #! line, or a text file with none: a shell runs such a file
// itself) or a makefile run with #!/usr/bin/make -f.
func (pr *protector) scanByShebang(rel, dir string, o origin, depth int) {
	f, err := os.Open(join(pr.real, rel))
	if err != nil {
		return
	}
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = head[:n]
	if bytes.IndexByte(head, 0) >= 0 {
		return // a binary
	}
	line, _, _ := bytes.Cut(head, []byte("\n"))
	interp, ok := bytes.CutPrefix(line, []byte("#!"))
	if !ok {
		pr.scanShell(rel, dir, o, depth+1)
		return
	}
	words := strings.Fields(string(interp))
	if len(words) > 0 && path.Base(words[0]) == "env" {
		words = words[1+skipOpts(words[1:], "uCS"):]
	}
	if len(words) == 0 {
		return
	}
	switch name := path.Base(words[0]); {
	case isShell(name):
		pr.scanShell(rel, dir, o, depth+1)
	case name == "make" || name == "gmake":
		pr.scanMake(rel, dir, o, depth+1)
	}
}

// scanShell protects what the shell script rel runs or sources.
func (pr *protector) scanShell(rel, dir string, o origin, depth int) {
	if depth > maxScanDepth {
		return
	}
	b := pr.readScript(rel)
	if b == nil {
		return
	}
	pr.shellCommands(string(b), rel, dir, o.nested(rel, "runs"), depth)
}

// shellText protects what a shell's -c text runs; it counts as the
// configured command itself.
func (pr *protector) shellText(text, dir string, o origin, depth int) {
	if depth > maxScanDepth {
		return
	}
	pr.shellCommands(text, "", dir, o, depth)
}

// shellCommands protects what each command of the shell text runs or
// sources. script is the file the text comes from ("" for -c text), for
// $(dirname "$0").
func (pr *protector) shellCommands(text, script, dir string, o origin, depth int) {
	scriptDir := join(pr.root, dir)
	if script != "" {
		scriptDir = join(pr.root, path.Dir(script))
	}
	for _, words := range shellWords(text) {
		for i, w := range words {
			words[i] = scriptRelative.ReplaceAllLiteralString(w, scriptDir+"/")
		}
		words = skipKeywords(words)
		if len(words) == 0 {
			continue
		}
		if words[0] == "." || words[0] == "source" {
			if len(words) > 1 {
				if rel, ok := pr.resolve(words[1], dir); ok {
					src := o
					if o.parent != "" {
						src = o.nested(o.parent, "sources")
					}
					pr.add(rel, src.why("script"))
					pr.scanShell(rel, dir, o, depth+1)
				}
			}
			continue
		}
		pr.command(words, dir, o, depth+1)
	}
}

// scriptRelative matches the usual ways a script names its own directory.
var scriptRelative = regexp.MustCompile(`^(\$\(dirname +"?\$(0|\{0\})"?\)|\$\{0%/\*\}|` + "`dirname +\"?\\$0\"?`" + `)/`)

// shellKeywords start a command without being its program.
var shellKeywords = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "do": true, "done": true,
	"while": true, "until": true, "!": true, "{": true, "}": true, "time": true, "esac": true,
}

// skipKeywords drops the leading keywords and variable assignments of a
// command; "for" and "case" lines name no program.
func skipKeywords(words []string) []string {
	for len(words) > 0 {
		w := words[0]
		switch {
		case w == "for" || w == "case" || w == "select" || w == "function":
			return nil
		case shellKeywords[w] || isAssignment(w):
			words = words[1:]
		default:
			return words
		}
	}
	return nil
}

// shellWords parses shell text with mvdan.cc/sh's parser and returns its
// simple commands' words, in the order a shell starts them: a command
// substitution's commands ($(..), `..`, <(..)) before the command whose
// word holds it, and the body of a here-document fed to a shell reading
// commands from stdin ("sh <<EOF") before that shell. Literal words come
// back as the shell passes them (quotes and escapes removed, $'..'
// decoded); a word with expansions keeps them as written ("$0",
// `$(dirname "$0")/lib.sh`). Assignments before a command are words of
// their own ("A=1"); redirections, comments, here-document bodies fed to
// anything else and the headers of for, case and select name no command.
// Statements after a syntax error are left out: a shell stops there too.
// The parser reads bash, the widest of the shells a script names, so a
// script for sh, dash or ksh parses too.
func shellWords(text string) [][]string {
	p := syntax.NewParser(syntax.Variant(syntax.LangBash))
	var cmds [][]string
	for stmt, err := range p.StmtsSeq(strings.NewReader(text)) {
		if err != nil {
			break
		}
		cmds = appendCommands(cmds, text, stmt)
	}
	return cmds
}

// appendCommands appends the simple commands under node, children first.
func appendCommands(cmds [][]string, src string, node syntax.Node) [][]string {
	var stack []syntax.Node
	syntax.Walk(node, func(n syntax.Node) bool {
		if n != nil {
			stack = append(stack, n)
			if stmt, ok := n.(*syntax.Stmt); ok {
				if body := shellHeredoc(src, stmt); body != "" {
					cmds = append(cmds, shellWords(body)...)
				}
			}
			return true
		}
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if call, ok := top.(*syntax.CallExpr); ok {
			if words := callWords(src, call); len(words) > 0 {
				cmds = append(cmds, words)
			}
		}
		return true
	})
	return cmds
}

// callWords returns a simple command's assignments and words.
func callWords(src string, call *syntax.CallExpr) []string {
	words := make([]string, 0, len(call.Assigns)+len(call.Args))
	for _, a := range call.Assigns {
		words = append(words, source(src, a))
	}
	for _, w := range call.Args {
		words = append(words, wordText(src, w.Parts))
	}
	return words
}

// shellHeredoc returns the body of the here-document stmt feeds to a
// shell that reads its commands from stdin ("sh <<EOF", "bash -s <<EOF"),
// or "".
func shellHeredoc(src string, stmt *syntax.Stmt) string {
	call, ok := stmt.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) == 0 {
		return ""
	}
	args := make([]string, len(call.Args))
	for i, w := range call.Args {
		args[i] = wordText(src, w.Parts)
	}
	if !isShell(path.Base(args[0])) {
		return ""
	}
	if script, text := shellOperand(args[1:]); script != "" || text != "" {
		return ""
	}
	for _, r := range stmt.Redirs {
		if (r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc) && r.Hdoc != nil {
			// A literal part's End runs past the body to the delimiter:
			// take its Value.
			var b strings.Builder
			for _, p := range r.Hdoc.Parts {
				if lit, ok := p.(*syntax.Lit); ok {
					b.WriteString(lit.Value)
				} else {
					b.WriteString(source(src, p))
				}
			}
			return b.String()
		}
	}
	return ""
}

// wordText resolves a word's parts the way the shell passes a literal
// word: quotes and escapes removed, $'..' decoded. Expansions ($x, ${x},
// $(..), `..`, $((..))) stay as written.
func wordText(src string, parts []syntax.WordPart) string {
	var b strings.Builder
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(p.Value, ""))
		case *syntax.SglQuoted:
			if p.Dollar {
				s, _, _ := expand.Format(nil, p.Value, nil)
				b.WriteString(s)
			} else {
				b.WriteString(p.Value)
			}
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if lit, ok := q.(*syntax.Lit); ok {
					b.WriteString(unescape(lit.Value, "\"$`\\\n"))
				} else {
					b.WriteString(source(src, q))
				}
			}
		default:
			b.WriteString(source(src, p))
		}
	}
	return b.String()
}

// unescape removes the backslashes of s that quote the next byte: any byte
// when special is "" (outside quotes), else only the bytes in special
// (inside double quotes). A backslash before a newline goes with it.
func unescape(s, special string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (special == "" || strings.IndexByte(special, s[i+1]) >= 0) {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// source returns the text of node as written in src.
func source(src string, node syntax.Node) string {
	start, end := int(node.Pos().Offset()), int(node.End().Offset())
	if start < 0 || end > len(src) || start > end {
		return ""
	}
	return src[start:end]
}

// scanMake protects what the makefile rel includes and what its recipes
// run; dir is the directory make runs in.
func (pr *protector) scanMake(rel, dir string, o origin, depth int) {
	if depth > maxScanDepth {
		return
	}
	b := pr.readScript(rel)
	if b == nil {
		return
	}
	b = bytes.ReplaceAll(b, []byte("\\\n"), []byte(" "))
	runs, includes := o.nested(rel, "runs"), o.nested(rel, "includes")
	curdir := join(pr.root, dir)
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		line = strings.NewReplacer("$(CURDIR)", curdir, "${CURDIR}", curdir).Replace(line)
		recipe, isRecipe := strings.CutPrefix(line, "\t")
		if !isRecipe {
			// "target: prerequisites ; recipe"
			if colon := strings.IndexByte(line, ':'); colon >= 0 && !strings.HasPrefix(line[colon:], ":=") {
				_, recipe, isRecipe = strings.Cut(line[colon:], ";")
			}
		}
		if isRecipe {
			recipe = strings.TrimLeft(recipe, "@-+ \t")
			pr.shellCommands(recipe, "", dir, runs, depth)
			continue
		}
		words := strings.Fields(line)
		if len(words) < 2 {
			continue
		}
		switch words[0] {
		case "include", "-include", "sinclude":
			for _, f := range words[1:] {
				if strings.HasPrefix(f, "#") {
					break
				}
				if r, ok := pr.resolve(f, dir); ok {
					pr.add(r, includes.why("makefile"))
					pr.scanMake(r, dir, o, depth+1)
				}
			}
		}
	}
}
