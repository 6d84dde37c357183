package logrot

import (
	"fmt"
	"os"
	"sync"
)

// Rolling is an append-only log file that rotates by rename: once it holds
// max bytes it becomes <path>.1 (the older ones shift to .2 .. .keep, the
// oldest goes) and a new file starts. Each Write is appended whole, so a
// writer that writes one line per call (zerolog) never splits a line
// across files. Several processes may share the path: before each write a
// stat tells whether another one rotated it, and the file is reopened.
type Rolling struct {
	path string
	max  int64
	keep int
	perm os.FileMode
	// openFile opens the path for appending; default Open.
	openFile func(path string, perm os.FileMode) (*os.File, error)

	mu sync.Mutex
	f  *os.File
	st os.FileInfo
}

// NewRolling opens path (never through a symlink; see Open) for appending.
// max 0 or less never rotates; keep is how many old files stay (at least 1).
func NewRolling(path string, max int64, keep int, perm os.FileMode) (*Rolling, error) {
	return NewRollingWith(path, max, keep, perm, Open)
}

// NewRollingWith is NewRolling opening the file with open (which must
// append, and refuse a symlink, as Open and homedir.OpenAppend do).
func NewRollingWith(path string, max int64, keep int, perm os.FileMode, open func(string, os.FileMode) (*os.File, error)) (*Rolling, error) {
	r := &Rolling{path: path, max: max, keep: max1(keep), perm: perm, openFile: open}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func (r *Rolling) open() error {
	f, err := r.openFile(r.path, r.perm)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.st = f, st
	return nil
}

// Write appends p, rotating first when p would take the file past max.
func (r *Rolling) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, err := os.Lstat(r.path); err != nil || !os.SameFile(st, r.st) {
		// Rotated or removed by someone else: write to the file at path.
		r.f.Close()
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.max > 0 {
		if st, err := r.f.Stat(); err == nil && st.Size() > 0 && st.Size()+int64(len(p)) > r.max {
			if err := r.rotate(); err != nil {
				return 0, err
			}
		}
	}
	return r.f.Write(p)
}

// Shift moves path aside to path.1, the older path.1 .. path.(keep-1) one
// place up, and drops what was path.keep. Renames never follow links. The
// error is path's own rename's; a missing path is not one.
func Shift(path string, keep int) error {
	for i := max1(keep) - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
	}
	if err := os.Rename(path, path+".1"); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func (r *Rolling) rotate() error {
	r.f.Close()
	if err := Shift(r.path, r.keep); err != nil {
		// Keep writing to the file we have rather than lose lines.
		if oerr := r.open(); oerr != nil {
			return oerr
		}
		return nil
	}
	return r.open()
}

// Close closes the file.
func (r *Rolling) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}
