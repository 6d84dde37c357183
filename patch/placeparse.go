package patch

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Reading a rung's diff as it wrote it: sections (one per file), hunks
// with or without line numbers, and where each ends, without trusting its
// counts. Placing them is place.go's.

// hline is one line of a hunk: op ' ', '-' or '+', its text without the
// newline, and whether the diff marked it "\ No newline at end of file".
type hline struct {
	op    byte
	text  string
	noEOL bool
}

// hunk is one hunk or search/replace block as the rung wrote it, and where
// placement put it.
type hunk struct {
	n      int    // 1-based, per file, in the order written
	kind   string // "hunk" or "search/replace block"
	header string // "@@ ..." as written ("" for blocks)
	// stated is true when the header gives line numbers.
	stated                                 bool
	oldStart, oldCount, newStart, newCount int
	heading                                string // what follows the closing @@
	lines                                  []hline

	pos int // 0-based index of the first old line in the file, once placed
}

func (h *hunk) old() []string {
	var out []string
	for _, l := range h.lines {
		if l.op != '+' {
			out = append(out, l.text)
		}
	}
	return out
}

func (h *hunk) counts() (old, new int) {
	for _, l := range h.lines {
		if l.op != '+' {
			old++
		}
		if l.op != '-' {
			new++
		}
	}
	return old, new
}

// name says which hunk, for notes and refusals.
func (h *hunk) name(file string) string {
	return fmt.Sprintf("%s %d of %s", h.kind, h.n, file)
}

// firstLines quotes the first lines of the hunk a model wrote, so it knows
// which of its hunks a refusal means.
func (h *hunk) firstLines() string {
	var q []string
	for _, l := range h.lines {
		if len(q) == 2 {
			break
		}
		if h.kind == "hunk" {
			q = append(q, strconv.Quote(clip(string(l.op)+l.text)))
		} else if l.op == '-' || len(h.old()) == 0 {
			q = append(q, strconv.Quote(clip(l.text)))
		}
	}
	if len(q) == 0 {
		return "no lines"
	}
	return "first lines " + strings.Join(q, ", ")
}

// section is one file of the rung's text.
type section struct {
	git     bool
	header  []string // lines before the first hunk, as written (CR dropped)
	oldName string   // "--- " name as written, "" when absent
	newName string   // "+++ " name as written
	hunks   []*hunk
	srPath  string // search/replace: the path as written
	// busy are the old-line ranges of the hunks placed so far, sorted.
	busy [][2]int
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$`)

// parseHunkHeader reads "@@ -12,3 +12,4 @@ heading"; anything else that
// starts with "@@" ("@@ ... @@", "@@") is a hunk without numbers.
func parseHunkHeader(line string) *hunk {
	h := &hunk{kind: "hunk", header: line}
	m := hunkHeader.FindStringSubmatch(line)
	if m == nil {
		return h
	}
	num := func(s string, def int) (int, bool) {
		if s == "" {
			return def, true
		}
		v, err := strconv.Atoi(s)
		return v, err == nil && v < 1<<30
	}
	var ok [4]bool
	h.oldStart, ok[0] = num(m[1], 0)
	h.oldCount, ok[1] = num(m[2], 1)
	h.newStart, ok[2] = num(m[3], 0)
	h.newCount, ok[3] = num(m[4], 1)
	h.stated = ok[0] && ok[1] && ok[2] && ok[3]
	h.heading = m[5]
	return h
}

// splitLines splits text into lines without their "\n". When every line
// ends in "\r" the text came through something that wrote CRLF: the "\r"s
// are dropped and crlf is true.
func splitLines(text string) (lines []string, crlf bool) {
	lines = strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	crlf = len(lines) > 0
	for _, l := range lines {
		if !strings.HasSuffix(l, "\r") {
			crlf = false
			break
		}
	}
	if crlf {
		for i, l := range lines {
			lines[i] = strings.TrimSuffix(l, "\r")
		}
	}
	return lines, crlf
}

func isFence(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "```") }

// parseDiff reads a unified diff, exact or sloppy, into sections. It returns
// no sections for text with no file header, which Check then refuses as it
// always did.
func parseDiff(lines []string) ([]*section, error) {
	var secs []*section
	var cur *section
	i := 0
	// pairAt: a plain file header, "--- x" then "+++ y".
	pairAt := func(i int) bool {
		return i+1 < len(lines) && strings.HasPrefix(lines[i], "--- ") && strings.HasPrefix(lines[i+1], "+++ ")
	}
	startsFile := func(i int) bool { return strings.HasPrefix(lines[i], "diff --git ") || pairAt(i) }
	for i < len(lines) {
		l := strings.TrimSuffix(lines[i], "\r")
		switch {
		case strings.HasPrefix(l, "diff --git "):
			cur = &section{git: true, header: []string{l}}
			secs = append(secs, cur)
			i++
			// The git header runs to the first hunk or the next file.
			for i < len(lines) && !strings.HasPrefix(lines[i], "@@") && !strings.HasPrefix(lines[i], "diff --git ") {
				if pairAt(i) && cur.oldName != "" {
					break // a second ---/+++ pair: the next file, plain
				}
				hl := strings.TrimSuffix(lines[i], "\r")
				if name, ok := strings.CutPrefix(hl, "--- "); ok && cur.oldName == "" && pairAt(i) {
					cur.oldName = name
					cur.newName = strings.TrimSuffix(strings.TrimPrefix(lines[i+1], "+++ "), "\r")
					cur.header = append(cur.header, hl, "+++ "+cur.newName)
					i += 2
					continue
				}
				cur.header = append(cur.header, hl)
				i++
			}
		case pairAt(i):
			cur = &section{oldName: l[4:], newName: strings.TrimSuffix(lines[i+1][4:], "\r")}
			cur.header = []string{l, "+++ " + cur.newName}
			secs = append(secs, cur)
			i += 2
		case strings.HasPrefix(l, "@@") && cur != nil:
			h := parseHunkHeader(l)
			h.n = len(cur.hunks) + 1
			cur.hunks = append(cur.hunks, h)
			var err error
			if i, err = parseBody(lines, i+1, h, cur, startsFile); err != nil {
				return nil, err
			}
		default:
			i++ // preamble, or what follows a finished hunk: not part of the diff
		}
	}
	return secs, nil
}

// parseBody reads the lines of hunk h from lines[i] and returns the index
// of the first line after it.
func parseBody(lines []string, i int, h *hunk, s *section, startsFile func(int) bool) (int, error) {
	remOld, remNew := h.oldCount, h.newCount
	exhausted := func() bool { return h.stated && remOld <= 0 && remNew <= 0 }
	blanks := 0 // blank lines not yet known to be context
	commit := func() {
		for ; blanks > 0; blanks-- {
			h.lines = append(h.lines, hline{op: ' '})
			remOld--
			remNew--
		}
	}
	for i < len(lines) {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "diff --git "), strings.HasPrefix(l, "@@"):
			return finish(h, i, blanks, remOld, remNew, commit), nil
		case strings.HasPrefix(l, "--- ") && startsFile(i):
			// A removed line "-- x" over an added "++ y" looks like a file
			// header; while the stated counts want more lines, only one
			// followed by a hunk is taken for the next file.
			if !h.stated || exhausted() || (i+2 < len(lines) && strings.HasPrefix(lines[i+2], "@@")) {
				return finish(h, i, blanks, remOld, remNew, commit), nil
			}
		case l == "" || l == "\r":
			blanks++
			i++
			continue
		case l == "-- " && exhausted() && blanks == 0:
			return skipTrailer(lines, i, startsFile), nil // git format-patch's signature
		}
		switch l[0] {
		case ' ', '-', '+':
			commit()
			h.lines = append(h.lines, hline{op: l[0], text: l[1:]})
			if l[0] != '+' {
				remOld--
			}
			if l[0] != '-' {
				remNew--
			}
		case '\\':
			if blanks == 0 && len(h.lines) > 0 {
				h.lines[len(h.lines)-1].noEOL = true
			}
		default:
			if blanks > 0 || isFence(l) || exhausted() || prose(lines, i, startsFile) {
				// The hunk is over: what follows is prose or another
				// tool's lines, up to the next file or hunk.
				finish(h, i, blanks, remOld, remNew, commit)
				return skipTrailer(lines, i, startsFile), nil
			}
			return 0, reject("%s: line %q is not a hunk line: every line of a hunk starts with ' ' (unchanged), '-' (removed) or '+' (added); an unchanged line keeps its leading space", h.name(sectionName(s)), clip(l))
		}
		i++
	}
	return finish(h, i, blanks, remOld, remNew, commit), nil
}

