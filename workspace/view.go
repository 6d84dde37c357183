package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/logrot"
)

// Limits of what one escalation carries.
const (
	// DefaultBudget is the byte budget of the file texts (RAZAR_CONTEXT_BYTES).
	DefaultBudget = 32 << 10
	// MaxBudget is the largest budget a component or the host may set: the
	// escalation must stay well under the server's max payload.
	MaxBudget = config.MaxContextBudget
	// MaxListing is how many entries the listing shows.
	MaxListing = 500
	// LogTailBytes is how much of the log's end an escalation carries.
	LogTailBytes = 8 << 10
	// MaxFiles is the most file texts one escalation carries.
	MaxFiles = 100
	// fileOverhead is what a file text costs the budget beyond its text
	// and path: its hash, size and why, encoded.
	fileOverhead = 112
	// maxWalk bounds the entries one walk of the workdir visits.
	maxWalk = 100_000
	// fileShare is the most of the budget one file takes when others wait:
	// a large first file does not crowd out the rest.
	fileShare = 2
)

// Options configure a View. The zero value works: the default budget and
// no redaction (a caller that has secrets passes Redact).
type Options struct {
	// Budget is the host's byte budget for file texts
	// (RAZAR_CONTEXT_BYTES); 0 means DefaultBudget. The component's
	// context.max_bytes wins over it.
	Budget int
	// Redact scrubs every text before it is shown: the records' redactor.
	Redact func(string) string
	// Now is the clock for "recently modified"; default time.Now.
	Now func() time.Time
}

// View is one component's workdir seen through the gate. Make it with New.
type View struct {
	comp    config.Component
	home    string
	workdir string
	root    *os.Root
	logPath string
	budget  int
	include []string
	exclude []string
	redact  func(string) string
	now     func() time.Time

	hidden  []string         // RAZAR's own directories when the home is inside the workdir
	files   []razar.FileInfo // every visible file, walk order (lexical)
	dirs    []razar.FileInfo
	skipped int // entries past maxWalk
}

