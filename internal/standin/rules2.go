package standin

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// The rules below repair what a file's text alone cannot show broken: a
// path, a directory, a mode, a variable. Each is keyed on what the error,
// the log, the listing or the component's entry says, never on a
// component's name.

var iniLike = map[string]bool{".ini": true, ".cfg": true, ".conf": true, ".toml": true, ".properties": true, ".desktop": true, ".service": true}

// iniSection: a section header that opens with [ and never closes.
func iniSection(f *file) (edit, bool) {
	if !iniLike[path.Ext(f.path)] {
		return edit{}, false
	}
	lines := known(f)
	for _, n := range sortedLines(lines) {
		l := lines[n]
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") && !strings.Contains(t, "]") && len(t) > 1 && !strings.ContainsAny(t[1:], " =:;#") {
			return edit{line: n, del: 1, add: []string{strings.TrimRight(l, " \t") + "]"},
				why: fmt.Sprintf("%s line %d opens the section header %s without its ]; closed it", f.path, n, t)}, true
		}
	}
	return edit{}, false
}

var (
	yamlPair = regexp.MustCompile(`^\s*[A-Za-z_][\w.-]*:(\s|$)`)
	yamlBare = regexp.MustCompile(`^(\s*)([A-Za-z_][\w.-]*)[ \t]+([^\s:#][^:#]*)$`)
)

// yamlColon: in a YAML mapping whose other lines are key: value, a line
// that is "key value".
func yamlColon(f *file) (edit, bool) {
	if ext := path.Ext(f.path); ext != ".yaml" && ext != ".yml" {
		return edit{}, false
	}
	lines := known(f)
	pairs := 0
	for _, l := range lines {
		if yamlPair.MatchString(l) {
			pairs++
		}
	}
	if pairs == 0 {
		return edit{}, false
	}
	for _, n := range sortedLines(lines) {
		if m := yamlBare.FindStringSubmatch(lines[n]); m != nil {
			return edit{line: n, del: 1, add: []string{m[1] + m[2] + ": " + strings.TrimSpace(m[3])},
				why: fmt.Sprintf("%s line %d is %q, not key: value; added the colon", f.path, n, strings.TrimSpace(lines[n]))}, true
		}
	}
	return edit{}, false
}

var relPath = regexp.MustCompile(`(?:\./)?[\w-][\w.-]*(?:/[\w.-]+)+`)

// script reports whether f is a program: a .sh or .py file, or one
// whose first line is a #!.
func script(f *file) bool {
	switch path.Ext(f.path) {
	case ".sh", ".py", ".bash", ".rb", ".pl":
		return true
	}
	return f.full && len(f.lines) > 0 && strings.HasPrefix(f.lines[0], "#!")
}

// wrongPath: a script names a workdir path that the listing does not have,
// while the listing has one a typo away in one of its parts.
func wrongPath(k *knowledge) func(*file) (edit, bool) {
	return func(f *file) (edit, bool) {
		if !f.full || !script(f) || len(k.listing) == 0 {
			return edit{}, false
		}
		have := map[string]bool{}
		for _, p := range k.listing {
			have[p] = true
		}
		for i, l := range f.lines {
			if strings.HasPrefix(strings.TrimSpace(l), "#") {
				continue
			}
			for _, tok := range relPath.FindAllString(l, -1) {
				p := strings.TrimPrefix(tok, "./")
				if have[p] || strings.HasPrefix(p, "..") {
					continue
				}
				if good, ok := sibling(p, k.listing); ok {
					fixed := strings.Replace(tok, p, good, 1)
					return edit{line: i + 1, del: 1, add: []string{strings.Replace(l, tok, fixed, 1)},
						why: fmt.Sprintf("%s line %d names %s, which the workdir does not have; it has %s", f.path, i+1, p, good)}, true
				}
			}
		}
		return edit{}, false
	}
}

// sibling finds the one listed path that differs from p by a typo in one
// of its parts.
func sibling(p string, listing []string) (string, bool) {
	parts := strings.Split(p, "/")
	found := ""
	for _, q := range listing {
		qs := strings.Split(q, "/")
		if len(qs) != len(parts) {
			continue
		}
		diff := 0
		for i := range qs {
			switch {
			case qs[i] == parts[i]:
			case oneTypo(parts[i], qs[i]):
				diff++
			default:
				diff = 2
			}
		}
		if diff == 1 {
			if found != "" {
				return "", false
			}
			found = q
		}
	}
	return found, found != ""
}

