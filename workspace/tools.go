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
	if pattern == "" {
		return refused(refuse(VerdictBad, "no pattern: give an RE2 regular expression, such as \"port\\\\s*=\""), "")
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return refused(refuse(VerdictBad, "pattern %q is not an RE2 regular expression (%v); escape special characters or search a plain word", pattern, err), "")
	}
	// The whole-file check that skips a file without a match must read ^
	// and $ at line boundaries, as the line-by-line match below does.
	anyLine := regexp.MustCompile("(?m)" + pattern)
	glob = strings.TrimPrefix(strings.TrimSpace(glob), "./")
	if glob != "" {
		if err := config.ValidProtectGlob(glob); err != nil {
			return refused(refuse(VerdictBad, "glob %s; use a workdir-relative glob such as \"*.yaml\", or none", err), glob)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, SearchTime)
	defer cancel()
	a := Answer{Path: glob}
	scanned, files, cut := 0, 0, ""
	for _, f := range v.files {
		if ctx.Err() != nil {
			cut = "the search ran out of time"
			break
		}
		if glob != "" {
			name := f.Path
			if !strings.Contains(glob, "/") {
				name = path.Base(f.Path)
			}
			if ok, _ := path.Match(glob, name); !ok && !config.GlobMatches(glob, f.Path) {
				continue
			}
		}
		if f.Size > MaxFileBytes || noisy(f.Path) {
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
		if !anyLine.MatchString(text) {
			continue
		}
		for i, line := range strings.Split(text, "\n") {
			if !re.MatchString(line) {
				continue
			}
			if len(a.Reply.Matches) == MaxMatches {
				cut = fmt.Sprintf("more than %d matches", MaxMatches)
				break
			}
			m := razar.Match{Path: f.Path, Line: i + 1, Text: clipLine(v.redact(line))}
			a.Reply.Matches = append(a.Reply.Matches, m)
			a.Bytes += len(m.Text)
		}
		if cut != "" {
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
	f, err := os.OpenFile(v.logPath, os.O_RDONLY|nofollow, 0)
	if err != nil {
		return Answer{Reply: razar.ToolReply{Text: "(the log is empty: the component has written nothing yet)"}, Path: rel}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return refused(refuse(VerdictMissing, "the log of %s cannot be read", v.comp.Name), rel)
	}
	start := max(0, st.Size()-logScanBytes)
	b, err := io.ReadAll(io.NewSectionReader(f, start, st.Size()-start))
	if err != nil {
		return refused(refuse(VerdictMissing, "the log of %s cannot be read", v.comp.Name), rel)
	}
	if start > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	b = bytes.ToValidUTF8(bytes.ReplaceAll(b, []byte{0}, nil), []byte("\uFFFD"))
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
	keep := lines
	if re != nil {
		keep = min(lines, MaxMatches)
	}
	a := Answer{Path: rel}
	if len(all) > keep {
		all = all[len(all)-keep:]
		a.Reply.Truncated = true
	}
	text := v.redact(strings.Join(all, "\n"))
	if len(text) > ReplyBytes {
		text = text[len(text)-ReplyBytes:]
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
		a.Reply.Truncated = true
	}
	if text == "" && re != nil {
		text = fmt.Sprintf("(no line of the log matches %q)", pattern)
	}
	a.Reply.Text, a.Bytes = text, len(text)
	return a
}

func clipLine(s string) string {
	s = strings.TrimRight(s, "\r")
	if len(s) <= lineCap {
		return s
	}
	return cutLines(s, lineCap) + "…"
}
