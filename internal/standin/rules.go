package standin

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// edit replaces del lines from line (1-based) with add.
type edit struct {
	path string
	line int
	del  int
	add  []string
	why  string
	// create makes a new file at path with add as its text; mode gives
	// path the executable bit. Neither has a line.
	create, mode bool
}

// diagnose looks for a failure it knows in the files it was shown, the
// files whose text it has first, in the order it learnt them.
func diagnose(k *knowledge) (edit, bool) {
	paths := append([]string(nil), k.order...)
	sort.SliceStable(paths, func(i, j int) bool { return k.files[paths[i]].full && !k.files[paths[j]].full })
	words := wanted(k)
	ports := append(evidencePorts(k), commentPorts(k)...)
	for _, rule := range []func(*file) (edit, bool){
		jsonTrailingComma, pythonColon, shellUnclosed, iniSection, yamlColon,
		func(f *file) (edit, bool) { return keyTypo(f, words) },
		func(f *file) (edit, bool) { return portRange(f, ports) },
		wrongPath(k), unsetVar(k),
	} {
		for _, p := range paths {
			if e, ok := rule(k.files[p]); ok {
				e.path = p
				return e, true
			}
		}
	}
	for _, rule := range []func(*knowledge) (edit, bool){missingDirectory, execBit} {
		if e, ok := rule(k); ok {
			return e, true
		}
	}
	return edit{}, false
}

// known is a file's lines as number -> text.
func known(f *file) map[int]string {
	if !f.full {
		return f.some
	}
	m := make(map[int]string, len(f.lines))
	for i, l := range f.lines {
		m[i+1] = l
	}
	return m
}

func sortedLines(m map[int]string) []int {
	ns := make([]int, 0, len(m))
	for n := range m {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	return ns
}

func indent(s string) string { return s[:len(s)-len(strings.TrimLeft(s, " \t"))] }

// jsonTrailingComma: a .json file that does not parse, with a comma before
// a closing brace or bracket.
func jsonTrailingComma(f *file) (edit, bool) {
	if !f.full || path.Ext(f.path) != ".json" || json.Valid([]byte(strings.Join(f.lines, "\n"))) {
		return edit{}, false
	}
	for i, l := range f.lines {
		t := strings.TrimRight(l, " \t")
		if !strings.HasSuffix(t, ",") {
			continue
		}
		for j := i + 1; j < len(f.lines); j++ {
			n := strings.TrimSpace(f.lines[j])
			if n == "" {
				continue
			}
			if strings.HasPrefix(n, "}") || strings.HasPrefix(n, "]") {
				return edit{line: i + 1, del: 1, add: []string{strings.TrimSuffix(t, ",")},
					why: fmt.Sprintf("%s is not valid JSON: a trailing comma on line %d before %q; removed it", f.path, i+1, n[:1])}, true
			}
			break
		}
	}
	return edit{}, false
}

var pyBlock = regexp.MustCompile(`^\s*(?:async\s+)?(?:def|class|if|elif|else|for|while|try|except|finally|with)\b`)

// pythonColon: a Python block line without its colon, the next line
// indented deeper.
func pythonColon(f *file) (edit, bool) {
	if !f.full || path.Ext(f.path) != ".py" {
		return edit{}, false
	}
	for i, l := range f.lines {
		if !pyBlock.MatchString(l) {
			continue
		}
		code := strings.TrimRight(l, " \t")
		if h := strings.Index(code, "#"); h >= 0 {
			code = strings.TrimRight(code[:h], " \t")
		}
		if strings.HasSuffix(code, ":") || strings.HasSuffix(code, "\\") || strings.HasSuffix(code, "(") || strings.HasSuffix(code, ",") {
			continue
		}
		for j := i + 1; j < len(f.lines); j++ {
			if strings.TrimSpace(f.lines[j]) == "" {
				continue
			}
			if len(indent(f.lines[j])) > len(indent(l)) {
				return edit{line: i + 1, del: 1, add: []string{code + ":" + l[len(code):]},
					why: fmt.Sprintf("%s line %d opens a block without its colon (SyntaxError); added it", f.path, i+1)}, true
			}
			break
		}
	}
	return edit{}, false
}

// shellUnclosed: a shell script with an `if` that has no `fi`; the fi goes
// after the if's indented body.
func shellUnclosed(f *file) (edit, bool) {
	if !f.full || (path.Ext(f.path) != ".sh" && !(len(f.lines) > 0 && strings.HasPrefix(f.lines[0], "#!") && strings.Contains(f.lines[0], "sh"))) {
		return edit{}, false
	}
	var open []int // line indexes of unclosed ifs
	for i, l := range f.lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "if ") || t == "if":
			open = append(open, i)
		case t == "fi" || strings.HasPrefix(t, "fi ") || strings.HasPrefix(t, "fi;"):
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		}
	}
	if len(open) == 0 {
		return edit{}, false
	}
	at := open[len(open)-1]
	base := indent(f.lines[at])
	last := at
	for j := at + 1; j < len(f.lines); j++ {
		l := f.lines[j]
		if strings.TrimSpace(l) == "" {
			continue
		}
		if len(indent(l)) <= len(base) {
			break
		}
		last = j
	}
	return edit{line: last + 2, del: 0, add: []string{base + "fi"},
		why: fmt.Sprintf("%s: the if on line %d is never closed (syntax error: unexpected end of file); added its fi", f.path, at+1)}, true
}

