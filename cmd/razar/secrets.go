package main

import (
	"io"
	"regexp"

	"github.com/razar/razar"
)

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
