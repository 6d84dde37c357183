package patch

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/razar/razar/internal/cut"
)

// Placement: a rung's text is turned into an exact diff before Check looks
// at it. A model writes hunk headers with wrong numbers or none, paths
// without a/ and b/, context that lost its trailing whitespace; or it sends
// search/replace blocks. normalize finds where each hunk belongs by its
// content and writes the diff git would have written, so that everything
// after it (the path checks, protections, size caps, the exact apply in
// Stage, the hashes) runs unchanged on what will really be applied.

// maxPlaceBytes is the largest file whose hunks are placed by content; a
// larger one gets its hunks as written and must match them exactly.
const maxPlaceBytes = 8 << 20

// placeBudget bounds the lines one Check may scan to place hunks that are
// not at their stated line: each such hunk scans its file once or twice,
// so thousands of sloppy hunks on a large file would take minutes.
const placeBudget = 1 << 25

// maxNotes bounds the notes one Check returns, for the patch record.
const maxNotes = 50

// The most lines of the file a refusal quotes, and how much of each.
const (
	quoteLines = 8
	quoteWidth = 120
)

// normalize turns text, a unified diff or search/replace blocks, into an
// exact diff against the workdir at root, and says how every hunk that
// did not match as written was placed. Text with no file header comes back
// as it is, for Check to refuse. Refusals are *RejectErrors.
func normalize(text, root string, lim Limits) (string, []string, error) {
	lines, crlf := splitLines(text)
	var secs []*section
	var err error
	if isSearchReplace(lines) {
		secs, err = parseSearchReplace(lines)
	} else {
		secs, err = parseDiff(lines)
	}
	if err != nil {
		return "", nil, err
	}
	if len(secs) == 0 {
		return text, nil, nil
	}
	if len(secs) > lim.MaxFiles {
		return "", nil, reject("diff touches %d files, over the limit of %d", len(secs), lim.MaxFiles)
	}
	var notes []string
	budget := placeBudget
	if crlf {
		notes = append(notes, "the diff's CRLF line endings were read as LF")
	}
	var b strings.Builder
	for _, s := range secs {
		if err := s.place(root, lim, &budget, &notes); err != nil {
			return "", nil, err
		}
		s.write(&b)
	}
	if len(notes) > maxNotes {
		notes = append(notes[:maxNotes-1], fmt.Sprintf("and %d more placement notes", len(notes)-maxNotes+1))
	}
	return b.String(), notes, nil
}

// fixGitNames gives a git section's names the a/ and b/ prefixes a model
// left out (git drops the first component of each name, so "app.conf"
// would otherwise name nothing), and adds the "---"/"+++" lines a section
// with hunks needs when only its "diff --git" line named the file.
func (s *section) fixGitNames(notes *[]string) {
	fixed := false
	prefix := func(n, p string) string {
		// a/ and b/, and git's one-letter mnemonic prefixes (i/, w/, c/).
		if n == "" || n == "/dev/null" || strings.HasPrefix(n, `"`) || len(n) > 2 && n[1] == '/' {
			return n
		}
		fixed = true
		return p + n
	}
	rest := strings.TrimPrefix(s.header[0], "diff --git ")
	var a, b string
	switch {
	case strings.HasPrefix(rest, `"`):
	case len(rest)%2 == 1 && rest[len(rest)/2] == ' ' && rest[:len(rest)/2] == rest[len(rest)/2+1:]:
		a, b = rest[:len(rest)/2], rest[len(rest)/2+1:]
	case strings.Count(rest, " ") == 1:
		a, b, _ = strings.Cut(rest, " ")
	}
	if a != "" && (prefix(a, "a/") != a || prefix(b, "b/") != b) {
		a, b = prefix(a, "a/"), prefix(b, "b/")
		s.header[0] = "diff --git " + a + " " + b
	}
	for i, l := range s.header {
		if n, ok := strings.CutPrefix(l, "--- "); ok && n == s.oldName {
			s.oldName = prefix(n, "a/")
			s.header[i] = "--- " + s.oldName
		} else if n, ok := strings.CutPrefix(l, "+++ "); ok && n == s.newName {
			s.newName = prefix(n, "b/")
			s.header[i] = "+++ " + s.newName
		}
	}
	if s.oldName == "" && len(s.hunks) > 0 && a != "" {
		s.oldName, s.newName = a, b
		if s.has("new file mode") {
			s.oldName = "/dev/null"
		}
		if s.has("deleted file mode") {
			s.newName = "/dev/null"
		}
		s.header = append(s.header, "--- "+s.oldName, "+++ "+s.newName)
		fixed = true
	}
	if fixed {
		*notes = append(*notes, sectionName(s)+": file header completed (a/ and b/ prefixes, ---/+++ lines)")
	}
}