var (
	kv   = regexp.MustCompile(`^(\s*)([A-Za-z_][\w.-]*)(\s*[=:]\s*)(.*)$`)
	word = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]{2,}`)
)

func configLike(p string) bool {
	switch path.Ext(p) {
	case ".conf", ".cfg", ".ini", ".properties", ".toml", ".yaml", ".yml", ".env", "":
		return true
	}
	return false
}

// wanted are the words the failure and the scripts around it use: the
// keys a config is expected to have.
func wanted(k *knowledge) map[string]bool {
	w := map[string]bool{}
	add := func(s string) {
		for _, m := range word.FindAllString(s, -1) {
			w[strings.ToLower(m)] = true
		}
	}
	add(k.evidence.String())
	for _, p := range k.order {
		if f := k.files[p]; f.full && !configLike(p) {
			add(strings.Join(f.lines, "\n"))
		}
	}
	return w
}

// keyTypo: a config key one typo away (two letters swapped, one letter
// missing, extra or wrong) from a word the failure or its scripts use,
// while the file has no such key.
func keyTypo(f *file, words map[string]bool) (edit, bool) {
	if !configLike(f.path) {
		return edit{}, false
	}
	lines := known(f)
	keys := map[string]bool{}
	for _, l := range lines {
		if m := kv.FindStringSubmatch(l); m != nil {
			keys[strings.ToLower(m[2])] = true
		}
	}
	for _, n := range sortedLines(lines) {
		m := kv.FindStringSubmatch(lines[n])
		if m == nil {
			continue
		}
		key := strings.ToLower(m[2])
		for _, w := range sortedWords(words) {
			if w == key || keys[w] || !oneTypo(key, w) {
				continue
			}
			return edit{line: n, del: 1, add: []string{m[1] + w + m[3] + m[4]},
				why: fmt.Sprintf("%s line %d sets %q, a typo of %q, which the component needs; renamed the key", f.path, n, m[2], w)}, true
		}
	}
	return edit{}, false
}

func sortedWords(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for w := range m {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

// oneTypo reports whether a and b (each at least 4 letters) differ by two
// adjacent letters swapped, or one letter missing, extra or wrong.
func oneTypo(a, b string) bool {
	if len(a) < 4 || len(b) < 4 {
		return false
	}
	switch len(a) - len(b) {
	case 0:
		var diff []int
		for i := range a {
			if a[i] != b[i] {
				diff = append(diff, i)
			}
		}
		switch len(diff) {
		case 1:
			return true
		case 2:
			i, j := diff[0], diff[1]
			return j == i+1 && a[i] == b[j] && a[j] == b[i]
		}
		return false
	case 1:
		return dropOne(a, b)
	case -1:
		return dropOne(b, a)
	}
	return false
}

// dropOne reports whether removing one byte of long gives short.
func dropOne(long, short string) bool {
	for i := range long {
		if long[:i]+long[i+1:] == short {
			return true
		}
	}
	return false
}

var (
	hostPort = regexp.MustCompile(`(?:127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1\]):(\d{2,5})\b`)
	portFlag = regexp.MustCompile(`--port[ =](\d{2,5})\b`)
)

// evidencePorts are the valid ports the failure mentions (a health
// check's URL, a --port flag).
func evidencePorts(k *knowledge) []int {
	var out []int
	for _, re := range []*regexp.Regexp{hostPort, portFlag} {
		for _, m := range re.FindAllStringSubmatch(k.evidence.String(), -1) {
			if n, err := strconv.Atoi(m[1]); err == nil && n > 0 && n <= 65535 {
				out = append(out, n)
			}
		}
	}
	return out
}

// portRange: a port setting out of 1..65535; the fix is the port the
// failure mentions, preferring one whose digits the bad value starts with,
// else the value with its extra digits dropped.
func portRange(f *file, ports []int) (edit, bool) {
	lines := known(f)
	for _, n := range sortedLines(lines) {
		m := kv.FindStringSubmatch(lines[n])
		if m == nil || !strings.Contains(strings.ToLower(m[2]), "port") {
			continue
		}
		raw := strings.TrimSpace(m[4])
		val := strings.Trim(raw, `"',`)
		v, err := strconv.Atoi(val)
		if err != nil || (v > 0 && v <= 65535) {
			continue
		}
		good := 0
		for _, p := range ports {
			if strings.HasPrefix(val, strconv.Itoa(p)) {
				good = p
				break
			}
		}
		if good == 0 && len(ports) > 0 {
			good = ports[0]
		}
		for good == 0 && v > 65535 {
			v /= 10
			if v > 0 && v <= 65535 {
				good = v
			}
		}
		if good == 0 {
			continue
		}
		newVal := strings.Replace(m[4], val, strconv.Itoa(good), 1)
		return edit{line: n, del: 1, add: []string{m[1] + m[2] + m[3] + newVal},
			why: fmt.Sprintf("%s line %d sets %s to %s, outside 1-65535; set it to %d", f.path, n, m[2], val, good)}, true
	}
	return edit{}, false
}

