package workspace

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
)

// Bounds of one tool call, after SWE-agent's file viewer and search (a
// window of lines, capped matches) and HolmesGPT's read-only toolsets.
const (
	// ReadWindow is the most lines one read returns.
	ReadWindow = 200
	// ReplyBytes is the most text one reply carries.
	ReplyBytes = 32 << 10
	// MaxMatches is the most lines one search returns.
	MaxMatches = 50
	// SearchBytes is the most file bytes one search scans.
	SearchBytes = 16 << 20
	// SearchTime bounds one search.
	SearchTime = 3 * time.Second
	// LogLines is the default and MaxLogLines the largest tail of a log call.
	LogLines    = 50
	MaxLogLines = 500
	// logScanBytes is how much of the log's end a grep reads.
	logScanBytes = 4 << 20
	// lineCap clips one line of a search or grep match.
	lineCap = 240
)

// Answer is a tool call's reply and what the audit records of it.
type Answer struct {
	Reply   razar.ToolReply
	Verdict string // VerdictOK or a refusal's
	Path    string // the path read, or the glob listed
	Bytes   int    // bytes of text in the reply
}

func refused(r *refusal, p string) Answer {
	return Answer{Reply: razar.ToolReply{Error: r.msg}, Verdict: r.verdict, Path: p}
}

// Serve answers the tools list, read, search and log. Attempt and check
// belong to the orchestrator and are refused here. A refusal has OK false
// and an error worded for a model; nothing refused was read.
func (v *View) Serve(ctx context.Context, req razar.ToolRequest) Answer {
	var a Answer
	switch req.Op {
	case razar.ToolList:
		a = v.list(req.Glob)
	case razar.ToolRead:
		a = v.read(req.Path, req.From, req.To)
	case razar.ToolSearch:
		a = v.search(ctx, req.Pattern, req.Glob)
	case razar.ToolLog:
		a = v.log(req.Lines, req.Pattern)
	default:
		return refused(refuse(VerdictNotServed, "op %q is not one of list, read, search, log", req.Op), "")
	}
	if a.Verdict == "" {
		a.Verdict, a.Reply.OK = VerdictOK, true
	}
	return a
}

// list answers the listing, filtered by glob: a glob without "/" matches
// base names anywhere ("*.yaml"), one with "/" whole paths ("conf/**").
func (v *View) list(glob string) Answer {
	glob = strings.TrimPrefix(strings.TrimSpace(glob), "./")
	if glob != "" {
		if err := config.ValidProtectGlob(glob); err != nil {
			return refused(refuse(VerdictBad, "glob %s; use a workdir-relative glob such as \"*.yaml\" or \"conf/**\", or none for everything", err), glob)
		}
	}
	var out []razar.FileInfo
	total := 0
	for _, f := range v.listing() {
		if glob != "" {
			name := f.Path
			if !strings.Contains(glob, "/") {
				name = path.Base(f.Path)
			}
			if ok, _ := path.Match(glob, name); !ok && !(strings.Contains(glob, "/") && config.GlobMatches(glob, f.Path)) {
				continue
			}
		}
		total++
		if len(out) < MaxListing {
			out = append(out, f)
		}
	}
	a := Answer{Path: glob}
	a.Reply.Entries = out
	switch {
	case total == 0 && glob != "":
		a.Reply.Text = fmt.Sprintf("nothing matches %q; `list` without a glob shows the whole workdir", glob)
	case total > len(out):
		a.Reply.Truncated = true
		a.Reply.Text = fmt.Sprintf("%d entries match; the first %d are shown: narrow the glob", total, len(out))
	}
	return a
}