// has reports whether the section's git header has a line starting with p.
func (s *section) has(p string) bool {
	return slices.ContainsFunc(s.header, func(l string) bool { return strings.HasPrefix(l, p) })
}

// relName is a header name as Check will read it: in a git diff without
// its first component, as git reads it; in a plain one without its a/ or
// b/.
func relName(n string, git bool) string {
	n = plainName(n)
	if git {
		_, r, _ := strings.Cut(n, "/")
		return r
	}
	if r, ok := strings.CutPrefix(n, "a/"); ok {
		return r
	}
	if r, ok := strings.CutPrefix(n, "b/"); ok {
		return r
	}
	return n
}

// place finds where each hunk of the section goes, reading the file it
// changes from the workdir at root with the same checks Check makes
// before anything is read, and rewrites the hunks exactly.
func (s *section) place(root string, lim Limits, budget *int, notes *[]string) error {
	if s.git {
		s.fixGitNames(notes)
	}
	if len(s.hunks) == 0 {
		return nil
	}
	for _, h := range s.hunks {
		if len(h.lines) == 0 {
			return reject("%s (%s) has no lines", h.name(sectionName(s)), clip(h.header))
		}
	}
	creating := plainName(s.oldName) == "/dev/null" || s.has("new file mode")
	if s.srPath == "" && (creating || s.oldName == "") {
		s.fixCounts(notes)
		return nil
	}
	name := sectionName(s)
	rel, fi, err := s.target(root, lim)
	if err != nil {
		return err
	}
	if done, err := s.placeMissing(name, rel, fi == nil, notes); done {
		return err
	}
	if _, err := regularFile(root, rel); err != nil {
		return err
	}
	if fi.Size() > maxPlaceBytes {
		return s.fixCounts(notes) // too big to search: the hunks must be exact
	}
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return fmt.Errorf("patch: %s: %w", rel, err)
	}
	return s.placeHunks(newFileText(string(data)), name, rel, lim, budget, notes)
}

// target is the workdir file the section's hunks apply to, checked as
// Check checks paths, and what is there (nil when nothing is).
func (s *section) target(root string, lim Limits) (string, fs.FileInfo, error) {
	src := relName(s.oldName, s.git)
	if s.srPath != "" {
		src = s.srPath
	}
	rel, err := cleanRel(src)
	if err != nil {
		return "", nil, err
	}
	if err := protected(rel, lim); err != nil {
		return "", nil, err
	}
	fi, err := inspect(root, rel)
	return rel, fi, err
}

// placeMissing settles a section whose file is missing (done): a
// search/replace block with an empty SEARCH creates it, and so does a
// modification that only adds lines, as a model that means to create a
// file often writes it.
func (s *section) placeMissing(name, rel string, missing bool, notes *[]string) (done bool, err error) {
	if s.srPath != "" {
		s.srHeader(missing)
		if missing {
			if len(s.hunks) != 1 || len(s.hunks[0].old()) != 0 {
				return true, reject("%s: does not exist in the workdir; to create it, send one search/replace block with an empty SEARCH", rel)
			}
			*notes = append(*notes, name+": created by a search/replace block with an empty SEARCH")
			return true, s.fixCounts(notes)
		}
	}
	if !missing || !s.onlyAdds() || plainName(s.newName) == "/dev/null" {
		return false, nil
	}
	for i, l := range s.header {
		if strings.HasPrefix(l, "--- ") {
			s.header[i] = "--- /dev/null"
		}
	}
	if s.git && !s.has("new file mode") {
		s.header = slices.Insert(s.header, 1, "new file mode 100644")
	}
	s.oldName = "/dev/null"
	*notes = append(*notes, name+": does not exist; created")
	s.fixCounts(notes)
	return true, nil
}

