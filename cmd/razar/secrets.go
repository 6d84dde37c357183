package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
)

// redactors builds the Redactor of a home's roster and environment. It
// re-reads the roster when its file changes (a rotation names new
// variables) and the keys on every call (config/razar.env, a rewritten
// V_FILE), rebuilding the redactor only when either changed.
type redactors struct {
	c *cli

	mu       sync.Mutex
	read     bool      // the roster has been read at least once
	mtime    time.Time // of the roster as last read
	size     int64
	roster   *razar.Roster // whose variables hold secrets; never nil once read
	patterns []string
	values   []string // the keys red was built with
	red      *razar.Redactor
}

// get returns the current redactor. It never redacts less than the known
// keys: a roster that cannot be read or parsed (a "redact" pattern that does
// not compile) keeps the keys of every variable it can still find, and the
// patterns that compile. The problem itself is reported where the roster is
// loaded: `razar boot` and `razar reload` refuse it, and a rung will not run.
func (r *redactors) get() *razar.Redactor {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := os.Stat(r.c.path(rosterFile))
	changed := !r.read || err != nil || !st.ModTime().Equal(r.mtime) || st.Size() != r.size
	if changed {
		r.roster, r.patterns, _ = r.loadRoster()
		r.read = true
		if err == nil {
			r.mtime, r.size = st.ModTime(), st.Size()
		}
	}
	values := agents.SecretValues(r.roster, rungFor, r.c.home, r.c.lookup)
	if r.red != nil && !changed && slices.Equal(values, r.values) {
		return r.red
	}
	red, _ := razar.NewRedactor(values, r.patterns) // never nil; skips a bad pattern
	r.red, r.values = red, values
	return red
}

// build returns a fresh redactor and, when the roster could not be read or
// a pattern did not compile, why: a rung that cannot redact as configured
// must not run. The redactor redacts all it can even then.
func (r *redactors) build() (*razar.Redactor, error) {
	roster, patterns, err := r.loadRoster()
	red, perr := razar.NewRedactor(agents.SecretValues(roster, rungFor, r.c.home, r.c.lookup), patterns)
	return red, errors.Join(err, perr)
}

// loadRoster reads the roster for its secrets: the agents whose variables
// hold keys and the redact patterns. When the roster does not parse it
// falls back to what a lenient read of the file still yields. Either way
// the rung packages' own variables are added, so a key exported for RAZAR
// is redacted even when the roster does not list its rung.
func (r *redactors) loadRoster() (*razar.Roster, []string, error) {
	path := r.c.path(rosterFile)
	roster, err := razar.LoadRoster(path)
	if err != nil {
		roster = &razar.Roster{}
		if data, rerr := os.ReadFile(path); rerr == nil {
			// Partly filled on a type error; nothing on a syntax error.
			_ = json.Unmarshal(data, roster)
		}
		for i := range roster.Agents {
			roster.Agents[i].Name = strings.ToLower(roster.Agents[i].Name)
		}
	}
	patterns := agents.RedactPatterns(roster)
	all := &razar.Roster{Agents: append([]razar.AgentEntry(nil), roster.Agents...)}
	for _, rung := range rungs() {
		if _, ferr := roster.Agent(rung.Name); ferr != nil {
			all.Agents = append(all.Agents, razar.AgentEntry{Name: rung.Name})
		}
	}
	return all, patterns, err
}

// emptyField is a string field with no value in a zerolog JSON line, such
// as "error":"": noise at 3 a.m. Inside a JSON string every quote is
// escaped, so the pattern can only match a whole field.
var emptyField = regexp.MustCompile(`,"[A-Za-z0-9_]+":""`)

// redactWriter scrubs secrets from everything written through it, the last
// line of defence for logs, and drops empty string fields.
type redactWriter struct {
	w   io.Writer
	red func() *razar.Redactor
}

func (w redactWriter) Write(p []byte) (int, error) {
	out := emptyField.ReplaceAllString(w.red().Redact(string(p)), "")
	if _, err := io.WriteString(w.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}
