package patch

import (
	"regexp"
	"strings"
)

// Search/replace blocks, the other form a rung may send instead of a diff:
//
//	config/app.conf
//	<<<<<<< SEARCH
//	port=8450
//	=======
//	port=8080
//	>>>>>>> REPLACE
//
// Each block names its file on the line before it (or uses the previous
// block's file), and is placed like a hunk without line numbers: where its
// SEARCH lines are, exactly or ignoring trailing whitespace, in one place
// only. An empty SEARCH on a file that does not exist creates it.

var (
	srSearch  = regexp.MustCompile(`^<{5,9} ?SEARCH\s*$`)
	srDivider = regexp.MustCompile(`^={5,9}\s*$`)
	srReplace = regexp.MustCompile(`^>{5,9} ?REPLACE\s*$`)
)

// isSearchReplace reports whether the text holds search/replace blocks.
func isSearchReplace(lines []string) bool {
	for _, l := range lines {
		if srSearch.MatchString(l) {
			return true
		}
	}
	return false
}

// srPathLine turns the line before a block into a path: markdown's
// backticks, stars and a trailing colon dropped.
func srPathLine(l string) string {
	l = strings.TrimSpace(l)
	l = strings.TrimPrefix(l, "#")
	l = strings.TrimSpace(l)
	l = strings.TrimSuffix(l, ":")
	return strings.Trim(l, "`*")
}

// parseSearchReplace reads search/replace blocks into one section per file,
// in the order the files first appear.
func parseSearchReplace(lines []string) ([]*section, error) {
	var secs []*section
	byPath := map[string]*section{}
	path := ""
	last := "" // the last line outside a block that could be a path
	block := 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case srSearch.MatchString(l):
			block++
			if last != "" {
				path = last
			}
			if path == "" {
				return nil, reject("search/replace block %d has no file path: put the file's path, relative to the workdir, on its own line before \"<<<<<<< SEARCH\"", block)
			}
			h := &hunk{kind: "search/replace block"}
			j := i + 1
			for ; j < len(lines) && !srDivider.MatchString(lines[j]); j++ {
				if srSearch.MatchString(lines[j]) || srReplace.MatchString(lines[j]) {
					j = len(lines)
					break
				}
				h.lines = append(h.lines, hline{op: '-', text: lines[j]})
			}
			if j >= len(lines) {
				return nil, reject("search/replace block %d of %s: no \"=======\" after its SEARCH lines; a block is \"<<<<<<< SEARCH\", the lines to find, \"=======\", the lines to put there, \">>>>>>> REPLACE\"", block, clip(path))
			}
			k := j + 1
			for ; k < len(lines) && !srReplace.MatchString(lines[k]); k++ {
				if srSearch.MatchString(lines[k]) || srDivider.MatchString(lines[k]) {
					k = len(lines)
					break
				}
				h.lines = append(h.lines, hline{op: '+', text: lines[k]})
			}
			if k >= len(lines) {
				return nil, reject("search/replace block %d of %s: no \">>>>>>> REPLACE\" after its replacement lines", block, clip(path))
			}
			s := byPath[path]
			if s == nil {
				s = &section{srPath: path}
				byPath[path] = s
				secs = append(secs, s)
			}
			h.n = len(s.hunks) + 1
			s.hunks = append(s.hunks, h)
			i, last = k, ""
		case srDivider.MatchString(l) || srReplace.MatchString(l):
			return nil, reject("line %d: %q outside a search/replace block: each block starts with \"<<<<<<< SEARCH\"", i+1, clip(l))
		case strings.HasPrefix(l, "@@") || strings.HasPrefix(l, "diff --git "):
			return nil, reject("line %d: %q: send either a diff or search/replace blocks, not both", i+1, clip(l))
		case strings.TrimSpace(l) == "" || isFence(l):
		default:
			last = srPathLine(l)
		}
	}
	return secs, nil
}

// srHeader gives a search/replace section the headers of a plain diff: a
// modification, or the creation of a missing file.
func (s *section) srHeader(missing bool) {
	s.oldName, s.newName = "a/"+s.srPath, "b/"+s.srPath
	if missing {
		s.oldName = "/dev/null"
	}
	s.header = []string{"--- " + s.oldName, "+++ " + s.newName}
}
