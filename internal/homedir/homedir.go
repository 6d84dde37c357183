// Package homedir guards the files of the RAZAR home against other users of
// the machine: appends that never follow a planted symlink, and a check
// that nobody else can write the home, where such links would be planted.
package homedir

import (
	"errors"
	"fmt"
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
