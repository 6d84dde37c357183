package razar_test

import (
	"fmt"
	"github.com/razar/razar/bus"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The docs live inside the repository and point only inside it: every
// link and every "see docs/X.md section N" of the README, docs/ and the
// messages RAZAR prints resolves in a clone (issue 21 item 6).

// mdDoc is one Markdown file of the repository, parsed for what links
// and references need: its headings' anchors and section numbers.
type mdDoc struct {
	path     string          // slash-separated, relative to the module root
	text     string          // the whole file
	anchors  map[string]bool // GitHub's anchor of each heading, and <a id> anchors
	sections map[string]bool // "3", "5.6": the numbers headings start with
}

var (
	headingRe = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	sectionRe = regexp.MustCompile(`^(\d+(?:\.\d+)*)\.?\s`)
	htmlIDRe  = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	fenceRe   = regexp.MustCompile("^\\s*(```|~~~)")
)

// slug is GitHub's anchor for a heading: lower case, punctuation dropped
// but for '-' and '_', spaces turned to '-'.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// parseMD reads the Markdown file at rel (slash-separated, from the
// module root). Headings inside fenced code blocks are not headings.
func parseMD(t *testing.T, rel string) *mdDoc {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(rel))
	if err != nil {
		t.Fatal(err)
	}
	d := &mdDoc{path: rel, text: string(b), anchors: map[string]bool{}, sections: map[string]bool{}}
	seen := map[string]int{}
	fenced := false
	for line := range strings.Lines(d.text) {
		line = strings.TrimRight(line, "\r\n")
		if fenceRe.MatchString(line) {
			fenced = !fenced
			continue
		}
		for _, m := range htmlIDRe.FindAllStringSubmatch(line, -1) {
			d.anchors[m[1]] = true
		}
		m := headingRe.FindStringSubmatch(line)
		if fenced || m == nil {
			continue
		}
		// The text GitHub slugs is the rendered one: no backticks, link
		// targets dropped.
		title := regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(m[2], "$1")
		title = strings.ReplaceAll(title, "`", "")
		s := slug(title)
		if n := seen[s]; n > 0 {
			d.anchors[s+"-"+strconv.Itoa(n)] = true
		} else {
			d.anchors[s] = true
		}
		seen[s]++
		if sm := sectionRe.FindStringSubmatch(title); sm != nil {
			d.sections[sm[1]] = true
		}
	}
	return d
}