var missingDir = regexp.MustCompile(`(?i)\b([\w-][\w.-]*(?:/[\w.-]+)*)/:? *(?:directory )?(?:missing|does not exist|not found|no such file or directory)`)

// missingDirectory: the error says a directory is missing and the listing
// has nothing under it; a .keep file creates it (a diff cannot create an
// empty directory).
func missingDirectory(k *knowledge) (edit, bool) {
	if !k.listed {
		return edit{}, false
	}
	for _, m := range missingDir.FindAllStringSubmatch(k.evidence.String(), -1) {
		d := strings.TrimPrefix(m[1], "./")
		under := false
		for _, p := range k.listing {
			if strings.HasPrefix(p, d+"/") {
				under = true
			}
		}
		if !under && !strings.HasPrefix(d, "..") && !strings.HasPrefix(d, "/") {
			return edit{path: d + "/.keep", create: true, add: []string{"# keeps " + d + "/ in the workdir"},
				why: fmt.Sprintf("the component needs the directory %s/, which the workdir lacks; created it with a .keep file", d)}, true
		}
	}
	return edit{}, false
}

var (
	denied  = regexp.MustCompile(`(?i)(?:exec:? |fork/exec )?"?([\w./-]+)"?: permission denied`)
	command = regexp.MustCompile(`"command":\["([^"]+)"`)
)

// execBit: the command runs a workdir file directly and starting it was
// denied: the file lacks its executable bit.
func execBit(k *knowledge) (edit, bool) {
	ev := k.evidence.String()
	cm := command.FindStringSubmatch(ev)
	if cm == nil || !strings.Contains(cm[1], "/") || strings.HasPrefix(cm[1], "/") {
		return edit{}, false
	}
	prog := strings.TrimPrefix(path.Clean(cm[1]), "./")
	for _, m := range denied.FindAllStringSubmatch(ev, -1) {
		// The error may name it by its absolute path (workdir/run.sh).
		if d := strings.TrimPrefix(path.Clean(m[1]), "./"); d == prog || strings.HasSuffix(d, "/"+prog) {
			return edit{path: prog, mode: true,
				why: fmt.Sprintf("the command runs %s directly and was denied: it lacks its executable bit; set mode 100755", prog)}, true
		}
	}
	return edit{}, false
}

var unset = regexp.MustCompile(`\b([A-Z][A-Z0-9_]{2,})(?:: parameter not set| is not set|: unbound variable| must be set)`)

// unsetVar: the error says a variable is not set; the script that uses it
// gets a default, before its first use.
func unsetVar(k *knowledge) func(*file) (edit, bool) {
	return func(f *file) (edit, bool) {
		if !f.full || !script(f) || path.Ext(f.path) == ".py" {
			return edit{}, false
		}
		for _, m := range unset.FindAllStringSubmatch(k.evidence.String(), -1) {
			v := m[1]
			use := regexp.MustCompile(`\$\{?` + v + `\b`)
			for i, l := range f.lines {
				if !use.MatchString(l) {
					continue
				}
				if strings.Contains(l, v+":-") || strings.HasPrefix(strings.TrimSpace(l), v+"=") {
					break
				}
				return edit{line: i + 1, del: 0, add: []string{v + "=${" + v + ":-" + defaultFor(v) + "}"},
					why: fmt.Sprintf("%s needs %s, which nothing sets; gave it a default before line %d", f.path, v, i+1)}, true
			}
		}
		return edit{}, false
	}
}

// defaultFor is a default for a variable named v: a directory under the
// workdir for a *_DIR or *_PATH, else a placeholder word.
func defaultFor(v string) string {
	l := strings.ToLower(v)
	for _, s := range []string{"_dir", "_path", "_root"} {
		if b, ok := strings.CutSuffix(l, s); ok {
			return "./" + b
		}
	}
	if strings.HasSuffix(l, "port") {
		return "8080"
	}
	return l
}

var commentPort = regexp.MustCompile(`(?i)#.*\bport\b[^0-9\n]*(\d{2,5})\b`)

// commentPorts are the valid ports that comments in the files name ("#
// the gateway's own port: 8454").
func commentPorts(k *knowledge) []int {
	var out []int
	for _, p := range k.order {
		for _, l := range known(k.files[p]) {
			if m := commentPort.FindStringSubmatch(l); m != nil {
				if n, err := strconv.Atoi(m[1]); err == nil && n > 0 && n <= 65535 {
					out = append(out, n)
				}
			}
		}
	}
	return out
}
