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

// Call is a tool call the stand-in makes.
type Call struct {
	Name string
	Args map[string]any
}

// Turn is the stand-in's answer to one request: tool calls, or the text
// of its final answer.
type Turn struct {
	Calls   []Call
	Content string
}

// maxToolTurns is how many tool turns the stand-in takes before it answers
// with what it has (RAZAR's default budget is 8).
const maxToolTurns = 6

// maxReads bounds the files it reads while looking for the cause.
const maxReads = 8

// file is what the stand-in was shown of one file: all of it, or some
// lines (from a search, or quoted in an error).
type file struct {
	path  string
	lines []string       // the whole text, when full
	some  map[int]string // line number -> text, when not full
	full  bool
}

// knowledge is everything the messages told the stand-in.
type knowledge struct {
	evidence strings.Builder // the error, the log, tool answers: not file texts
	files    map[string]*file
	order    []string // paths in the order they were learnt
	listing  []string
	listed   bool
	read     map[string]bool
	searched map[string]bool
	checked  map[string]string // diff -> "" held, else why not
	told     bool              // RAZAR said a final diff did not hold
	turns    int               // tool turns taken
}

var (
	fileOpen   = regexp.MustCompile(`^=== file: (.+?) \(.*\) ===$`)
	fileClose  = regexp.MustCompile(`^=== end of (.+) ===$`)
	listLine   = regexp.MustCompile(`^\s*([^\s()]+?)(/)?(?: (\d+))?$`)
	searchLine = regexp.MustCompile(`^([^\s:]+):(\d+): ?(.*)$`)
	// quoted is a line an error quotes: "ledger.conf:3: prot=8450".
	quoted   = regexp.MustCompile(`([\w./-]+\.[A-Za-z0-9]+):(\d+): ?([A-Za-z_][\w.-]*\s*[=:]\s*[^\s:]*)`)
	numbered = regexp.MustCompile(`^\s*(\d+)(?:\t|: ?|\| ?| {1,2})(.*)$`)
	named    = regexp.MustCompile(`[\w./-]+\.(?:conf|cfg|ini|json|ya?ml|toml|py|sh|env|properties|txt)\b`)
)

// learn reads the conversation. It looks at nothing else.
func learn(msgs []Message) *knowledge {
	k := &knowledge{files: map[string]*file{}, read: map[string]bool{}, searched: map[string]bool{}, checked: map[string]string{}}
	calls := map[string]ToolCall{}
	for _, m := range msgs {
		text := string(m.Content)
		switch m.Role {
		case "user":
			// Told a diff did not hold, now or by an earlier attempt's
			// rejection in the history: write hunk headers exactly.
			if strings.HasPrefix(text, "RAZAR placed your diff") || strings.Contains(text, `"outcome":"rejected"`) {
				k.told = true
			}
			k.user(text)
		case "assistant":
			if len(m.ToolCalls) > 0 {
				k.turns++
			}
			for _, c := range m.ToolCalls {
				calls[c.ID] = c
				var args map[string]any
				_ = json.Unmarshal([]byte(c.Function.Arguments), &args)
				switch c.Function.Name {
				case "read":
					p, _ := args["path"].(string)
					k.read[p] = true
				case "search":
					p, _ := args["pattern"].(string)
					k.searched[p] = true
				case "list":
					k.listed = true
				}
			}
		case "tool":
			c, ok := calls[m.ToolCallID]
			if !ok {
				continue
			}
			k.tool(c, text)
		}
	}
	for _, q := range quoted.FindAllStringSubmatch(k.evidence.String(), -1) {
		n, _ := strconv.Atoi(q[2])
		k.some(q[1], n, q[3])
	}
	return k
}