// markdownFiles are the repository's Markdown files, slash-separated
// from the module root (testdata and hidden directories left out).
func markdownFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && p != "." && (strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata" || e.Name() == "bin") {
			return filepath.SkipDir
		}
		if !e.IsDir() && strings.HasSuffix(p, ".md") {
			out = append(out, filepath.ToSlash(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(out, "README.md") || !slices.Contains(out, "docs/CONTRACT.md") {
		t.Fatalf("the walk found %v: no README.md or docs/CONTRACT.md", out)
	}
	return out
}

// docSet caches the parsed Markdown files of one test.
type docSet struct {
	t    *testing.T
	docs map[string]*mdDoc
}

// get returns the parsed file at rel, or nil when there is none.
func (s *docSet) get(rel string) *mdDoc {
	if d, ok := s.docs[rel]; ok {
		return d
	}
	var d *mdDoc
	if fi, err := os.Stat(filepath.FromSlash(rel)); err == nil && !fi.IsDir() && strings.HasSuffix(rel, ".md") {
		d = parseMD(s.t, rel)
	}
	s.docs[rel] = d
	return d
}

var (
	// linkRe is an inline Markdown link or image: [text](target).
	linkRe = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	// docRefRe is a mention of a document, with the sections it names:
	// "docs/PROTOCOL.md §5.6, §8", "CONTRACT.md section 2", "CONTRACT §3".
	docRefRe     = regexp.MustCompile(`\b((?:docs/)?(?:README|[A-Z][A-Z_]+)\.md|CONTRACT|PROTOCOL|RUNBOOK|SECURITY|SCALE|FIXES|SYSTEMD|PERFORMANCE|ARCHITECTURE)\b((?:(?:,|,? and|,? or)?\s*(?:§\s?|sections?\s+)\d+(?:\.\d+)*)*)`)
	sectionNumRe = regexp.MustCompile(`\d+(?:\.\d+)*`)
	// shared is the directory outside the repository old docs cited.
	shared = ".." + "/shared/"
)

// resolveDoc turns a document mention found in file from into a path
// from the module root: "docs/X.md" is from the root, a bare "X.md"
// beside from, else at the root, else in docs/; "CONTRACT" is
// docs/CONTRACT.md.
func resolveDoc(from, name string) []string {
	if !strings.HasSuffix(name, ".md") {
		return []string{"docs/" + name + ".md"}
	}
	if strings.HasPrefix(name, "docs/") || name == "README.md" && !strings.HasPrefix(from, "docs/") {
		return []string{name}
	}
	return []string{path.Join(path.Dir(from), name), name, "docs/" + name}
}

// checkRefs reports each document mention in text (found in from, at
// where) whose file or section does not exist. strict demands a path a
// reader can open: "docs/CONTRACT.md section 2", not "CONTRACT section 2".
func (s *docSet) checkRefs(errorf func(format string, args ...any), from, where, text string, strict bool) {
	for _, m := range docRefRe.FindAllStringSubmatch(text, -1) {
		name, secs := m[1], sectionNumRe.FindAllString(m[2], -1)
		if !strings.HasSuffix(name, ".md") && len(secs) == 0 {
			continue // a word such as SECURITY in a sentence, not a reference
		}
		if strict && !strings.Contains(name, "/") && name != "README.md" {
			errorf("%s: %q names no file a reader can open: write docs/%s.md", where, m[0], strings.TrimSuffix(name, ".md"))
			continue
		}
		var d *mdDoc
		for _, p := range resolveDoc(from, name) {
			if d = s.get(p); d != nil {
				break
			}
		}
		if d == nil {
			errorf("%s: %q: no such file in the repository", where, m[0])
			continue
		}
		for _, n := range secs {
			if !d.sections[n] {
				errorf("%s: %q: %s has no section %s", where, m[0], d.path, n)
			}
		}
	}
}

// lineOf is the 1-based line of offset i in text.
func lineOf(text string, i int) int { return strings.Count(text[:i], "\n") + 1 }

// TestDocLinksResolve: every relative link of every Markdown file names a
// file of the repository, and every #anchor a heading of its target.
func TestDocLinksResolve(t *testing.T) {
	s := &docSet{t: t, docs: map[string]*mdDoc{}}
	links := 0
	for _, rel := range markdownFiles(t) {
		d := s.get(rel)
		for _, m := range linkRe.FindAllStringSubmatchIndex(d.text, -1) {
			target := d.text[m[2]:m[3]]
			where := rel + ":" + strconv.Itoa(lineOf(d.text, m[0]))
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			links++
			file, anchor, _ := strings.Cut(target, "#")
			dest := rel
			if file != "" {
				dest = path.Join(path.Dir(rel), file)
				if strings.HasPrefix(dest, "../") || path.IsAbs(file) {
					t.Errorf("%s: link %q leaves the repository", where, target)
					continue
				}
				if _, err := os.Stat(filepath.FromSlash(dest)); err != nil {
					t.Errorf("%s: link %q: %s does not exist", where, target, dest)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			td := s.get(dest)
			if td == nil {
				t.Errorf("%s: link %q: an anchor into %s, which is not Markdown", where, target, dest)
			} else if !td.anchors[anchor] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", where, target, dest, anchor)
			}
		}
	}
	if links < 10 {
		t.Fatalf("found %d relative links in the docs: the parse is broken", links)
	}
}

// TestDocReferencesResolve: every "docs/X.md section N" (or §N) in the
// Markdown files names a file and a section that exist.
func TestDocReferencesResolve(t *testing.T) {
	s := &docSet{t: t, docs: map[string]*mdDoc{}}
	for _, rel := range markdownFiles(t) {
		d := s.get(rel)
		for i, line := range strings.Split(d.text, "\n") {
			s.checkRefs(t.Errorf, rel, rel+":"+strconv.Itoa(i+1), line, false)
		}
	}
}

// TestDocNothingPointsOutside: no file of the repository cites the
// directory outside it that older docs did; a clone does not have it.
func TestDocNothingPointsOutside(t *testing.T) {
	err := filepath.WalkDir(".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			// bin/ and an example home's state/, logs/ and quarantine/
			// are what a run leaves, not the repository's.
			switch {
			case p == ".":
			case strings.HasPrefix(e.Name(), "."), e.Name() == "bin",
				strings.HasPrefix(p, "examples"+string(filepath.Separator)) && slices.Contains([]string{"state", "logs", "quarantine"}, e.Name()):
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".md", ".yml", ".yaml", ".json", ".sh", ".service", ".env":
		default:
			if e.Name() != "Makefile" {
				return nil
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if i := strings.Index(string(b), shared); i >= 0 {
			t.Errorf("%s:%d cites %s, which a clone of the repository does not have", p, lineOf(string(b), i), shared)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// goStrings returns the string literals of the non-test Go files of the
// module, keyed by "file:line".
func goStrings(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != "." && (strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil {
					out[fset.Position(lit.Pos()).String()] = v
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 1000 {
		t.Fatalf("found %d string literals in the module: the walk is broken", len(out))
	}
	return out
}

// TestDocReferencesInMessagesResolve: a message RAZAR prints that sends
// its reader to a document ("see docs/CONTRACT.md section 2") names a
// file of the repository by its path, and a section it has.
func TestDocReferencesInMessagesResolve(t *testing.T) {
	s := &docSet{t: t, docs: map[string]*mdDoc{}}
	refs := 0
	for where, v := range goStrings(t) {
		if !strings.Contains(v, "see ") && !strings.Contains(v, ".md") && !strings.Contains(v, "§") {
			continue
		}
		if docRefRe.MatchString(v) {
			refs++
		}
		s.checkRefs(t.Errorf, "", where, v, true)
	}
	if refs == 0 {
		t.Fatal("no message names a document: the scan is broken")
	}
}

// TestDocRefCheckerCatches runs the reference checker on made-up text, so
// the tests above are known to fail when a reference breaks.
func TestDocRefCheckerCatches(t *testing.T) {
	for _, tt := range []struct {
		text   string
		strict bool
		want   bool // an error
	}{
		{"see docs/CONTRACT.md section 2 for the fields", true, false},
		{"see docs/CONTRACT.md section 42", true, true},
		{"see docs/NOWHERE.md", false, true},
		{"(docs/PROTOCOL.md §5.6, §8)", false, false},
		{"(docs/PROTOCOL.md §5.6, §88)", false, true},
		{"see CONTRACT section 2", true, true},
		{"see CONTRACT section 2", false, false},
		{"SECURITY warning at boot", true, false},
	} {
		var got []string
		s := &docSet{t: t, docs: map[string]*mdDoc{}}
		s.checkRefs(func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }, "", "test", tt.text, tt.strict)
		if (len(got) > 0) != tt.want {
			t.Errorf("checkRefs(%q, strict %v) = %q, want an error: %v", tt.text, tt.strict, got, tt.want)
		}
	}
	if got := slug("8. Ladder semantics (CONTRACT §3)"); got != "8-ladder-semantics-contract-3" {
		t.Errorf("slug = %q", got)
	}
	if got := slug("3.7 Agent status (KV agent.<name>)"); got != "37-agent-status-kv-agentname" {
		t.Errorf("slug = %q", got)
	}
}

// readmeExempt are the packages the README's table leaves out on purpose,
// each with its reason. Keep it short: a newcomer reads the table to find
// every room of the house.
var readmeExempt = map[string]string{}

// readmePackages returns the packages the README's "Layout" table names,
// as paths from the module root ("." for the root), each with its line.
func readmePackages(t *testing.T) map[string]int {
	t.Helper()
	d := parseMD(t, "README.md")
	_, after, ok := strings.Cut(d.text, "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no \"## Layout\" section")
	}
	base := lineOf(d.text, len(d.text)-len(after))
	if i := strings.Index(after, "\n#"); i >= 0 {
		after = after[:i]
	}
	cell := regexp.MustCompile("`([^`]+)`")
	out := map[string]int{}
	for i, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			p := strings.TrimSuffix(m[1], "/")
			if p == "razar" && strings.Contains(first, "(root)") {
				p = "."
			}
			if prev, dup := out[p]; dup {
				t.Errorf("README.md:%d lists %s again (first at line %d)", base+i, p, prev)
			}
			out[p] = base + i
		}
	}
	return out
}

// TestReadmePackageTable: the README's package table lists exactly the
// module's packages (go list ./...), but for readmeExempt's.
func TestReadmePackageTable(t *testing.T) {
	listed := readmePackages(t)
	var pkgs []string
	for _, p := range strings.Fields(string(goList(t, "./..."))) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, mod), "/")
		if rel == "" {
			rel = "."
		}
		pkgs = append(pkgs, rel)
	}
	for _, p := range pkgs {
		_, exempt := readmeExempt[p]
		switch _, ok := listed[p]; {
		case !ok && !exempt:
			t.Errorf("package %s is missing from README.md's Layout table: add a row saying what it owns", p)
		case ok && exempt:
			t.Errorf("package %s is in README.md's Layout table and in readmeExempt (%s): drop one", p, readmeExempt[p])
		}
	}
	for p, line := range listed {
		if !slices.Contains(pkgs, p) {
			t.Errorf("README.md:%d lists %s, which go list ./... does not know", line, p)
		}
	}
	for p := range readmeExempt {
		if !slices.Contains(pkgs, p) {
			t.Errorf("readmeExempt names %s, which go list ./... does not know", p)
		}
	}
}

// contractSection returns section n ("4") of docs/CONTRACT.md, from its
// heading to the next section's.
func contractSection(t *testing.T, n string) string {
	t.Helper()
	b, err := os.ReadFile("docs/CONTRACT.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## "+n+". ")
	if start < 0 {
		t.Fatalf("docs/CONTRACT.md has no section %s", n)
	}
	text = text[start+1:]
	if end := strings.Index(text, "\n## "); end >= 0 {
		text = text[:end]
	}
	return text
}

// placeholder turns every <token> of a subject into "<>", so a subject
// the code builds and one the contract writes compare by shape.
var placeholder = regexp.MustCompile(`<[^>]*>`)

// contractSubjects are the subjects of the bus, built by bus/, by the
// name of their builder: what docs/CONTRACT.md section 4 must list, no
// more, no less.
func contractSubjects() map[string]string {
	return map[string]string{
		"EscalateSubject":  bus.EscalateSubject("<agent>"),
		"ResultSubject":    bus.ResultSubject("<incident>", "<rung>"),
		"AuditSubject":     bus.AuditSubject("<component>", "<event>"),
		"ContextSubject":   bus.ContextSubject("<incident>", "<rung>"),
		"LifecycleSubject": bus.LifecycleSubject("<verb>", "<component>"),
		"HandshakeSubject": bus.HandshakeSubject("<agent>"),
		"HeartbeatSubject": bus.HeartbeatSubject("<component>"),
		"AgentsReload":     bus.AgentsReload,
		"AlertSubject":     bus.AlertSubject("<severity>"),
		"ProbeSubject":     bus.ProbeSubject("<rung>"),
	}
}

// subjectFilters are exported names of bus/ that build a wildcard, a
// filter or a subject outside razar.>: not a subject of their own.
var subjectFilters = map[string]string{
	"EscalateAll": "wildcard", "ResultAll": "wildcard", "AuditAll": "wildcard", "LifecycleAll": "wildcard",
	"HeartbeatAll": "wildcard", "AlertAll": "wildcard", "ProbeAll": "wildcard", "ContextAll": "wildcard",
	"ResultsOf": "filter of one incident's results", "ContextOf": "a rung's permission on every incident",
	"AuditComponent":       "filter of one component's records",
	"AccountUpdateSubject": "the NATS server's own $SYS subject, not RAZAR's",
	"ParseSubject":         "reads a subject, builds none",
}

// TestDocContractSubjects: docs/CONTRACT.md section 4 lists every subject
// bus/ builds, on the stream it lives on, and no other; a new subject
// builder in bus/ fails here until the contract names it.
func TestDocContractSubjects(t *testing.T) {
	want := contractSubjects()
	// Every exported function or constant of bus/ built from Prefix is
	// a subject above or a filter.
	fset := token.NewFileSet()
	files, err := filepath.Glob("bus/*.go")
	if err != nil {
		t.Fatal(err)
	}
	builders := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, body ast.Node) {
			if !ast.IsExported(name) {
				return
			}
			uses := false
			ast.Inspect(body, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && id.Name == "Prefix" {
					uses = true
				}
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.Contains(lit.Value, "$SYS.") {
					uses = true
				}
				return !uses
			})
			if !uses {
				return
			}
			builders++
			if _, ok := want[name]; !ok && subjectFilters[name] == "" {
				t.Errorf("bus.%s (%s) builds a subject docs/CONTRACT.md section 4 does not list: add a row there and to contractSubjects", name, fset.Position(body.Pos()))
			}
		}
		for _, d := range af.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Body != nil {
					check(d.Name.Name, d.Body)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					if vs, ok := sp.(*ast.ValueSpec); ok && d.Tok == token.CONST {
						for i, n := range vs.Names {
							if i < len(vs.Values) {
								check(n.Name, vs.Values[i])
							}
						}
					}
				}
			}
		}
	}
	if builders < len(want) {
		t.Fatalf("found %d subject builders in bus/, want at least %d: the scan is broken", builders, len(want))
	}

	row := regexp.MustCompile(`(?m)^\| (razar\.[^ |]+)[^|]*\| ([^|]+) \|`)
	listed := map[string]string{} // shape -> kind cell
	for _, m := range row.FindAllStringSubmatch(contractSection(t, "4"), -1) {
		subj := strings.NewReplacer("&lt;", "<", "&gt;", ">").Replace(m[1])
		listed[placeholder.ReplaceAllString(subj, "<>")] = m[2]
	}
	for name, subj := range want {
		shape := placeholder.ReplaceAllString(subj, "<>")
		kind, ok := listed[shape]
		if !ok {
			t.Errorf("docs/CONTRACT.md section 4 does not list %s (bus.%s)", subj, name)
			continue
		}
		delete(listed, shape)
		jet := strings.HasPrefix(kind, "JetStream")
		stream := bus.StreamOf(subj)
		switch {
		case jet && !strings.Contains(kind, "stream "+stream+" ") && !strings.HasSuffix(kind, "stream "+stream):
			t.Errorf("docs/CONTRACT.md section 4 says %s is %q; bus.StreamOf puts it in stream %s", subj, kind, stream)
		case jet && !slices.ContainsFunc(append(bus.StreamSubjects, bus.ResultsStreamSubjects...), func(f string) bool { return subjectMatches(f, subj) }):
			t.Errorf("docs/CONTRACT.md section 4 says %s is on JetStream; no stream captures it", subj)
		case !jet && slices.ContainsFunc(append(bus.StreamSubjects, bus.ResultsStreamSubjects...), func(f string) bool { return subjectMatches(f, subj) }):
			t.Errorf("docs/CONTRACT.md section 4 says %s is %q; a stream captures it", subj, kind)
		}
	}
	for shape := range listed {
		t.Errorf("docs/CONTRACT.md section 4 lists %s, which bus/ does not build", shape)
	}
	for _, name := range []string{bus.StreamName, bus.ResultsStreamName, bus.KVBucket, placeholder.ReplaceAllString(bus.ConsumerName("<name>"), "<name>")} {
		if !strings.Contains(contractSection(t, "4"), name) {
			t.Errorf("docs/CONTRACT.md section 4 does not name %s", name)
		}
	}
}

