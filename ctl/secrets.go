package ctl

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/config"
)

// NewSecrets returns the secrets of the home home() names: the keys of
// every rung of its roster and of rungs (looked up through lookup, rung
// packages by rungFor) and the roster's redact patterns.
func NewSecrets(home func() string, lookup config.Lookup, rungs []agents.Rung, rungFor func(string) agents.Rung) *Secrets {
	return &Secrets{home: home, lookup: lookup, rungs: rungs, rungFor: rungFor}
}

// Secrets builds the Redactor of a home's roster and environment. It
// re-reads the roster when its file changes (a rotation names new
// variables) and the keys on every call (config/razar.env, a rewritten
// V_FILE), rebuilding the redactor only when either changed. It is safe
// for concurrent use.
type Secrets struct {
	home    func() string
	lookup  config.Lookup
	rungs   []agents.Rung // the rung packages, whose own variables are always secrets
	rungFor func(string) agents.Rung

	mu       sync.Mutex
	read     bool      // the roster has been read at least once
	mtime    time.Time // of the roster as last read
	size     int64
	roster   *config.Roster // whose variables hold secrets; never nil once read
	patterns []string
	values   []string // the keys red was built with
	red      *razar.Redactor
}

// Redactor returns the current redactor. It never redacts less than the known
// keys: a roster that cannot be read or parsed (a "redact" pattern that does
// not compile) keeps the keys of every variable it can still find, and the
// patterns that compile. The problem itself is reported where the roster is
// loaded: `razar boot` and `razar reload` refuse it, and a rung will not run.
func (r *Secrets) Redactor() *razar.Redactor {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := os.Stat(razar.Home(r.home()).Roster())
	changed := !r.read || err != nil || !st.ModTime().Equal(r.mtime) || st.Size() != r.size
	if changed {
		r.roster, r.patterns, _ = r.loadRoster()
		r.read = true
		if err == nil {
			r.mtime, r.size = st.ModTime(), st.Size()
		}
	}
	values := agents.SecretValues(r.roster, r.rungFor, r.home(), r.lookup)
	if r.red != nil && !changed && slices.Equal(values, r.values) {
		return r.red
	}
	red, _ := razar.NewRedactor(values, r.patterns) // never nil; skips a bad pattern
	r.red, r.values = red, values
	return red
}

// Build returns a fresh redactor and, when the roster could not be read or
// a pattern did not compile, why: a rung that cannot redact as configured
// must not run. The redactor redacts all it can even then.
func (r *Secrets) Build() (*razar.Redactor, error) {
	roster, patterns, err := r.loadRoster()
	red, perr := razar.NewRedactor(agents.SecretValues(roster, r.rungFor, r.home(), r.lookup), patterns)
	return red, errors.Join(err, perr)
}

// loadRoster reads the roster for its secrets: the agents whose variables
// hold keys and the redact patterns. When the roster does not parse it
// falls back to what a lenient read of the file still yields. Either way
// the rung packages' own variables are added, so a key exported for RAZAR
// is redacted even when the roster does not list its rung.
func (r *Secrets) loadRoster() (*config.Roster, []string, error) {
	path := razar.Home(r.home()).Roster()
	roster, err := config.LoadRoster(path)
	if err != nil {
		roster = &config.Roster{}
		if data, rerr := os.ReadFile(path); rerr == nil {
			// Partly filled on a type error; nothing on a syntax error.
			_ = json.Unmarshal(data, roster)
		}
		for i := range roster.Agents {
			roster.Agents[i].Name = strings.ToLower(roster.Agents[i].Name)
		}
	}
	patterns := agents.RedactPatterns(roster)
	all := &config.Roster{Agents: append([]config.AgentEntry(nil), roster.Agents...)}
	for _, rung := range r.rungs {
		if _, ferr := roster.Agent(rung.Name); ferr != nil {
			all.Agents = append(all.Agents, config.AgentEntry{Name: rung.Name})
		}
	}
	return all, patterns, err
}
