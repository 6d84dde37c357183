package ctl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/internal/logrot"
	"github.com/razar/razar/internal/tailfile"
)

// LogsOptions are `razar logs`'s.
type LogsOptions struct {
	Lines     int  // -n: the last N lines (0: all)
	Follow    bool // -f: keep printing what the component writes
	Component string
}

// Logs prints the tail of a component's output
// (logs/components/<name>.log) and, with Follow, follows it across
// RAZAR's copy-truncate rotations until ctx ends.
func (c *Client) Logs(ctx context.Context, o LogsOptions) error {
	name := o.Component
	if err := c.checkComponent(name); err != nil {
		return err
	}
	if o.Lines < 0 {
		return usageErr("-n must be 0 or more")
	}
	path := c.home().ComponentLog(name)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !o.Follow {
		return failed("%s has written nothing yet (no %s)", name, path)
	}
	out := c.logWriter(name)
	var offset int64
	if err == nil {
		offset, err = PrintTail(out, f, o.Lines)
		f.Close()
		if err == nil {
			err = out.Flush()
		}
		if err != nil {
			return failed("read %s: %v", path, err)
		}
	}
	if !o.Follow {
		return nil
	}
	follow(ctx, path, offset, out)
	return nil
}

// logWriter is where a component's lines go. RAZAR's start markers are
// told from the component's copies by their mark; without the key none
// can be, and every one is shown as the component's, which the first such
// line explains.
func (c *Client) logWriter(name string) *logWriter {
	key, kerr := logrot.ReadMarkKey(c.home().LogMarkKey())
	out := &logWriter{w: c.Stdout, marks: &logrot.Markers{Key: key, Name: name}}
	if kerr != nil {
		out.unverified = func() {
			fmt.Fprintf(c.Stderr, "razar: %v: RAZAR's start markers cannot be verified and are shown as the component's\n", kerr)
		}
	}
	return out
}

// follow copies what is written to path from offset on, until ctx ends;
// a file shorter than offset was rotated (copied aside and truncated).
func follow(ctx context.Context, path string, offset int64, out io.Writer) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := os.Stat(path)
		if err != nil {
			continue // not written yet, or being rotated
		}
		if st.Size() < offset {
			offset = 0 // rotated: the file was copied aside and truncated
		}
		if st.Size() == offset {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if _, err := f.Seek(offset, io.SeekStart); err == nil {
			// A line is shown once it is whole: a marker's mark is checked
			// on the whole line, never on a piece of it.
			m, _ := io.Copy(out, f)
			offset += m
		}
		f.Close()
	}
}

// PrintTail prints the last n lines of f (all when n is 0), made safe for
// a terminal, and returns the offset it read to.
func PrintTail(w io.Writer, f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if n == 0 {
		m, err := io.Copy(sanitizingWriter{w: w}, bufio.NewReader(f))
		return m, err
	}
	lines, err := tailfile.Lines(f, size, n)
	if err != nil {
		return 0, err
	}
	sw := sanitizingWriter{w: w}
	for _, l := range lines {
		if _, err := sw.Write(l); err != nil {
			return 0, err
		}
	}
	return size, nil
}

// logWriter writes a component's output whole line by whole line, made
// safe for a terminal, with the lines that look like RAZAR's start
// markers but are the component's shown as such (logrot.Markers). A
// line without its newline waits for it, or for Flush.
type logWriter struct {
	w       io.Writer
	marks   *logrot.Markers
	partial []byte
	// unverified, when set, is called once, at the first marker-looking
	// line, when the marks cannot be checked.
	unverified func()
}

func (l *logWriter) Write(p []byte) (int, error) {
	data := append(l.partial, p...)
	end := bytes.LastIndexByte(data, '\n') + 1
	l.partial = append([]byte(nil), data[end:]...)
	if err := l.lines(data[:end]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes the line still waiting for its newline.
func (l *logWriter) Flush() error {
	rest := l.partial
	l.partial = nil
	return l.lines(rest)
}

func (l *logWriter) lines(p []byte) error {
	for _, line := range bytes.SplitAfter(p, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		body, nl := bytes.CutSuffix(line, []byte{'\n'})
		text := l.marks.Line(cut.Sanitize(string(body)))
		if l.marks.Flagged > 0 && l.unverified != nil {
			l.unverified()
			l.unverified = nil
		}
		if nl {
			text += "\n"
		}
		if _, err := io.WriteString(l.w, text); err != nil {
			return err
		}
	}
	return nil
}

// sanitizingWriter writes component output with terminal control
// characters stripped, line by line as it comes: a component's bytes must
// not drive the operator's terminal.
type sanitizingWriter struct{ w io.Writer }

func (s sanitizingWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.SplitAfter(p, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		nl := bytes.HasSuffix(line, []byte{'\n'})
		text := cut.Sanitize(string(bytes.TrimSuffix(line, []byte{'\n'})))
		if nl {
			text += "\n"
		}
		if _, err := fmt.Fprint(s.w, text); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