// placeHunks places each hunk in f, the file's text, keeping the placed
// ranges sorted in s.busy, and rewrites the section as placed.
func (s *section) placeHunks(f *fileText, name, rel string, lim Limits, budget *int, notes *[]string) error {
	for _, h := range s.hunks {
		if err := f.placeHunk(h, s, name, rel, lim, budget, notes); err != nil {
			return err
		}
		o, _ := h.counts()
		r := [2]int{h.pos, h.pos + o}
		i, _ := slices.BinarySearchFunc(s.busy, r, func(a, b [2]int) int {
			if a[0] != b[0] {
				return a[0] - b[0]
			}
			return a[1] - b[1]
		})
		s.busy = slices.Insert(s.busy, i, r)
	}
	return s.rewrite(f, notes)
}

// protected refuses a path a Protection covers, as checkFile does.
func protected(n string, lim Limits) error {
	for _, prot := range lim.Protected {
		if !prot.covers(n) {
			continue
		}
		if prot.Path != "" && prot.Path != n {
			return reject("%s: protected path, under %s: %s; patches may not touch it", n, prot.Path, prot.Why)
		}
		return reject("%s: protected path: %s; patches may not touch it", n, prot.Why)
	}
	return nil
}

func (s *section) onlyAdds() bool {
	for _, h := range s.hunks {
		for _, l := range h.lines {
			if l.op != '+' && !(l.op == ' ' && l.text == "") {
				return false
			}
		}
	}
	return true
}

// fixCounts rewrites the headers of hunks that are applied as written
// (new files, files too big to search) from their lines. A blank context
// line in a new file is an added blank line a model lost the "+" of.
func (s *section) fixCounts(notes *[]string) error {
	creating := plainName(s.oldName) == "/dev/null"
	for _, h := range s.hunks {
		if creating {
			for i, l := range h.lines {
				if l.op == ' ' && l.text == "" {
					h.lines[i].op = '+'
				}
			}
		}
		o, n := h.counts()
		if creating {
			h.pos = 0
			if o == 0 {
				h.oldStart, h.newStart = 0, min(n, 1)
			}
		} else if h.stated {
			h.pos = max(h.oldStart-1, 0)
		}
		if !h.stated || h.oldCount != o || h.newCount != n {
			if !creating && !h.stated {
				return reject("%s (%s) has no line numbers, and %s is too large to search (over %d bytes): give its exact @@ -line,count +line,count @@ header", h.name(sectionName(s)), h.firstLines(), sectionName(s), maxPlaceBytes)
			}
			if h.stated {
				*notes = append(*notes, fmt.Sprintf("%s: line counts corrected (%s as written)", h.name(sectionName(s)), clip(h.header)))
			}
			h.header = fmt.Sprintf("@@ -%s +%s @@", rng(h.oldStart, o), rng(h.newStart, n))
			if h.heading != "" {
				h.header += " " + h.heading
			}
		}
	}
	return nil
}

func rng(start, count int) string {
	if count == 1 {
		return strconv.Itoa(start)
	}
	return strconv.Itoa(start) + "," + strconv.Itoa(count)
}

// write appends the section, as placed, to b.
func (s *section) write(b *strings.Builder) {
	for _, l := range s.header {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	for _, h := range s.hunks {
		b.WriteString(h.header)
		b.WriteByte('\n')
		for _, l := range h.lines {
			b.WriteByte(l.op)
			b.WriteString(l.text)
			b.WriteByte('\n')
			if l.noEOL {
				b.WriteString("\\ No newline at end of file\n")
			}
		}
	}
}

// fileText is a file's lines for placement: each without its "\n" (a
// "\r" kept), with ids for exact and whitespace-blind comparison.
type fileText struct {
	lines     []string
	noEOL     bool // the last line has no newline
	crlf      bool // most lines end in "\r\n"
	exact     ids
	loose     ids
	exactFile []int
	looseFile []int
}

// ids numbers distinct lines so sequences of lines compare as ints.
type ids map[string]int

func (m ids) id(s string, add bool) int {
	if v, ok := m[s]; ok {
		return v
	}
	if !add {
		return -1
	}
	m[s] = len(m)
	return m[s]
}

func loose(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) }

