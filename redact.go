package razar

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Redacted replaces every secret RAZAR knows of in text it writes or sends.
const Redacted = "[REDACTED]"

// MinSecretLen is the shortest secret value a Redactor replaces: shorter
// ones would shred ordinary text.
const MinSecretLen = 4

// Redactor replaces credential values, operator-given patterns and the
// shapes of secrets (NATS seeds, JWTs, private key blocks, bearer tokens,
// the common API keys: see ScrubShapes) with [REDACTED]. It is the one
// scrubber of everything RAZAR writes or sends: records, the bus, logs,
// alerts and what a model sees. The zero value and a nil *Redactor replace
// the shapes only. It is safe for concurrent use once built.
type Redactor struct {
	values   []string // longest first, so a value containing another goes whole
	patterns []*regexp.Regexp
}

// NewRedactor returns a redactor for the given secret values and regular
// expressions. Values are trimmed; those shorter than MinSecretLen bytes are
// ignored. Each value is also replaced in the forms it travels in: base64
// (standard and URL alphabets, padded and raw), URL-escaped (query and path)
// and hex (lower and upper case).
//
// A pattern that does not compile fails with ErrInvalidConfig naming it,
// but the redactor is returned all the same, with every value and every
// pattern that compiles: a bad pattern never switches redaction off.
func NewRedactor(values []string, patterns []string) (*Redactor, error) {
	r := &Redactor{}
	seen := map[string]bool{}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < MinSecretLen {
			continue
		}
		for _, form := range Encodings(v) {
			if !seen[form] {
				seen[form] = true
				r.values = append(r.values, form)
			}
		}
	}
	sort.SliceStable(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
	var errs []error
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: redact pattern %q: %v", ErrInvalidConfig, p, err))
			continue
		}
		r.patterns = append(r.patterns, re)
	}
	return r, errors.Join(errs...)
}

// Encodings returns v and the encoded forms of it a Redactor also replaces,
// v first, without duplicates: base64 (four alphabets), URL-escaped, hex
// (both cases) and JSON-escaped (with and without HTML escaping), so a key
// is caught inside a JSON line as well.
func Encodings(v string) []string {
	b := []byte(v)
	forms := []string{
		v,
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		url.QueryEscape(v),
		url.PathEscape(v),
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		jsonEscaped(v, true),
		jsonEscaped(v, false),
	}
	out := forms[:0]
	seen := map[string]bool{}
	for _, f := range forms {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// jsonEscaped is v as it appears inside a JSON string.
func jsonEscaped(v string, html bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	if enc.Encode(v) != nil {
		return v
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	return strings.TrimSuffix(strings.TrimPrefix(out, `"`), `"`)
}

// Redact returns s with every known value, pattern and secret shape
// replaced. A nil Redactor replaces the shapes.
func (r *Redactor) Redact(s string) string {
	if s == "" {
		return s
	}
	if r == nil {
		return ScrubShapes(s)
	}
	for _, v := range r.values {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	for _, re := range r.patterns {
		s = re.ReplaceAllString(s, Redacted)
	}
	return ScrubShapes(s)
}

// Task returns a copy of t with every text field redacted: the error, the
// history, the workspace's log tail and file texts, and every answer of
// its tools.
func (r *Redactor) Task(t Task) Task {
	t.Error = r.Redact(t.Error)
	h := make([]Attempt, len(t.History))
	for i, a := range t.History {
		a.redact(r)
		h[i] = a
	}
	t.History = h
	if w := t.Workspace; w != nil {
		c := *w
		c.LogTail = r.Redact(c.LogTail)
		c.Files = make([]FileText, len(w.Files))
		for i, f := range w.Files {
			f.Text = r.Redact(f.Text)
			c.Files[i] = f
		}
		t.Workspace = &c
	}
	if t.Tools != nil {
		t.Tools = redactedTools{r, t.Tools}
	}
	return t
}

// redactedTools redacts the texts of every answer of the tools it wraps.
type redactedTools struct {
	r    *Redactor
	next Tools
}

// Call implements Tools.
func (rt redactedTools) Call(ctx context.Context, req ToolRequest) (ToolReply, error) {
	rep, err := rt.next.Call(ctx, req)
	rep.Text, rep.Error = rt.r.Redact(rep.Text), rt.r.Redact(rep.Error)
	for i := range rep.Matches {
		rep.Matches[i].Text = rt.r.Redact(rep.Matches[i].Text)
	}
	for i := range rep.Placement {
		rep.Placement[i] = rt.r.Redact(rep.Placement[i])
	}
	if a := rep.Attempt; a != nil {
		c := *a
		c.redact(rt.r)
		rep.Attempt = &c
	}
	return rep, err
}

// TextKind is what a free text of the domain holds, so that each writer
// bounds each kind its own way (bus clips an error, a summary and a diff
// to different sizes; the domain knows no wire bounds).
type TextKind int

const (
	// ErrorText is why something failed or was refused.
	ErrorText TextKind = iota
	// SummaryText is what a rung says it did.
	SummaryText
	// DiffText is a patch.
	DiffText
)

// Text is one free text of a domain value: the field, and what it holds.
type Text struct {
	Field *string
	Kind  TextKind
}

// Texts lists the attempt's free texts, the ones that come from a rung or
// a component rather than from RAZAR itself: its error, summary, diff and
// reason. It is the one list every scrubber of an attempt walks
// (Redactor.Task and its tools' replies here, bus.ScrubAttempt where an
// attempt is recorded or sent); a test in bus proves every other string
// field of Attempt is not free text.
func (a *Attempt) Texts() []Text {
	return []Text{{&a.Error, ErrorText}, {&a.Summary, SummaryText}, {&a.Diff, DiffText}, {&a.Reason, ErrorText}}
}

// redact passes every free text of a through r.
func (a *Attempt) redact(r *Redactor) {
	for _, t := range a.Texts() {
		*t.Field = r.Redact(*t.Field)
	}
}
