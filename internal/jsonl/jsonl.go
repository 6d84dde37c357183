// Package jsonl keeps JSON-lines files whole: a line is appended in one
// write and cut back when the write fails or is short, and a torn last line
// (a crash mid-write) is cut off when a file is opened. The log mirror and
// an offline rollback's record (logs/patch_history.jsonl) both append
// through it, so the two writers of one file keep it the same way.
//
// Concurrency: the functions hold no state; callers serialise the writes
// of one file (a single writer per file, as the mirror is).
package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/razar/razar/internal/homedir"
)

// WriteLine appends line and its newline to f, the file at path, in one
// call of write. A failed or short write is cut back to the size before
// it, so no torn line stays.
func WriteLine(f *os.File, path string, line []byte, write func(*os.File, []byte) (int, error)) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("append to %s: %w", path, err)
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	n, err := write(f, buf)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err == nil {
		return nil
	}
	if n > 0 {
		if terr := f.Truncate(st.Size()); terr != nil {
			// Reopening repairs the tail.
			return fmt.Errorf("append to %s: %w (and cutting back the partial line: %v)", path, err, terr)
		}
	}
	return fmt.Errorf("append to %s: %w", path, err)
}

// Append appends one line to a JSON-lines file in a single write, creating
// the file (0640) and its directory (0750), for a writer that is not the
// log mirror (`razar rollback-patch` while RAZAR is down). A torn last line (a crash
// mid-write) is cut off first, and a failed write is cut back: the file
// holds whole lines only. A symlink at path is refused, never written
// through (the error names the file and says to remove the link).
func Append(path string, line []byte) error {
	f, err := homedir.OpenAppend(path, 0o640)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, err := RepairTail(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteLine(f, path, line, (*os.File).Write)
}

// tailWindow is how much of a file's end RepairTail reads: several times
// the largest record (bus.Clip bounds every field).
const tailWindow = 512 << 10

// RepairTail cuts a torn tail off f: a last line without its newline, or
// one that is not JSON, as a crash mid-write leaves. It returns the highest
// "seq" of the lines in f's last tailWindow bytes and how many bytes it cut.
func RepairTail(f *os.File) (last uint64, cut int64, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	off := max(st.Size()-tailWindow, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, err
	}
	end := wholeLines(buf, off > 0)
	if end < 0 {
		return 0, 0, fmt.Errorf("the last %d KiB hold no line end: not a JSON-lines file (fix: move it aside, RAZAR starts a new one and fills it from the stream)", tailWindow>>10)
	}
	if end < len(buf) {
		if err := f.Truncate(off + int64(end)); err != nil {
			return 0, 0, fmt.Errorf("cut off the torn last line: %w", err)
		}
	}
	for line := range bytes.Lines(buf[:end]) {
		var v struct {
			Seq uint64 `json:"seq"`
		}
		if json.Unmarshal(line, &v) == nil && v.Seq > last {
			last = v.Seq
		}
	}
	return last, int64(len(buf) - end), nil
}

// wholeLines returns the length of buf's prefix that ends in a whole JSON
// (or blank) line, or -1 when there is none and buf does not start the
// file (clipped): what precedes it is unknown.
func wholeLines(buf []byte, clipped bool) int {
	end := len(buf)
	for end > 0 {
		i := bytes.LastIndexByte(buf[:end-1], '\n')
		if i < 0 && clipped {
			if buf[end-1] == '\n' {
				return end // one line longer than the window: leave it
			}
			return -1
		}
		line := bytes.TrimSpace(buf[i+1 : end])
		if buf[end-1] == '\n' && (len(line) == 0 || json.Valid(line)) {
			return end
		}
		end = i + 1
	}
	return end
}