func newFileText(data string) *fileText {
	f := &fileText{exact: ids{}, loose: ids{}}
	if data != "" {
		f.noEOL = !strings.HasSuffix(data, "\n")
		f.lines = strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	}
	cr := 0
	for _, l := range f.lines {
		f.exactFile = append(f.exactFile, f.exact.id(l, true))
		f.looseFile = append(f.looseFile, f.loose.id(loose(l), true))
		if strings.HasSuffix(l, "\r") {
			cr++
		}
	}
	f.crlf = cr*2 > len(f.lines)
	return f
}

// matches returns up to max starts where want occurs in the file (ids,
// -1 never matching) without overlapping a placed hunk, in file order.
// Rabin-Karp over line ids with a random base: linear in the file.
func matches(file, want []int, busy [][2]int, max int) []int {
	m := len(want)
	if m == 0 || m > len(file) || slices.Contains(want, -1) {
		return nil
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	base := binary.LittleEndian.Uint64(seed[:]) | 1
	var hw, hf, pow uint64 = 0, 0, 1
	for i := range m {
		hw = hw*base + uint64(want[i])
		hf = hf*base + uint64(file[i])
		if i > 0 {
			pow *= base
		}
	}
	var out []int
	for q := 0; ; q++ {
		if hf == hw && slices.Equal(file[q:q+m], want) && free(q, m, busy) {
			out = append(out, q)
			if len(out) == max {
				return out
			}
		}
		if q+m >= len(file) {
			return out
		}
		hf = (hf-uint64(file[q])*pow)*base + uint64(file[q+m])
	}
}

// free reports whether lines [q, q+m) overlap no placed hunk. busy is
// sorted and its ranges disjoint, so their ends are sorted too: only the
// first range ending after q can overlap.
func free(q, m int, busy [][2]int) bool {
	i, _ := slices.BinarySearchFunc(busy, q, func(b [2]int, q int) int {
		if b[1] <= q {
			return -1
		}
		return 1
	})
	return i == len(busy) || busy[i][0] >= q+m || (busy[i][0] == busy[i][1] && busy[i][0] <= q)
}

func (f *fileText) idsOf(lines []string, loosely bool) []int {
	out := make([]int, len(lines))
	for i, l := range lines {
		if loosely {
			out[i] = f.loose.id(loose(l), false)
		} else {
			out[i] = f.exact.id(l, false)
		}
	}
	return out
}

// placeHunk finds where h goes: at its stated line when its context and
// removed lines are there exactly; else the one place they are exactly;
// else the one place they are when trailing whitespace and line endings
// are ignored. Two places, or none, are refusals a model can act on.
func (f *fileText) placeHunk(h *hunk, s *section, name, rel string, lim Limits, budget *int, notes *[]string) error {
	busy := s.busy
	old := h.old()
	n := len(f.lines)
	if len(old) == 0 {
		return f.placeAdds(h, name, busy)
	}
	stated := h.oldStart - 1
	wantExact, wantLoose := f.idsOf(old, false), f.idsOf(old, true)
	at := func(file, want []int) bool {
		return h.stated && stated >= 0 && stated+len(want) <= n && slices.Equal(file[stated:stated+len(want)], want) && free(stated, len(want), busy)
	}
	tier := ""
	switch {
	case at(f.exactFile, wantExact):
		h.pos = stated
	default:
		if *budget -= 2 * n; *budget < 0 {
			return reject("%s (%s) is not at its stated line, and the diff has too many such hunks to search for in files this size: give exact @@ -line,count +line,count @@ headers, or send fewer hunks", h.name(name), h.firstLines())
		}
		ms := matches(f.exactFile, wantExact, busy, 10)
		if len(ms) == 0 {
			tier = "loose"
			if at(f.looseFile, wantLoose) {
				h.pos = stated
				break
			}
			ms = matches(f.looseFile, wantLoose, busy, 10)
		}
		switch len(ms) {
		case 0:
			if at := matches(f.looseFile, wantLoose, nil, 1); len(at) > 0 {
				return reject("%s (%s) matches line %d of %s only where an earlier hunk or block already changes lines: make them one", h.name(name), h.firstLines(), at[0]+1, name)
			}
			return f.noMatch(h, name, rel, wantLoose, lim)
		case 1:
			h.pos = ms[0]
		default:
			return f.ambiguous(h, name, ms)
		}
	}
	f.notePlaced(h, name, stated, tier == "loose", notes)
	return nil
}

// placeAdds places a hunk with only added lines: nothing to find them by
// but the stated line.
func (f *fileText) placeAdds(h *hunk, name string, busy [][2]int) error {
	n := len(f.lines)
	switch {
	case n == 0:
		h.pos = 0
	case h.stated && h.oldStart <= n && free(h.oldStart, 0, busy):
		h.pos = h.oldStart
	default:
		if h.kind != "hunk" {
			return reject("%s (%s) has an empty SEARCH, and %s is not empty: put in SEARCH the lines to replace, or the line to add after and that line again in REPLACE", h.name(name), h.firstLines(), name)
		}
		return reject("%s (%s) only adds lines and %s: include an unchanged line before or after them so it can be placed", h.name(name), h.firstLines(), map[bool]string{true: "its stated line is not in the file", false: "has no line numbers"}[h.stated])
	}
	return nil
}

// notePlaced notes how hunk h was placed when not exactly as written; a
// hunk matched loosely (ignoring trailing whitespace and line endings)
// has the lines it adds take the file's line endings.
func (f *fileText) notePlaced(h *hunk, name string, stated int, loose bool, notes *[]string) {
	switch {
	case h.kind != "hunk":
		*notes = append(*notes, fmt.Sprintf("%s placed at line %d", h.name(name), h.pos+1))
	case !h.stated:
		*notes = append(*notes, fmt.Sprintf("%s had no line numbers; placed at line %d", h.name(name), h.pos+1))
	case h.pos != stated:
		*notes = append(*notes, fmt.Sprintf("%s placed at line %d, not %d as stated", h.name(name), h.pos+1, h.oldStart))
	}
	if o, nw := h.counts(); h.stated && (o != h.oldCount || nw != h.newCount) {
		*notes = append(*notes, fmt.Sprintf("%s: line counts corrected (%s as written)", h.name(name), clip(h.header)))
	}
	if !loose {
		return
	}
	*notes = append(*notes, h.name(name)+" matched ignoring trailing whitespace and line endings")
	for i, l := range h.lines {
		if l.op != '+' {
			continue
		}
		if f.crlf && !strings.HasSuffix(l.text, "\r") {
			h.lines[i].text += "\r"
		} else if !f.crlf {
			h.lines[i].text = strings.TrimSuffix(l.text, "\r")
		}
	}
}

// ambiguous refuses a hunk that matches more than one place.
func (f *fileText) ambiguous(h *hunk, name string, ms []int) error {
	at := make([]string, len(ms))
	for i, q := range ms {
		at[i] = strconv.Itoa(q + 1)
	}
	more := ""
	if len(ms) == 10 {
		more = " or more"
	}
	where := "it has no line numbers"
	if h.stated {
		where = fmt.Sprintf("none at its stated line %d", h.oldStart)
	}
	return reject("%s (%s) matches %d%s places in %s (lines %s) and %s: add unchanged lines around the change so that it matches one place only",
		h.name(name), h.firstLines(), len(ms), more, name, strings.Join(at, ", "), where)
}

// nearest is where the hunk h, whose unchanged and removed lines have
// the loose ids want, comes closest to matching: the offset most of its
// lines vote for (lines found at most 32 times in the file vote), ties to
// the one closer to where it says it goes; and how many lines voted.
func (f *fileText) nearest(h *hunk, want []int) (best, bestVotes int) {
	occ := map[int][]int{}
	for i, id := range f.looseFile {
		if len(occ[id]) <= 32 {
			occ[id] = append(occ[id], i)
		}
	}
	votes := map[int]int{}
	for j, id := range want {
		if id < 0 || len(occ[id]) > 32 {
			continue
		}
		for _, x := range occ[id] {
			votes[x-j]++
		}
	}
	for s, v := range votes {
		if v > bestVotes || (v == bestVotes && closer(s, best, h)) {
			best, bestVotes = s, v
		}
	}
	return best, bestVotes
}

// noMatch refuses a hunk found nowhere, naming the nearest lines: the
// window of the file where most of its lines are, found by letting each of
// its lines vote for the starts it would give (lines found in many places
// say nothing and do not vote).
func (f *fileText) noMatch(h *hunk, name, rel string, want []int, lim Limits) error {
	best, bestVotes := f.nearest(h, want)
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) does not match %s, exactly or ignoring trailing whitespace", h.name(name), h.firstLines(), name)
	if bestVotes == 0 {
		b.WriteString(": none of its unchanged or removed lines is in the file. Copy them from the file as they are")
		return reject("%s", b.String())
	}
	lo, hi := max(best, 0), min(best+len(want), len(f.lines))
	var old []string // as written, with the op
	for _, l := range h.lines {
		if l.op != '+' {
			if h.kind == "hunk" {
				old = append(old, string(l.op)+l.text)
			} else {
				old = append(old, l.text)
			}
		}
	}
	fmt.Fprintf(&b, ". The nearest place is lines %d-%d (%d of its %d unchanged or removed lines match)", lo+1, hi, bestVotes, len(want))
	for j, id := range want {
		x := best + j
		if x < 0 || x >= len(f.lines) {
			fmt.Fprintf(&b, "; its line %q would be past the %s of the file", clip(old[j]), map[bool]string{true: "start", false: "end"}[x < 0])
			break
		}
		if f.looseFile[x] != id {
			fmt.Fprintf(&b, "; its line %q differs from line %d of the file", clip(old[j]), x+1)
			break
		}
	}
	if lim.Quote == nil || !lim.Quote(rel) {
		fmt.Fprintf(&b, ". Read lines %d-%d of %s and copy the unchanged and removed lines exactly", lo+1, hi, name)
		return reject("%s", b.String())
	}
	b.WriteString(". Those lines of the file:")
	for x := lo; x < hi && x < lo+quoteLines; x++ {
		fmt.Fprintf(&b, "\n%6d  %s", x+1, clip(strings.TrimSuffix(f.lines[x], "\r")))
	}
	return reject("%s", b.String())
}