// subjectMatches reports whether NATS filter f (with * and >) matches
// subject s token by token; a <placeholder> token is any one token.
func subjectMatches(f, s string) bool {
	ft, st := strings.Split(f, "."), strings.Split(s, ".")
	for i, tok := range ft {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || tok != "*" && tok != st[i] {
			return false
		}
	}
	return len(ft) == len(st)
}

// metricNameRe is a metric name RAZAR exports.
var metricNameRe = regexp.MustCompile(`^(razar|chakra)_[a-z_]+[a-z]$`)

// notMetrics are string literals of the sources shaped like a metric name
// that are not one.
var notMetrics = map[string]string{
	"razar_home":   "a label every alert carries (docs/CONTRACT.md section 5)",
	"razar_mirror": "the durable consumer older releases mirrored through",
	"razar_share":  "a field of bench/corpus.json",
}

// TestDocContractMetrics: every metric name the sources define is in
// docs/CONTRACT.md section 6, and every name there is defined in the
// sources; an operator's dashboards and rules rely on that list.
func TestDocContractMetrics(t *testing.T) {
	code := map[string]string{}
	for where, v := range goStrings(t) {
		if metricNameRe.MatchString(v) && notMetrics[v] == "" && !strings.Contains(where, "_test.go") {
			code[v] = where
		}
	}
	if len(code) < 20 {
		t.Fatalf("found %d metric names in the sources: the scan is broken", len(code))
	}
	sec := contractSection(t, "6")
	doc := map[string]bool{}
	for _, m := range regexp.MustCompile("`((?:razar|chakra)_[a-z_]+)").FindAllStringSubmatch(sec, -1) {
		doc[m[1]] = true
	}
	for name, where := range code {
		if !doc[name] {
			t.Errorf("%s (%s) is not in docs/CONTRACT.md section 6", name, where)
		}
	}
	for name := range doc {
		if _, ok := code[name]; !ok {
			t.Errorf("docs/CONTRACT.md section 6 names %s, which no source defines", name)
		}
	}
}

