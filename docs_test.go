package razar_test

import (
	"fmt"
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
			if p != "." && (strings.HasPrefix(e.Name(), ".") || e.Name() == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".md", ".yml", ".yaml", ".json", ".sh", ".service", "":
		default:
			return nil
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