// closer prefers the start nearer the hunk's stated line, then the earlier.
func closer(s, best int, h *hunk) bool {
	if !h.stated {
		return s < best
	}
	d := func(x int) int {
		if x < 0 {
			x = -x
		}
		return x
	}
	return d(s-h.oldStart+1) < d(best-h.oldStart+1) || (d(s-h.oldStart+1) == d(best-h.oldStart+1) && s < best)
}

// clip shortens a line for a message.
func clip(s string) string { return cut.Head(s, quoteWidth, "...") }

// rewrite turns the placed hunks of a section into exact ones: in file
// order, adjacent hunks merged, context and removed lines as the file has
// them, a context line added where a hunk would have no old or no new
// lines, the file's final newline kept unless the diff said otherwise, and
// headers from the real positions.
func (s *section) rewrite(f *fileText, notes *[]string) error {
	name := sectionName(s)
	deleting := plainName(s.newName) == "/dev/null" || s.has("deleted file mode")
	merged := mergeTouching(s.hunks)
	delta := 0
	for k, h := range merged {
		next := len(f.lines)
		if k+1 < len(merged) {
			next = merged[k+1].pos
		}
		delta = s.rewriteHunk(f, h, next, delta, deleting, name, notes)
	}
	if len(merged) < len(s.hunks) {
		*notes = append(*notes, fmt.Sprintf("%s: %d hunks that touch were merged into %d", name, len(s.hunks), len(merged)))
	}
	s.hunks = merged
	return nil
}

