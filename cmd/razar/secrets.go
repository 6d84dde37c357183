package main

import (
	"io"
	"regexp"
	"sync"

	"github.com/razar/razar"
	"github.com/razar/razar/ctl"
)

// redactors is the home's ctl.Secrets, made at first use: the home is
// the cli's once flags have settled it.
type redactors struct {
	c    *cli
	once sync.Once
	s    *ctl.Secrets
}

func (r *redactors) secrets() *ctl.Secrets {
	r.once.Do(func() { r.s = ctl.NewSecrets(func() string { return r.c.home }, r.c.lookup, rungs(), rungFor) })
	return r.s
}

// get returns the current redactor.
func (r *redactors) get() *razar.Redactor { return r.secrets().Redactor() }

// build returns a fresh redactor and why the roster could not be read.
func (r *redactors) build() (*razar.Redactor, error) { return r.secrets().Build() }

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