// user takes the file texts and the listing out of a user message; the
// rest is evidence.
func (k *knowledge) user(text string) {
	var cur *file
	inListing := false
	for line := range strings.Lines(text) {
		l := strings.TrimRight(line, "\n")
		if cur != nil {
			if m := fileClose.FindStringSubmatch(l); m != nil && m[1] == cur.path {
				cur = nil
				continue
			}
			cur.lines = append(cur.lines, l)
			continue
		}
		if m := fileOpen.FindStringSubmatch(l); m != nil {
			cur = k.whole(m[1], nil)
			continue
		}
		if strings.HasPrefix(l, "the workdir's files") {
			inListing, k.listed = true, true
			continue
		}
		if inListing {
			if m := listLine.FindStringSubmatch(l); m != nil && strings.HasPrefix(l, "  ") {
				if m[2] == "" {
					k.listing = append(k.listing, m[1])
				}
				continue
			}
			inListing = false
		}
		if !boilerplate(l) {
			k.evidence.WriteString(line)
		}
	}
}

// headings are the lines of RAZAR's prompt that frame what it sends; they
// say nothing about the failure.
var headings = []string{"A component failed", "the component's entry", "the tail of its log", "the workdir's files",
	"the files that matter most", "earlier attempts", "No files were sent", "RAZAR placed your diff", "RAZAR could not read",
	"Correct it", "component:", "workdir:", "attempt:"}

func boilerplate(line string) bool {
	for _, h := range headings {
		if strings.HasPrefix(line, h) {
			return true
		}
	}
	return strings.Contains(line, "more relevant files did not fit") || strings.Contains(line, "were shortened to one line")
}

// tool learns from a tool's answer to call c.
func (k *knowledge) tool(c ToolCall, text string) {
	var args map[string]any
	_ = json.Unmarshal([]byte(c.Function.Arguments), &args)
	if strings.HasPrefix(text, "refused:") || strings.HasPrefix(text, "RAZAR did not answer") {
		k.evidence.WriteString(text)
		return
	}
	var body []string
	for line := range strings.Lines(text) {
		l := strings.TrimRight(line, "\n")
		if strings.HasPrefix(l, "(calls left:") || strings.HasPrefix(l, "(cut") {
			continue
		}
		body = append(body, l)
	}
	switch c.Function.Name {
	case "read":
		p, _ := args["path"].(string)
		if len(body) > 0 && body[0] == p+":" {
			body = body[1:]
		}
		from, _ := args["from"].(float64)
		if from > 1 {
			for i, l := range unnumber(body) {
				k.some(p, int(from)+i, l)
			}
			return
		}
		k.whole(p, unnumber(body))
	case "search":
		for _, l := range body {
			if m := searchLine.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[2])
				k.some(m[1], n, m[3])
			}
		}
	case "list":
		for _, l := range body {
			if m := listLine.FindStringSubmatch(l); m != nil && m[2] == "" {
				k.listing = append(k.listing, m[1])
			}
		}
	case "check":
		d, _ := args["diff"].(string)
		if strings.Contains(text, "applied: true") && strings.Contains(text, "validated: true") {
			k.checked[d] = ""
		} else {
			k.checked[d] = strings.TrimSpace(text)
		}
	default:
		k.evidence.WriteString(text)
	}
}

// unnumber strips the line numbers a file viewer puts before each line,
// when every line has one and they count up by one.
func unnumber(lines []string) []string {
	out := make([]string, 0, len(lines))
	prev := 0
	for _, l := range lines {
		m := numbered.FindStringSubmatch(l)
		if m == nil {
			if l == "" {
				out = append(out, l)
				continue
			}
			return lines
		}
		n, _ := strconv.Atoi(m[1])
		if prev != 0 && n != prev+1 {
			return lines
		}
		prev = n
		out = append(out, m[2])
	}
	return out
}

func (k *knowledge) whole(p string, lines []string) *file {
	f := k.file(p)
	f.full, f.lines, f.some = true, lines, nil
	return f
}

func (k *knowledge) some(p string, n int, text string) {
	f := k.file(p)
	if f.full || n < 1 {
		return
	}
	if f.some == nil {
		f.some = map[int]string{}
	}
	f.some[n] = text
}

func (k *knowledge) file(p string) *file {
	p = strings.TrimPrefix(path.Clean(p), "./")
	f, ok := k.files[p]
	if !ok {
		f = &file{path: p}
		k.files[p] = f
		k.order = append(k.order, p)
	}
	return f
}

