// Package tailbuf keeps the end of a command's output: the last bytes are
// what an operator needs from a failed probe, validate or agent script.
package tailbuf

import "unicode/utf8"

// Buffer is an io.Writer that keeps the last Max bytes written to it. It is
// not safe for concurrent use: os/exec writes it from one goroutine, and it
// is read after Wait returns.
type Buffer struct {
	max int
	buf []byte
	cut bool
}

// New returns a buffer keeping the last max bytes.
func New(max int) *Buffer { return &Buffer{max: max} }

// Write keeps the tail of p; it never fails.
func (t *Buffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.cut = t.cut || len(t.buf) > 0 || len(p) > t.max
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.cut = true
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return n, nil
}

// Cut reports whether earlier output was dropped.
func (t *Buffer) Cut() bool { return t.cut }

// String is the kept tail, prefixed with "..." when earlier output was
// dropped. A rune cut in half at the start is dropped too.
func (t *Buffer) String() string {
	if !t.cut {
		return string(t.buf)
	}
	b := t.buf
	for len(b) > 0 && !utf8.RuneStart(b[0]) {
		b = b[1:]
	}
	return "..." + string(b)
}
