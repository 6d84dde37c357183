package razar

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Redacted replaces every secret RAZAR knows of in text it writes or sends.
const Redacted = "[REDACTED]"

// Redactor replaces credential values and operator-given patterns with
// [REDACTED]. The zero value and a nil *Redactor redact nothing. It is safe
// for concurrent use once built.
type Redactor struct {
	values   []string // longest first, so a value containing another goes whole
	patterns []*regexp.Regexp
}

// NewRedactor returns a redactor for the given secret values (values shorter
// than 4 bytes are ignored: they would shred ordinary text) and regular
// expressions. A pattern that does not compile fails with ErrInvalidConfig.
func NewRedactor(values []string, patterns []string) (*Redactor, error) {
	r := &Redactor{}
	seen := map[string]bool{}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) >= 4 && !seen[v] {
			seen[v] = true
			r.values = append(r.values, v)
		}
	}
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: redact pattern %q: %v", ErrInvalidConfig, p, err)
		}
		r.patterns = append(r.patterns, re)
	}
	return r, nil
}

// Redact returns s with every secret replaced.
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	for _, v := range r.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	for _, re := range r.patterns {
		s = re.ReplaceAllString(s, Redacted)
	}
	return s
}

// Task returns a copy of t with every text field redacted.
func (r *Redactor) Task(t Task) Task {
	if r == nil {
		return t
	}
	t.Error = r.Redact(t.Error)
	h := make([]Attempt, len(t.History))
	for i, a := range t.History {
		a.Error, a.Summary, a.Diff, a.Reason = r.Redact(a.Error), r.Redact(a.Summary), r.Redact(a.Diff), r.Redact(a.Reason)
		h[i] = a
	}
	t.History = h
	return t
}