// ruleRow is the row of docs/ARCHITECTURE.md's rules table that stands
// for the rule of pkg: every internal package shares one row, every rung
// another.
func ruleRow(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
	switch {
	case rel == "":
		return "razar"
	case strings.HasPrefix(rel, "internal/"):
		return "internal/*"
	case strings.HasPrefix(rel, "agents/"):
		// A rung's package (or one under it) shares the rungs' row;
		// agents/rotation is not a rung and has a rule of its own.
		if rung, _, _ := strings.Cut(strings.TrimPrefix(rel, "agents/"), "/"); slices.Contains(rungs, rung) {
			return "agents/<rung>"
		}
	}
	return rel
}

// TestDocArchitectureRules: docs/ARCHITECTURE.md's rules table has a row,
// with its why, for every rule deps_test.go enforces, and no row for a
// rule it does not: the table a newcomer reads is the one the build keeps.
func TestDocArchitectureRules(t *testing.T) {
	d := parseMD(t, "docs/ARCHITECTURE.md")
	_, table, ok := strings.Cut(d.text, "| package | may import | must not import | why |\n")
	if !ok {
		t.Fatal("docs/ARCHITECTURE.md has no table headed | package | may import | must not import | why |")
	}
	rows := map[string]bool{}
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 6 || strings.HasPrefix(cells[1], "---") {
			continue
		}
		// One row may stand for several packages: "`alert`, `mirror`".
		names := regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cells[1], -1)
		if len(names) == 0 {
			t.Errorf("docs/ARCHITECTURE.md: a rules row names no `package`: %s", line)
		}
		for _, n := range names {
			if strings.TrimSpace(cells[4]) == "" {
				t.Errorf("docs/ARCHITECTURE.md: the rule of %s has no why", n[1])
			}
			rows[n[1]] = true
		}
	}
	rules := map[string]bool{}
	for _, r := range depRules(t) {
		rules[ruleRow(r.pkg)] = true
	}
	for r := range rules {
		if !rows[r] {
			t.Errorf("deps_test.go has a rule for %s; docs/ARCHITECTURE.md's rules table has no row for it", r)
		}
	}
	for r := range rows {
		if !rules[r] {
			t.Errorf("docs/ARCHITECTURE.md's rules table has a row for %s; deps_test.go has no rule for it", r)
		}
	}
}

