// Package homedir guards the files of the RAZAR home against other users of
// the machine: appends that never follow a planted symlink, and a check
// that nobody else can write the home, where such links would be planted.
package homedir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/renameio/v2"
)

// ErrSymlink is wrapped by OpenAppend's error when path is a symlink.
var ErrSymlink = errors.New("is a symlink")

// OpenAppend opens path for reading and appending, creating it with perm
// (less the umask) and its directory (0750) when missing. It never follows
// a symlink at path: one planted there would send RAZAR's writes, with its
// rights, wherever it points. It refuses anything but a regular file. The
// error names the file and the fix; for a symlink it wraps ErrSymlink.
func OpenAppend(path string, perm os.FileMode) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, perm)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s: %w; refusing to write through it (fix: remove the symlink, RAZAR creates the file)", path, ErrSymlink)
		}
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (%v); refusing to write to it (fix: remove it, RAZAR creates the file)", path, st.Mode().Type())
	}
	return f, nil
}

// Check refuses directories other users can write (the RAZAR home and its
// state/): whoever can write them can plant the links and files RAZAR
// trusts. A world-writable directory is an error naming it and the fix; a
// group-writable one is a warning, returned for the caller to log. A
// missing directory is skipped: RAZAR creates its own private.
func Check(dirs ...string) (warnings []string, err error) {
	for _, dir := range dirs {
		st, err := os.Stat(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return warnings, err
		}
		if !st.IsDir() {
			return warnings, fmt.Errorf("%s is not a directory", dir)
		}
		mode := st.Mode().Perm()
		switch {
		case mode&0o002 != 0:
			return warnings, fmt.Errorf("%s is writable by every user (mode %04o), who could plant files RAZAR trusts; refusing to run from it (fix: chmod o-w %s)", dir, mode, shellQuote(dir))
		case mode&0o020 != 0:
			warnings = append(warnings, fmt.Sprintf("%s is writable by its group (mode %04o): every member can plant files RAZAR trusts (fix, unless that group is only you: chmod g-w %s)", dir, mode, shellQuote(dir)))
		}
	}
	return warnings, nil
}

// shellQuote quotes s for a shell when it holds anything but the
// characters of ordinary paths.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=,:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// WriteAtomic writes data to a temp file beside path, syncs it and renames
// it over path, so a crash leaves the old file or the new one, never half.
// It creates path's directory (0750) when missing. The new file has mode
// perm exactly, whatever the umask: pass 0o600 or 0o640 for files of the
// home. It is the one atomic file writer of RAZAR: every file replaced
// whole goes through it (or WriteAtomicFunc).
//
// It never writes through a symlink: the temp file gets a fresh random name
// and is created with O_CREAT|O_EXCL, which fails on anything already under
// that name (a file, a link, even a dangling one) and never follows it; the
// rename replaces a link at path instead of following it.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return WriteAtomicFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomicFunc is WriteAtomic for content written by fill, streamed
// into the temp file, and without creating path's directory. When fill or
// any step fails the temp file is removed, path is left as it was, and the
// error comes back.
//
// The temp file and its rename are google/renameio's PendingFile, kept in
// path's own directory (never os.TempDir, which other users can write);
// after the rename the directory is synced too, so the rename survives a
// crash.
func WriteAtomicFunc(path string, perm os.FileMode, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(perm))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return err
	}
	// Make the rename itself durable; a failure here loses nothing written.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ID returns the identity of a RAZAR home, kept in file (state/home.id):
// 16 random bytes in hex, created once, atomically, and read back after.
// It stays the same when the home is moved or RAZAR restarts, and differs
// between two homes, even copies made before their first boot. A file
// that is not such an id is an error naming it and the fix.
func ID(file string) (string, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 16)
		if _, err := rand.Read(raw); err != nil {
			return "", err
		}
		id := hex.EncodeToString(raw)
		if err := WriteAtomic(file, []byte(id+"\n"), 0o640); err != nil {
			return "", err
		}
		return id, nil
	}
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(b))
	if raw, err := hex.DecodeString(id); err != nil || len(raw) != 16 {
		return "", fmt.Errorf("%s is not a home id (32 hex digits) (fix: remove it; RAZAR writes a new one, and alerts from before then no longer match)", file)
	}
	return id, nil
}
