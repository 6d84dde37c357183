package tailfile

import (
	"bytes"
	"errors"
	"io"
)

// block is how much is read back from the end at a time.
const block = 64 << 10

// Lines returns the last n (> 0) lines of the first size bytes of r, each
// with its newline (the last one may have none), read back from size in
// blocks until n newlines are in hand. A read error other than io.EOF is
// returned as is.
func Lines(r io.ReaderAt, size int64, n int) ([][]byte, error) {
	var buf []byte
	for start := size; start > 0 && bytes.Count(buf, []byte{'\n'}) <= n; {
		step := min(int64(block), start)
		start -= step
		chunk := make([]byte, step)
		if _, err := r.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		buf = append(chunk, buf...)
	}
	lines := bytes.SplitAfter(buf, []byte{'\n'})
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}
