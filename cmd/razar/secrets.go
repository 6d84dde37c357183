package main

import (
	"io"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
)

// redactors builds the Redactor of a home's roster and environment, and
// rebuilds it when the roster file changes (a rotation names new variables).
type redactors struct {
	c *cli

	mu    sync.Mutex
	mtime time.Time
	red   *razar.Redactor
}

// get returns the current redactor. A roster that cannot be read keeps the
// last good one; patterns that do not compile are reported by Build.
func (r *redactors) get() *razar.Redactor {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := os.Stat(r.c.path(rosterFile))
	if err == nil && r.red != nil && st.ModTime().Equal(r.mtime) {
		return r.red
	}
	red, err := r.build()
	if err != nil {
		if r.red == nil {
			r.red = &razar.Redactor{}
		}
		return r.red
	}
	r.red = red
	if st != nil {
		r.mtime = st.ModTime()
	}
	return red
}

func (r *redactors) build() (*razar.Redactor, error) {
	roster, err := razar.LoadRoster(r.c.path(rosterFile))
	if err != nil {
		return nil, err
	}
	return razar.NewRedactor(agents.SecretValues(roster, rungFor, r.c.home, r.c.lookup), agents.RedactPatterns(roster))
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
