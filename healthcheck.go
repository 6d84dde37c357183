package razar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// Duration is a time.Duration that reads and writes as a Go duration string ("60s").
type Duration time.Duration

// UnmarshalJSON accepts "90s", "2m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	// A *json.UnmarshalTypeError makes encoding/json name the field.
	bad := func(what string) error {
		return &json.UnmarshalTypeError{Value: what, Type: reflect.TypeOf(time.Duration(0))}
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return bad(string(b))
		}
		ns := n * float64(time.Second)
		if ns < 0 || ns >= math.MaxInt64 {
			return bad(fmt.Sprintf("%v seconds (negative or too long)", n))
		}
		*d = Duration(ns)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return bad(fmt.Sprintf("%q", s))
	}
	if v < 0 {
		return bad(fmt.Sprintf("%q (negative)", s))
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// HealthCheck is one of the three probe kinds. Exactly one field is set.
type HealthCheck struct {
	Command []string `json:"command,omitempty"`
	HTTP    string   `json:"http,omitempty"`
	TCP     string   `json:"tcp,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
}

// Kind names the probe kind: "command", "http", "tcp", or "" when none is set.
func (h HealthCheck) Kind() string {
	switch {
	case len(h.Command) > 0:
		return "command"
	case h.HTTP != "":
		return "http"
	case h.TCP != "":
		return "tcp"
	}
	return ""
}

// UnmarshalJSON accepts the object form or a bare command array.
func (h *HealthCheck) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var cmd []string
		if err := json.Unmarshal(b, &cmd); err != nil {
			return fmt.Errorf("health_check: a bare array must hold strings only")
		}
		if len(cmd) == 0 {
			return fmt.Errorf("health_check: a bare array must not be empty")
		}
		*h = HealthCheck{Command: cmd}
		return nil
	}
	type plain HealthCheck
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("health_check: want {\"command\": [...]}, {\"http\": URL} or {\"tcp\": \"host:port\"}: %v", JSONError(b, err))
	}
	*h = HealthCheck(p)
	n := 0
	for _, set := range []bool{len(h.Command) > 0, h.HTTP != "", h.TCP != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("health_check: set exactly one of command, http, tcp (got %d)", n)
	}
	return nil
}

// JSONError says in words what is wrong with data, which failed to decode
// with err: a syntax error names its line and column (not a byte offset),
// a value of the wrong type names its field and what it should be (not a
// Go type), the end of data inside the document says so.
func JSONError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := LineColumn(data, int(se.Offset)-1)
		return fmt.Errorf("not valid JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fmt.Errorf("want %s, got %s", typeWords(te.Type), te.Value)
		}
		return fmt.Errorf("field %q: want %s, got %s", field, typeWords(te.Type), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := LineColumn(data, len(data))
		return fmt.Errorf("not valid JSON: the text ends at line %d, column %d inside the document (a missing closing } or ]?)", line, col)
	case errors.Is(err, io.EOF):
		return errors.New("empty: no JSON document")
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// LineColumn is the 1-based line and column (in characters) of byte
// offset off of data; an offset past the end is the end.
func LineColumn(data []byte, off int) (line, col int) {
	off = max(min(off, len(data)), 0)
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}

// typeWords names a JSON value of Go type t as an operator writes it.
func typeWords(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	if t == reflect.TypeOf(time.Duration(0)) || t == reflect.TypeOf(Duration(0)) {
		return "a duration (a number and a unit, e.g. 90s, 5m, 1h)"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list [...]"
	case reflect.Map, reflect.Struct:
		return "an object {...}"
	case reflect.Pointer:
		return typeWords(t.Elem())
	}
	return "another value"
}
