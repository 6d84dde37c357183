// Package homedir guards the files of the RAZAR home against other users of
// the machine: appends that never follow a planted symlink, and a check
// that nobody else can write the home, where such links would be planted.
package homedir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
// The new file has mode perm: pass 0o600 or 0o640 for files of the home.
//
// It never writes through a symlink: the temp file gets a fresh random name
// and is created with O_EXCL|O_NOFOLLOW, so nothing planted under that name
// (a file, a link, even a dangling one) is opened, and the rename replaces a
// link at path instead of following it.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := createTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable; a failure here loses nothing written.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// createTemp creates a new, empty file (0600) named prefix and a random
// suffix in dir, trying another name while one is taken.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		f, err := openNew(filepath.Join(dir, prefix+rand.Text()))
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create a temp file in %s: every name tried was taken", dir)
}

// openNew creates name for writing, failing with fs.ErrExist when anything
// at all is there already, a symlink included: it never opens an existing
// file or follows a link.
func openNew(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
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