// Think is the stand-in's whole mind: from the conversation so far, what
// to say next. tools says whether the request offered tools; sloppy
// whether to write hunk headers without line numbers.
func Think(msgs []Message, tools bool, sloppy bool) Turn {
	k := learn(msgs)
	canCall := tools && k.turns < maxToolTurns
	if e, ok := diagnose(k); ok {
		f := k.files[e.path]
		if f == nil {
			f = &file{path: e.path}
		}
		if !f.full && !e.create && !e.mode && canCall && !k.read[e.path] {
			// Seen a line, not the file: read it for the context lines.
			return Turn{Calls: []Call{{Name: "read", Args: map[string]any{"path": e.path}}}}
		}
		diff := unified(f, e, sloppy && !k.told)
		if canCall {
			why, done := k.checked[diff]
			switch {
			case !done:
				return Turn{Calls: []Call{{Name: "check", Args: map[string]any{"diff": diff}}}}
			case why != "" && sloppy && !k.told:
				diff = unified(f, e, false) // the header, then: write it exactly
			}
		}
		return Turn{Content: fixed(e.why, diff)}
	}
	if canCall {
		if c, ok := explore(k); ok {
			return Turn{Calls: []Call{c}}
		}
	}
	return Turn{Content: noFix(k)}
}

// explore picks the next tool call: a file the error names, a search for
// "port" when the error is about one, the listing, then the files that
// look like configuration or scripts.
func explore(k *knowledge) (Call, bool) {
	reads := len(k.read)
	readable := func(p string) bool { f := k.files[p]; return !k.read[p] && (f == nil || !f.full) && reads < maxReads }
	for _, p := range named.FindAllString(k.evidence.String(), -1) {
		p = strings.TrimPrefix(p, "./")
		if readable(p) && (len(k.listing) == 0 || inListing(k, p)) {
			return Call{Name: "read", Args: map[string]any{"path": p}}, true
		}
	}
	if regexp.MustCompile(`(?i)\bport\b`).MatchString(k.evidence.String()) && !k.searched[`(?i)port`] {
		return Call{Name: "search", Args: map[string]any{"pattern": `(?i)port`}}, true
	}
	for _, p := range k.order {
		if f := k.files[p]; !f.full && readable(p) {
			return Call{Name: "read", Args: map[string]any{"path": p}}, true
		}
	}
	if !k.listed {
		return Call{Name: "list", Args: map[string]any{}}, true
	}
	cands := append([]string(nil), k.listing...)
	sort.SliceStable(cands, func(i, j int) bool { return rank(cands[i]) < rank(cands[j]) })
	for _, p := range cands {
		if rank(p) < 9 && readable(p) {
			return Call{Name: "read", Args: map[string]any{"path": p}}, true
		}
	}
	return Call{}, false
}

func inListing(k *knowledge, p string) bool {
	for _, l := range k.listing {
		if l == p || strings.HasSuffix(l, "/"+p) {
			return true
		}
	}
	return false
}

// rank orders files by how likely they hold a failure's cause.
func rank(p string) int {
	switch path.Ext(p) {
	case ".conf", ".cfg", ".ini", ".json", ".yaml", ".yml", ".toml", ".properties":
		return 1
	case ".py", ".sh":
		return 2
	case "":
		return 3
	}
	return 9
}

func fixed(summary, diff string) string {
	b, _ := json.Marshal(map[string]string{"status": "fixed", "summary": summary, "diff": diff})
	return string(b)
}

func noFix(k *knowledge) string {
	seen := make([]string, 0, len(k.order))
	for _, p := range k.order {
		if k.files[p].full {
			seen = append(seen, p)
		}
	}
	why := "I was shown no file's text, so I cannot tell what to change"
	if len(seen) > 0 {
		why = fmt.Sprintf("nothing I know how to repair in what I was shown (%s)", strings.Join(seen, ", "))
	}
	b, _ := json.Marshal(map[string]string{"status": "no_fix", "summary": "stand-in model: " + why})
	return string(b)
}