// read answers a window of a file's lines, numbered.
func (v *View) read(p string, from, to int) Answer {
	rel, r := v.gate(p)
	if r != nil {
		return refused(r, p)
	}
	text, r := v.readText(rel)
	if r != nil {
		return refused(r, rel)
	}
	text = v.redact(text)
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	n := len(lines)
	if from <= 0 {
		from = 1
	}
	if to <= 0 || to > n {
		to = n
	}
	if n == 0 {
		return Answer{Reply: razar.ToolReply{Text: "(" + rel + " is empty)"}, Path: rel}
	}
	if from > n {
		return refused(refuse(VerdictBad, "%s has %d lines; read from a line between 1 and %d", rel, n, n), rel)
	}
	if to < from {
		return refused(refuse(VerdictBad, "to (%d) is before from (%d); give from <= to, or no to for the end", to, from), rel)
	}
	a := Answer{Path: rel}
	last := min(to, from+ReadWindow-1)
	var b strings.Builder
	for i := from; i <= last; i++ {
		line := fmt.Sprintf("%6d\t%s", i, lines[i-1])
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		if b.Len()+len(line) > ReplyBytes {
			last = i - 1
			break
		}
		b.WriteString(line)
	}
	if last < to {
		a.Reply.Truncated = true
		fmt.Fprintf(&b, "(lines %d-%d of %d shown; read from=%d for more)\n", from, last, n, last+1)
	} else if from > 1 || to < n {
		fmt.Fprintf(&b, "(lines %d-%d of %d)\n", from, last, n)
	}
	a.Reply.Text = b.String()
	a.Bytes = b.Len()
	return a
}

// search answers the lines of the workdir's text files that match an RE2
// pattern, capped at MaxMatches, SearchBytes scanned and SearchTime.
func (v *View) search(ctx context.Context, pattern, glob string) Answer {
	q, r := newSearchQuery(pattern, glob)
	if r != nil {
		return refused(r, q.glob)
	}
	ctx, cancel := context.WithTimeout(ctx, SearchTime)
	defer cancel()
	a := Answer{Path: q.glob}
	scanned, files, cut := 0, 0, ""
	for _, f := range v.files {
		if ctx.Err() != nil {
			cut = "the search ran out of time"
			break
		}
		if !q.covers(f) {
			continue
		}
		if scanned+int(f.Size) > SearchBytes {
			cut = fmt.Sprintf("the search stopped after %d bytes", scanned)
			break
		}
		if v.noSymlink(f.Path) != nil {
			continue
		}
		text, r := v.readText(f.Path)
		if r != nil {
			continue
		}
		scanned += len(text)
		files++
		if cut = v.matchLines(&a, q, f.Path, text); cut != "" {
			break
		}
	}
	switch {
	case cut != "":
		a.Reply.Truncated = true
		a.Reply.Text = cut + ": narrow the pattern or give a glob"
	case len(a.Reply.Matches) == 0:
		a.Reply.Text = fmt.Sprintf("no line matches %q in %d text files; try a shorter pattern or `list`", pattern, files)
	}
	return a
}

// searchQuery is a checked search: the line pattern, the same pattern for
// a whole file, and the workdir-relative glob ("" for every file).
type searchQuery struct {
	re, anyLine *regexp.Regexp
	glob        string
}

// newSearchQuery compiles pattern and checks glob, or refuses them; a
// refused glob comes back in the query's glob.
func newSearchQuery(pattern, glob string) (searchQuery, *refusal) {
	if pattern == "" {
		return searchQuery{}, refuse(VerdictBad, "no pattern: give an RE2 regular expression, such as \"port\\\\s*=\"")
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return searchQuery{}, refuse(VerdictBad, "pattern %q is not an RE2 regular expression (%v); escape special characters or search a plain word", pattern, err)
	}
	// The whole-file check that skips a file without a match must read ^
	// and $ at line boundaries, as the line-by-line match below does.
	q := searchQuery{re: re, anyLine: regexp.MustCompile("(?m)" + pattern)}
	q.glob = strings.TrimPrefix(strings.TrimSpace(glob), "./")
	if q.glob != "" {
		if err := config.ValidProtectGlob(q.glob); err != nil {
			return q, refuse(VerdictBad, "glob %s; use a workdir-relative glob such as \"*.yaml\", or none", err)
		}
	}
	return q, nil
}

// covers reports whether the search reads f: within the glob (by base name
// when the glob has no slash), not over MaxFileBytes and not noisy.
func (q searchQuery) covers(f razar.FileInfo) bool {
	if q.glob != "" {
		name := f.Path
		if !strings.Contains(q.glob, "/") {
			name = path.Base(f.Path)
		}
		if ok, _ := path.Match(q.glob, name); !ok && !config.GlobMatches(q.glob, f.Path) {
			return false
		}
	}
	return f.Size <= MaxFileBytes && !noisy(f.Path)
}