// finish ends a hunk at line i: trailing blank lines are context only when
// the stated counts want exactly them (GNU diff writes an empty context
// line as ""); otherwise they were a separator.
func finish(h *hunk, i, blanks, remOld, remNew int, commit func()) int {
	if h.stated && blanks > 0 && remOld == blanks && remNew == blanks {
		commit()
	}
	return i
}

// prose reports whether lines from i to the next file or hunk have none
// that could be a hunk's: a model's explanation after its diff.
func prose(lines []string, i int, startsFile func(int) bool) bool {
	for ; i < len(lines) && !startsFile(i) && !strings.HasPrefix(lines[i], "@@"); i++ {
		if l := lines[i]; l != "" && strings.ContainsRune(" +-\\", rune(l[0])) {
			return false
		}
	}
	return true
}

// skipTrailer skips lines up to the next file header or hunk.
func skipTrailer(lines []string, i int, startsFile func(int) bool) int {
	for i < len(lines) && !startsFile(i) && !strings.HasPrefix(lines[i], "@@") {
		i++
	}
	return i
}

// sectionName is a section's path for messages, before it is checked.
func sectionName(s *section) string {
	if s.srPath != "" {
		return clip(s.srPath)
	}
	for _, n := range []string{s.newName, s.oldName} {
		if n = plainName(n); n != "" && n != "/dev/null" {
			return clip(strings.TrimPrefix(strings.TrimPrefix(n, "a/"), "b/"))
		}
	}
	if f := strings.Fields(strings.TrimPrefix(s.header[0], "diff --git ")); len(f) > 0 {
		return clip(strings.TrimPrefix(f[len(f)-1], "b/"))
	}
	return "the file"
}

// plainName is a "---"/"+++" name without a timestamp after a tab, and
// unquoted when git quoted it.
func plainName(n string) string {
	if strings.HasPrefix(n, `"`) {
		if q, err := strconv.QuotedPrefix(n); err == nil {
			if u, err := strconv.Unquote(q); err == nil {
				return u
			}
		}
		return n
	}
	n, _, _ = strings.Cut(n, "\t")
	return strings.TrimRightFunc(n, unicode.IsSpace)
}
