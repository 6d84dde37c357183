package razar_test

import (
	"html"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/razar/razar"
)

// homePaths calls every path method of Home on h: each method taking no
// argument, and each taking a component name with "<name>". The result maps
// a path to the method that names it.
func homePaths(t *testing.T, h razar.Home) map[string]string {
	t.Helper()
	out := map[string]string{}
	v := reflect.ValueOf(h)
	str := reflect.TypeFor[string]()
	for i := range v.NumMethod() {
		m, name := v.Method(i), v.Type().Method(i).Name
		ft := m.Type()
		if ft.NumOut() != 1 || ft.Out(0) != str {
			continue // Dirs
		}
		var args []reflect.Value
		switch {
		case ft.NumIn() == 0:
		case ft.NumIn() == 1 && ft.In(0) == str:
			args = []reflect.Value{reflect.ValueOf("<name>")}
		default:
			t.Fatalf("Home.%s takes %v: want no argument or a component name", name, ft)
		}
		p := m.Call(args)[0].String()
		if prev, ok := out[p]; ok {
			t.Errorf("Home.%s and Home.%s both name %s", prev, name, p)
		}
		out[p] = name
	}
	return out
}

// contractPaths are the paths of the table in docs/CONTRACT.md section 1,
// "The RAZAR home", as written there ("state/trust/", "logs/components/<name>.log").
func contractPaths(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("docs/CONTRACT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "\n## 1. The RAZAR home\n")
	if !ok {
		t.Fatal(`docs/CONTRACT.md has no section "## 1. The RAZAR home"`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var paths []string
	for line := range strings.Lines(sec) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 3 || cells[0] != "" {
			continue
		}
		p := html.UnescapeString(strings.TrimSpace(cells[1]))
		if p == "path" || strings.Trim(p, "-") == "" {
			continue // the header and its rule
		}
		paths = append(paths, p)
	}
	if len(paths) < 10 {
		t.Fatalf("read %d paths from docs/CONTRACT.md section 1, want its whole table: %q", len(paths), paths)
	}
	return paths
}

// notInTheContract are the paths Home names that docs/CONTRACT.md's table
// does not list, each with why.
var notInTheContract = map[string]string{
	"state/nats.url":                  "named in the state/ row's text",
	"logs/.mirror.seq":                "the logs/ mirror's own bookmark, not for operators",
	"state/patches":                   "the patch store, inside state/ (\"patch backups\")",
	"state/staging":                   "validation's copies, inside state/ (\"staging copies\")",
	"state/components":                "the supervisor's per-component files, inside state/",
	"state/components/<name>.json":    "the supervisor's pid file, inside state/",
	"state/components/<name>.stopped": "an operator's stop, inside state/; `razar stop` and `razar start` are the interface",
	"state/components/.logmark.key":   "the start-marker key, inside state/, RAZAR's user only",
	"quarantine/<name>.json":          "the file per component the quarantine/ row describes",
	"logs/components":                 "the directory of the logs/components/<name>.log row",
	"logs":                            "the directory of the logs/ rows",
	"monitoring":                      "the directory of the monitoring/ row",
}

// TestEveryPathOfTheHomeIsAMethodOfHome: each path docs/CONTRACT.md lists
// for the RAZAR home is named by one method of razar.Home, and every path
// Home names is in that list or in notInTheContract, so the type and the
// document cannot drift apart.
func TestEveryPathOfTheHomeIsAMethodOfHome(t *testing.T) {
	named := homePaths(t, "")
	documented := map[string]bool{}
	for _, p := range contractPaths(t) {
		p = strings.TrimSuffix(p, "/")
		documented[p] = true
		if _, ok := named[p]; !ok {
			t.Errorf("docs/CONTRACT.md lists %s in the RAZAR home; no method of razar.Home names it", p)
		}
	}
	for p, m := range named {
		if !documented[p] && notInTheContract[p] == "" {
			t.Errorf("Home.%s names %s, which docs/CONTRACT.md section 1 does not list: add it there or to notInTheContract with why", m, p)
		}
	}
}

// TestHomeJoinsEveryPathToTheHome: a Home's paths are its relative paths
// under it, and Dirs are the top-level directories of those paths.
func TestHomeJoinsEveryPathToTheHome(t *testing.T) {
	const dir = "/srv/razar"
	rel := homePaths(t, "")
	abs := homePaths(t, dir)
	for p, m := range rel {
		if filepath.IsAbs(p) || !filepath.IsLocal(p) {
			t.Errorf("Home(\"\").%s = %s, want a path relative to the home", m, p)
		}
		if abs[filepath.Join(dir, p)] != m {
			t.Errorf("Home(%q).%s is not %s", dir, m, filepath.Join(dir, p))
		}
	}
	var tops []string
	for p := range rel {
		top, _, _ := strings.Cut(p, "/")
		if !slices.Contains(tops, top) {
			tops = append(tops, top)
		}
	}
	dirs := razar.Home("").Dirs()
	slices.Sort(tops)
	slices.Sort(dirs)
	if !slices.Equal(tops, dirs) {
		t.Errorf("Dirs() = %q, want the top-level directories of every path, %q", dirs, tops)
	}
}