// mergeTouching sorts copies of hunks by place and merges the ones that
// touch: [pos, pos+old) ranges that meet.
func mergeTouching(hunks []*hunk) []*hunk {
	hs := slices.Clone(hunks)
	slices.SortStableFunc(hs, func(a, b *hunk) int { return a.pos - b.pos })
	var merged []*hunk
	for _, h := range hs {
		if k := len(merged) - 1; k >= 0 {
			p := merged[k]
			po, _ := p.counts()
			if p.pos+po == h.pos {
				p.lines = append(p.lines, h.lines...) // p.lines is merged's own copy
				continue
			}
		}
		c := *h
		c.lines = slices.Clone(h.lines)
		merged = append(merged, &c)
	}
	return merged
}

// rewriteHunk gives placed hunk h the file's own old lines and newlines,
// an unchanged line to stand on when it would have no old or new lines
// (next is where the following hunk starts), and its header; delta is how
// many lines the hunks before it add, and the result how many with it.
func (s *section) rewriteHunk(f *fileText, h *hunk, next, delta int, deleting bool, name string, notes *[]string) int {
	n := len(f.lines)
	// Old lines as the file has them, their newline as the file has it.
	x := h.pos
	markedOld, markedNew := false, false
	for i, l := range h.lines {
		if l.op != '+' {
			markedOld = markedOld || l.noEOL
			h.lines[i].text = f.lines[x]
			x++
		}
		if l.op != '-' {
			markedNew = markedNew || l.noEOL
		}
		h.lines[i].noEOL = false
	}
	o, nw := h.counts()
	end := h.pos + o
	if (markedOld || markedNew) && end != n {
		*notes = append(*notes, fmt.Sprintf("%s: \"\\ No newline at end of file\" ignored: the hunk does not reach the end of the file", h.name(name)))
	}
	if !deleting && n > 0 && (o == 0 || nw == 0) && !(h.pos == 0 && end == n) {
		// A hunk with no old lines, or none left, needs an unchanged
		// line to stand on: git's reading of "-0,0" and "+0,0" is
		// "create" and "delete the file".
		if end < next {
			h.lines = append(h.lines, hline{op: ' ', text: f.lines[end]})
			end++
		} else {
			h.pos--
			h.lines = slices.Insert(h.lines, 0, hline{op: ' ', text: f.lines[h.pos]})
		}
		o, nw = h.counts()
	}
	if end == n {
		s.lastLine(h, f, markedOld, markedNew, notes)
		o, nw = h.counts()
	}
	oldStart, newStart := h.pos+1, h.pos+delta+1
	if o == 0 {
		oldStart = h.pos
	}
	if nw == 0 {
		newStart = h.pos + delta
	}
	header := fmt.Sprintf("@@ -%s +%s @@", rng(oldStart, o), rng(newStart, nw))
	if h.heading != "" {
		header += " " + h.heading
	}
	h.header = header
	return delta + nw - o
}