// unified writes e as a one-hunk unified diff of f: three lines of context
// when the stand-in has the whole file, none when it saw only some lines.
// sloppy writes the hunk header without line numbers.
func unified(f *file, e edit, sloppy bool) string {
	switch {
	case e.mode:
		return fmt.Sprintf("diff --git a/%s b/%s\nold mode 100644\nnew mode 100755\n", e.path, e.path)
	case e.create:
		return creation(e, sloppy)
	}
	return around(f, e).diff(e, sloppy)
}

// creation is the diff that makes file e.path with e.add as its text.
func creation(e edit, sloppy bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- /dev/null\n+++ b/%s\n", e.path)
	if sloppy {
		b.WriteString("@@ ... @@\n")
	} else {
		fmt.Fprintf(&b, "@@ -0,0 +%s @@\n", span(1, len(e.add)))
	}
	for _, l := range e.add {
		b.WriteString("+" + l + "\n")
	}
	return b.String()
}

// hunk is the text of an edit in place: the context lines before it from
// line first, the lines it removes, and the context lines after it.
type hunk struct {
	first                  int
	before, removed, after []string
}

// around is e's hunk in f, with as much context as f.full allows and no
// line RAZAR redacted as context.
func around(f *file, e edit) hunk {
	lines := known(f)
	ctx := 0
	if f.full {
		ctx = 3
	}
	first := e.line
	// A line RAZAR redacted is not the file's text: it cannot be context.
	usable := func(n int) bool { l, ok := lines[n]; return ok && !strings.Contains(l, "[REDACTED]") }
	for first > 1 && e.line-first < ctx {
		if !usable(first - 1) {
			break
		}
		first--
	}
	h := hunk{first: first}
	for n := first; n < e.line; n++ {
		h.before = append(h.before, lines[n])
	}
	for n := e.line; n < e.line+e.del; n++ {
		h.removed = append(h.removed, lines[n])
	}
	for n := e.line + e.del; n < e.line+e.del+ctx; n++ {
		if !usable(n) {
			break
		}
		h.after = append(h.after, lines[n])
	}
	return h
}

// diff writes the hunk as a unified diff that replaces its removed lines
// with e.add; an empty side starts one line before the hunk.
func (h hunk) diff(e edit, sloppy bool) string {
	oldN := len(h.before) + len(h.removed) + len(h.after)
	newN := len(h.before) + len(e.add) + len(h.after)
	oldStart, newStart := h.first, h.first
	if oldN == 0 {
		oldStart = h.first - 1
	}
	if newN == 0 {
		newStart = h.first - 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- a/%s\n+++ b/%s\n", e.path, e.path)
	if sloppy {
		b.WriteString("@@ ... @@\n")
	} else {
		fmt.Fprintf(&b, "@@ -%s +%s @@\n", span(oldStart, oldN), span(newStart, newN))
	}
	for _, l := range h.before {
		b.WriteString(" " + l + "\n")
	}
	for _, l := range h.removed {
		b.WriteString("-" + l + "\n")
	}
	for _, l := range e.add {
		b.WriteString("+" + l + "\n")
	}
	for _, l := range h.after {
		b.WriteString(" " + l + "\n")
	}
	return b.String()
}

func span(start, n int) string {
	if n == 1 {
		return strconv.Itoa(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}