// matchLines adds text's matching lines, redacted and clipped, to a; it
// returns why it stopped early ("" when it did not).
func (v *View) matchLines(a *Answer, q searchQuery, file, text string) string {
	if !q.anyLine.MatchString(text) {
		return ""
	}
	for i, line := range strings.Split(text, "\n") {
		if !q.re.MatchString(line) {
			continue
		}
		if len(a.Reply.Matches) == MaxMatches {
			return fmt.Sprintf("more than %d matches", MaxMatches)
		}
		m := razar.Match{Path: file, Line: i + 1, Text: clipLine(v.redact(line))}
		a.Reply.Matches = append(a.Reply.Matches, m)
		a.Bytes += len(m.Text)
	}
	return ""
}

// log answers the tail of the component's log, or its lines matching a
// pattern (the newest MaxMatches).
func (v *View) log(lines int, pattern string) Answer {
	if v.logPath == "" {
		return refused(refuse(VerdictMissing, "no log for component %s", v.comp.Name), "")
	}
	var re *regexp.Regexp
	if pattern != "" {
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return refused(refuse(VerdictBad, "pattern %q is not an RE2 regular expression (%v)", pattern, err), "")
		}
	}
	if lines <= 0 {
		lines = LogLines
	}
	lines = min(lines, MaxLogLines)
	rel := razar.Home("").ComponentLog(v.comp.Name)
	b, early := v.readLogTail(rel)
	if early != nil {
		return *early
	}
	all := logLines(b, re)
	keep := lines
	if re != nil {
		keep = min(lines, MaxMatches)
	}
	a := Answer{Path: rel}
	if len(all) > keep {
		all = all[len(all)-keep:]
		a.Reply.Truncated = true
	}
	text, cut := lastReplyBytes(v.redact(strings.Join(all, "\n")))
	if cut {
		a.Reply.Truncated = true
	}
	if text == "" && re != nil {
		text = fmt.Sprintf("(no line of the log matches %q)", pattern)
	}
	a.Reply.Text, a.Bytes = text, len(text)
	return a
}

// readLogTail reads the last logScanBytes of the log from a whole line on,
// without NULs and as valid UTF-8; or the answer to give instead (rel is
// the log's path in it).
func (v *View) readLogTail(rel string) ([]byte, *Answer) {
	f, err := os.OpenFile(v.logPath, os.O_RDONLY|nofollow, 0)
	if err != nil {
		return nil, &Answer{Reply: razar.ToolReply{Text: "(the log is empty: the component has written nothing yet)"}, Path: rel}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		a := refused(refuse(VerdictMissing, "the log of %s cannot be read", v.comp.Name), rel)
		return nil, &a
	}
	start := max(0, st.Size()-logScanBytes)
	b, err := io.ReadAll(io.NewSectionReader(f, start, st.Size()-start))
	if err != nil {
		a := refused(refuse(VerdictMissing, "the log of %s cannot be read", v.comp.Name), rel)
		return nil, &a
	}
	if start > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return bytes.ToValidUTF8(bytes.ReplaceAll(b, []byte{0}, nil), []byte("\uFFFD")), nil
}

// logLines splits b into clipped lines, only those re matches when re is
// not nil.
func logLines(b []byte, re *regexp.Regexp) []string {
	var all []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if re != nil && !re.MatchString(line) {
			continue
		}
		all = append(all, clipLine(line))
	}
	return all
}

// lastReplyBytes keeps the whole lines within the last ReplyBytes of text,
// reporting whether it cut.
func lastReplyBytes(text string) (string, bool) {
	if len(text) <= ReplyBytes {
		return text, false
	}
	text = text[len(text)-ReplyBytes:]
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
	}
	return text, true
}

func clipLine(s string) string {
	s = strings.TrimRight(s, "\r")
	if len(s) <= lineCap {
		return s
	}
	return cutLines(s, lineCap) + "…"
}