// lastLine settles the newline at the end of the file for a hunk that
// reaches it: the old side as the file is; the new side without one when
// the diff marked an added or unchanged last line so, with one when it
// marked only the removed side, and as the file was when it said nothing.
func (s *section) lastLine(h *hunk, f *fileText, markedOld, markedNew bool, notes *[]string) {
	oldNoEOL := f.noEOL
	newNoEOL := markedNew || (!markedOld && f.noEOL)
	lastOld, lastNew := -1, -1
	for i, l := range h.lines {
		if l.op != '+' {
			lastOld = i
		}
		if l.op != '-' {
			lastNew = i
		}
	}
	if !markedOld && !markedNew && f.noEOL && lastNew >= 0 {
		*notes = append(*notes, fmt.Sprintf("%s: %s has no newline at its end; kept so", h.name(sectionName(s)), sectionName(s)))
	}
	out := make([]hline, 0, len(h.lines)+1)
	for i, l := range h.lines {
		o, nw := i == lastOld && oldNoEOL, i == lastNew && newNoEOL
		switch {
		case l.op == ' ' && o != nw:
			// One line on both sides that ends differently: say it twice.
			out = append(out, hline{op: '-', text: l.text, noEOL: o}, hline{op: '+', text: l.text, noEOL: nw})
		case l.op == '+':
			l.noEOL = nw
			out = append(out, l)
		default:
			l.noEOL = o
			out = append(out, l)
		}
	}
	h.lines = out
}