// TestDocSubjectsExist: every razar.<kind>.… subject the Markdown files
// name is of a kind bus/ builds, and every razar.lifecycle.<verb> a verb
// it knows, so no doc sends an operator to a subject nobody serves.
func TestDocSubjectsExist(t *testing.T) {
	kinds := map[string]bool{}
	for _, s := range contractSubjects() {
		if kind, _, ok := bus.ParseSubject(s); ok {
			kinds[kind] = true
		}
	}
	// Words shaped like a subject that are file and host names.
	notSubjects := map[string]bool{"rules": true, "ops": true}
	subj := regexp.MustCompile(`\brazar\.([a-z_]+)\.([a-z_]+)?`)
	found := 0
	for _, rel := range markdownFiles(t) {
		d := parseMD(t, rel)
		for _, m := range subj.FindAllStringSubmatchIndex(d.text, -1) {
			kind := d.text[m[2]:m[3]]
			if notSubjects[kind] {
				continue
			}
			found++
			where := rel + ":" + strconv.Itoa(lineOf(d.text, m[0]))
			if !kinds[kind] {
				t.Errorf("%s: %s: bus/ builds no razar.%s.… subject", where, d.text[m[0]:m[1]], kind)
				continue
			}
			if kind == "lifecycle" && m[4] >= 0 {
				if verb := bus.Verb(d.text[m[4]:m[5]]); !slices.Contains(bus.Verbs, verb) {
					t.Errorf("%s: %s: %q is not a lifecycle verb (bus.Verbs)", where, d.text[m[0]:m[1]], verb)
				}
			}
		}
	}
	if found < 20 {
		t.Fatalf("found %d subjects in the docs: the scan is broken", found)
	}
}