// New opens comp's workdir (absolute, as the boot config resolves it) and
// lists it through the gate. home is the RAZAR home, where the log lives.
// Close releases the workdir. Errors: no workdir, or one that cannot be
// opened.
func New(comp config.Component, home string, opt Options) (*View, error) {
	if comp.Workdir == "" {
		return nil, fmt.Errorf("component %s has no workdir to show", comp.Name)
	}
	root, err := os.OpenRoot(comp.Workdir)
	if err != nil {
		return nil, fmt.Errorf("component %s: workdir %s: %w", comp.Name, comp.Workdir, err)
	}
	v := &View{comp: comp, home: home, workdir: comp.Workdir, root: root, budget: opt.Budget, redact: opt.Redact, now: opt.Now}
	if home != "" {
		v.logPath = razar.Home(home).ComponentLog(comp.Name)
	}
	// A workdir that holds the RAZAR home (a component without a workdir
	// runs in the home) never shows RAZAR's own files: its identities and
	// their seeds, razar.env, the store, other components' logs.
	if home != "" {
		if rel, err := filepath.Rel(comp.Workdir, home); err == nil && (rel == "." || filepath.IsLocal(rel)) {
			for _, d := range razar.Home(rel).Dirs() {
				v.hidden = append(v.hidden, filepath.ToSlash(d))
			}
		}
	}
	if v.budget <= 0 {
		v.budget = DefaultBudget
	}
	if c := comp.Context; c != nil {
		if c.MaxBytes > 0 {
			v.budget = c.MaxBytes
		}
		v.include, v.exclude = c.Include, c.Exclude
	}
	v.budget = min(v.budget, MaxBudget)
	if v.redact == nil {
		v.redact = func(s string) string { return s }
	}
	// The component's own secrets, from its env, wherever they surface
	// (a config file, its log): the records' redactor may not know them.
	if vals := secretEnv(comp.Env); len(vals) > 0 {
		own, _ := razar.NewRedactor(vals, nil)
		outer := v.redact
		v.redact = func(s string) string { return own.Redact(outer(s)) }
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.walk()
	return v, nil
}

// Close releases the workdir.
func (v *View) Close() error { return v.root.Close() }

// Redact scrubs s as every text the view shows: the records' redactor,
// then the component's own secret env values.
func (v *View) Redact(s string) string { return v.redact(s) }

// Budget is the byte budget of the file texts.
func (v *View) Budget() int { return v.budget }

// walk lists the workdir: symlinks, denied entries and what is under a
// denied directory left out.
func (v *View) walk() {
	n := 0
	_ = fs.WalkDir(v.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return nil
		}
		if n++; n > maxWalk {
			v.skipped++
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if why := v.denied(p); why != "" {
			// Only the default deny-list can be lifted below a directory
			// (by an include glob): descend only then.
			if d.IsDir() && (len(v.include) == 0 || !strings.HasPrefix(why, "the deny-list")) {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		fi := razar.FileInfo{Path: p, Size: info.Size(), Modified: info.ModTime().UTC(), Dir: d.IsDir()}
		switch {
		case d.IsDir():
			fi.Size = 0
			v.dirs = append(v.dirs, fi)
		case d.Type().IsRegular():
			v.files = append(v.files, fi)
		}
		return nil
	})
}

// listing is every visible entry, shallow first, then by path.
func (v *View) listing() []razar.FileInfo {
	all := make([]razar.FileInfo, 0, len(v.files)+len(v.dirs))
	all = append(append(all, v.dirs...), v.files...)
	sort.Slice(all, func(i, j int) bool {
		di, dj := strings.Count(all[i].Path, "/"), strings.Count(all[j].Path, "/")
		if di != dj {
			return di < dj
		}
		return all[i].Path < all[j].Path
	})
	return all
}

// Entry is the component's entry as a rung sees it.
func (v *View) Entry() razar.WorkspaceEntry {
	c := v.comp
	e := razar.WorkspaceEntry{Name: c.Name, Command: v.redactAll(c.Command), Validate: v.redactAll(c.Validate), Protect: c.Protect}
	if v.home != "" {
		if rel, err := filepath.Rel(v.home, c.Workdir); err == nil && filepath.IsLocal(rel) {
			e.Workdir = filepath.ToSlash(rel)
		}
	}
	if e.Workdir == "" {
		e.Workdir = filepath.Base(c.Workdir)
	}
	if h := c.HealthCheck; h != nil {
		hc := *h
		hc.Command, hc.HTTP, hc.TCP = v.redactAll(h.Command), v.redact(stripUserinfo(h.HTTP)), v.redact(h.TCP)
		e.HealthCheck = &hc
	}
	for k := range c.Env {
		e.Env = append(e.Env, k)
	}
	sort.Strings(e.Env)
	return e
}

// secretEnv are the values of a component's env variables whose names say
// they hold a secret, 8 bytes or longer.
func secretEnv(env map[string]string) []string {
	var out []string
	for k, v := range env {
		up := strings.ToUpper(k)
		for _, w := range []string{"KEY", "TOKEN", "SECRET", "PASS", "PWD", "CREDENTIAL", "AUTH", "DSN", "PRIVATE", "CERT"} {
			if strings.Contains(up, w) && len(strings.TrimSpace(v)) >= 8 {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// stripUserinfo hides a password in a health check's URL.
func stripUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User(razar.Redacted)
	return u.String()
}

func (v *View) redactAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = v.redact(s)
	}
	return out
}

// LogTail is the end of the component's log (at most n bytes, whole
// lines), redacted; "" without one.
func (v *View) LogTail(n int) string {
	if v.logPath == "" {
		return ""
	}
	if fi, err := os.Lstat(v.logPath); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return v.redact(logrot.Tail(v.logPath, 0, int64(n)))
}

// candidate is a file considered for the escalation, and why.
type candidate struct {
	path  string
	why   string
	score int
	mod   time.Time
}

// Build makes the workspace an escalation carries for a failure with
// errText: the entry, the log tail, the listing and the most relevant
// file texts within the budget. It never fails: what cannot be read is
// left out.
func (v *View) Build(errText string) *razar.Workspace {
	w := &razar.Workspace{Entry: v.Entry(), LogTail: v.LogTail(LogTailBytes), Budget: v.budget, Files: []razar.FileText{}}
	list := v.listing()
	if len(list) > MaxListing {
		w.ListingOmitted = len(list) - MaxListing + v.skipped
		list = list[:MaxListing]
	} else if v.skipped > 0 {
		w.ListingOmitted = v.skipped
	}
	w.Listing = list
	left := v.budget
	for _, c := range v.relevant(errText, w.LogTail) {
		if left < 64 || len(w.Files) == MaxFiles {
			w.FilesOmitted++
			continue
		}
		text, r := v.readText(c.path)
		if r != nil {
			continue
		}
		text = v.redact(text)
		share := left
		if len(w.Files) > 0 || c.why != whyNamed {
			share = max(left/fileShare, min(left, 4<<10))
		}
		ft := razar.FileText{Path: c.path, Why: c.why}
		if len(text) > share {
			text, ft.Truncated = cutLines(text, share), true
		}
		if text == "" {
			w.FilesOmitted++
			continue
		}
		ft.Text, ft.Bytes, ft.SHA256 = text, len(text), hash(text)
		w.Files = append(w.Files, ft)
		left -= len(text) + len(c.path) + fileOverhead
	}
	return w
}

// Why a file was chosen.
const (
	whyNamed    = "named in the error or the log"
	whyInclude  = "context.include"
	whyCommand  = "run by the command"
	whyValidate = "run by the validator"
	whyHealth   = "run by the health check"
	whyConfig   = "config"
	whySource   = "source"
	whyText     = "text"
)

// pathLike finds the words of an error or log that may name a file.
var pathLike = regexp.MustCompile(`[A-Za-z0-9_.~/+-]*[A-Za-z0-9_]\.[A-Za-z0-9]{1,8}\b|[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+`)

// relevant orders the files worth showing: named in the error or log
// tail, in context.include, run by the command, validator or health
// check, then small text files by relevance.
func (v *View) relevant(errText, logTail string) []candidate {
	pk := newPicker(v.files)
	// Named in the error first, then in the log, newest mention first.
	for _, text := range []string{errText, logTail} {
		pk.addNamed(text, v.workdir)
	}
	for _, g := range v.include {
		for _, f := range v.files {
			if config.GlobCovers(g, f.Path) {
				pk.add(f.Path, whyInclude)
			}
		}
	}
	for _, run := range []struct {
		argv []string
		why  string
	}{{v.comp.Command, whyCommand}, {v.comp.Validate, whyValidate}, {healthArgv(v.comp.HealthCheck), whyHealth}} {
		pk.addArgv(run.argv, run.why)
	}
	return append(pk.out, v.scoredRest(pk.seen)...)
}

// picker collects the files relevant picks by name, in order, each once.
type picker struct {
	byPath map[string]razar.FileInfo
	byBase map[string][]string
	seen   map[string]bool
	out    []candidate
}

func newPicker(files []razar.FileInfo) *picker {
	pk := &picker{
		byPath: make(map[string]razar.FileInfo, len(files)),
		byBase: map[string][]string{},
		seen:   map[string]bool{},
	}
	for _, f := range files {
		pk.byPath[f.Path] = f
		b := path.Base(f.Path)
		pk.byBase[b] = append(pk.byBase[b], f.Path)
	}
	return pk
}

// add picks p for why unless it is not in the view, already picked or
// over MaxFileBytes.
func (pk *picker) add(p, why string) {
	if f, ok := pk.byPath[p]; ok && !pk.seen[p] && f.Size <= MaxFileBytes {
		pk.seen[p] = true
		pk.out = append(pk.out, candidate{path: p, why: why, mod: f.Modified})
	}
}

// addNamed picks the files text names, newest mention first: by path
// (relative, or absolute under workdir), else by base name when at most
// three files share it.
func (pk *picker) addNamed(text, workdir string) {
	words := pathLike.FindAllString(text, -1)
	for i := len(words) - 1; i >= 0; i-- {
		w := strings.Trim(words[i], "./")
		if abs := filepath.ToSlash(workdir) + "/"; strings.HasPrefix(words[i], abs) {
			w = strings.TrimPrefix(words[i], abs)
		}
		if _, ok := pk.byPath[w]; ok {
			pk.add(w, whyNamed)
			continue
		}
		if ps := pk.byBase[path.Base(w)]; len(ps) > 0 && len(ps) <= 3 {
			for _, p := range ps {
				pk.add(p, whyNamed)
			}
		}
	}
}

// addArgv picks the files an argv names, as an argument or as the value of
// a "--flag=value" argument.
func (pk *picker) addArgv(argv []string, why string) {
	for _, a := range argv {
		if rel, r := cleanRel(a); r == nil && rel != "." {
			pk.add(rel, why)
		}
		// "python app.py --config=conf/app.yaml"
		if _, val, ok := strings.Cut(a, "="); ok {
			if rel, r := cleanRel(val); r == nil && rel != "." {
				pk.add(rel, why)
			}
		}
	}
}

// scoredRest scores the small text files not already picked and orders
// them best first, then newest, then by path.
func (v *View) scoredRest(seen map[string]bool) []candidate {
	var rest []candidate
	newest := time.Time{}
	for _, f := range v.files {
		if f.Modified.After(newest) {
			newest = f.Modified
		}
	}
	for _, f := range v.files {
		if seen[f.Path] || f.Size == 0 || f.Size > 64<<10 {
			continue
		}
		score, why := kindScore(f.Path)
		if score <= 0 {
			continue
		}
		rest = append(rest, candidate{path: f.Path, why: why, score: score + v.scoreAdjust(f, newest), mod: f.Modified})
	}
	sort.SliceStable(rest, func(i, j int) bool {
		if rest[i].score != rest[j].score {
			return rest[i].score > rest[j].score
		}
		if !rest[i].mod.Equal(rest[j].mod) {
			return rest[i].mod.After(rest[j].mod)
		}
		return rest[i].path < rest[j].path
	})
	return rest
}

// scoreAdjust adjusts a file's kind score: up for recent and small, down for
// depth and noise.
func (v *View) scoreAdjust(f razar.FileInfo, newest time.Time) int {
	score := 0
	if !newest.IsZero() && newest.Sub(f.Modified) < time.Hour {
		score += 2
	}
	if v.now().Sub(f.Modified) < 24*time.Hour {
		score++
	}
	if f.Size < 4<<10 {
		score++
	}
	score -= strings.Count(f.Path, "/")
	if noisy(f.Path) {
		score -= 5
	}
	return score
}

func healthArgv(h *razar.HealthCheck) []string {
	if h == nil {
		return nil
	}
	return h.Command
}

// kindScore rates a file by its kind: config first, then scripts and
// source, then other text; 0 for what is not worth showing unasked.
func kindScore(p string) (int, string) {
	base := strings.ToLower(path.Base(p))
	ext := path.Ext(base)
	switch ext {
	case ".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".conf", ".properties", ".env.example", ".xml":
		return 6, whyConfig
	case ".sh", ".bash", ".py", ".js", ".mjs", ".ts", ".rb", ".pl", ".go", ".lua", ".php":
		return 4, whySource
	case ".txt", ".md", ".service", ".sql", ".csv", ".tmpl", ".tpl":
		return 2, whyText
	case ".lock", ".sum", ".log", ".min.js", ".map":
		return 0, ""
	}
	switch base {
	case "makefile", "dockerfile", "procfile", "requirements.txt", "package.json", "pyproject.toml", "go.mod":
		return 5, whyConfig
	}
	if ext == "" {
		return 2, whyText
	}
	return 0, ""
}

// noisy reports paths of vendored or generated trees.
func noisy(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "node_modules", "vendor", "__pycache__", ".venv", "venv", "dist", "build", "target", ".cache":
			return true
		}
	}
	return false
}

// cutLines cuts text to at most n bytes at a line end (or a rune boundary
// when the first line alone is longer).
func cutLines(text string, n int) string {
	if len(text) <= n {
		return text
	}
	cut := text[:n]
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		return cut[:i+1]
	}
	for n > 0 && !utf8RuneStart(text[n]) {
		n--
	}
	return text[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
