package logrot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"
)

// DefaultPerm is the mode Open gives a new file when perm is 0.
const DefaultPerm os.FileMode = 0o640

// Open opens path for a child process to write: O_WRONLY|O_APPEND|O_CREATE,
// so every write lands at the current end even after Rotate truncates the
// file. The parent directory is created (0750) when missing; a new file gets
// perm, or DefaultPerm when perm is 0, less the umask. The result is what
// goes in cmd.Stdout and cmd.Stderr; the caller closes its copy once the
// child has started.
//
// Open refuses to follow a symlink at path (one planted there would send the
// output, with RAZAR's rights, wherever it points) and anything that is not
// a regular file. Errors name the path; the underlying error is wrapped
// (syscall.ELOOP for a symlink).
func Open(path string, perm os.FileMode) (*os.File, error) {
	if perm == 0 {
		perm = DefaultPerm
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("component log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return nil, openError(path, err)
	}
	if err := regular(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openError words a failed open, naming a refused symlink as such.
func openError(path string, err error) error {
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("component log %s is a symlink; refusing to follow it (fix: remove the link, RAZAR creates the file): %w", path, err)
	}
	return fmt.Errorf("component log: %w", err)
}

func regular(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("component log: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("component log %s is not a regular file (%v) (fix: remove it, RAZAR creates the file)", f.Name(), st.Mode().Type())
	}
	return nil
}

// Rotate bounds the file at path: when it holds more than max bytes, its
// content is copied to path+".1" (replacing the previous one atomically:
// written to a temporary file in the same directory, synced, renamed) and
// the file is truncated to 0, where the child's O_APPEND descriptor goes on
// writing. rotated says whether it did. A missing file is not an error.
//
// Caveat, as with logrotate's copytruncate: what the child writes between
// the last read of the copy and the truncate is lost. Rotate reads again
// right before truncating, so the window is that of two system calls.
//
// A symlink at path is refused (wrapping syscall.ELOOP); other errors are
// those of the file system, wrapped with the path. On error the original
// file is left untruncated.
func Rotate(path string, max int64) (rotated bool, err error) {
	src, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, openError(path, err)
	}
	defer src.Close()
	if err := regular(src); err != nil {
		return false, err
	}
	st, err := src.Stat()
	if err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	if st.Size() <= max {
		return false, nil
	}
	return copyTruncate(path, src, st.Mode().Perm())
}

// copyTruncate copies src, the open file at path, to path+".1" through a
// temporary file made durable and renamed, then copies what was written
// meanwhile and truncates src. On error src is left untruncated.
func copyTruncate(path string, src *os.File, perm os.FileMode) (rotated bool, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".rotating-*")
	if err != nil {
		return false, fmt.Errorf("rotate %s: %w", path, err)
	}
	renamed := false
	defer func() {
		tmp.Close()
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()
	fail := func(err error) (bool, error) { return false, fmt.Errorf("rotate %s: %w", path, err) }
	if err := tmp.Chmod(perm); err != nil {
		return fail(err)
	}
	// The bulk: copied and made durable before the original loses it.
	n, err := io.Copy(tmp, src)
	if err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path+".1"); err != nil {
		return fail(err)
	}
	renamed = true
	// What the child wrote meanwhile, then at once the truncate. tmp is
	// .1 now. A failure here leaves the original whole: at worst the next
	// rotation copies some lines twice.
	if _, err := io.Copy(tmp, io.NewSectionReader(src, n, 1<<62)); err != nil {
		return fail(err)
	}
	if err := src.Truncate(0); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return true, fmt.Errorf("rotate %s: sync %s.1: %w", path, path, err)
	}
	syncDir(filepath.Dir(path))
	return true, nil
}

// syncDir makes a rename in dir durable, as far as the file system allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Size returns the size of the file at path in bytes, 0 when it is missing
// or unreadable.
func Size(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// Tail returns the last n bytes of the file at path written at or after
// byte offset from, the file's size when the caller launched the child, so
// output of earlier runs is never quoted. A file now smaller than from was
// truncated by Rotate and is read from its start. When the window had to
// cut earlier output it starts at a line boundary (the partial first line is
// dropped if the window holds a newline) or else at a rune boundary. The
// result is valid UTF-8 (invalid bytes become U+FFFD) with surrounding white
// space trimmed; "" when there is nothing, or the file is missing or
// unreadable.
func Tail(path string, from, n int64) string {
	if n <= 0 {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	size := st.Size()
	if from < 0 || from > size {
		from = 0
	}
	start := max(from, size-n)
	cut := start > from
	// One byte more when cutting: the byte before the window says whether
	// the window starts a line.
	off := start
	if cut {
		off--
	}
	buf := make([]byte, size-off)
	m, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	buf = buf[:m]
	if cut && len(buf) > 0 {
		before := buf[0]
		buf = buf[1:]
		if before != '\n' {
			if i := bytes.IndexByte(buf, '\n'); i >= 0 {
				buf = buf[i+1:]
			} else {
				for len(buf) > 0 && !utf8.RuneStart(buf[0]) {
					buf = buf[1:]
				}
			}
		}
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(buf), "\uFFFD"))
}
