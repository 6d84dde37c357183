package patch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/razar/razar"
)

// stagePrefix names a stage after its patch, so a leftover says whose it was.
func stagePrefix(id string) string {
	if id == "" || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		id = "patch"
	}
	return id + "-"
}

// stagingRoot makes sure staging is a real directory only its owner can
// enter: created 0700 if missing, its mode narrowed to 0700 if wider. A
// symlink there is refused, wherever it points.
func stagingRoot(staging string) error {
	if staging == "" {
		return errors.New("patch: stage: no staging directory (want " + razar.Home("<home>").Staging() + ")")
	}
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return fmt.Errorf("patch: stage: %w", err)
	}
	fi, err := os.Lstat(staging)
	if err != nil {
		return fmt.Errorf("patch: stage: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("patch: stage: %s is %s, not a directory", staging, kind(fi.Mode()))
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(staging, 0o700); err != nil {
			return fmt.Errorf("patch: stage: %w", err)
		}
	}
	return nil
}

// CleanStaging removes every stage left under home's Staging directory, by a
// RAZAR that was killed while it validated a patch, and returns how many it
// removed. Call it when RAZAR starts, before any patch is staged: it does
// not know which stages are in use. A missing Staging directory is not an error;
// one that is a symlink is refused and left alone.
func CleanStaging(home string) (int, error) {
	staging := razar.Home(home).Staging()
	fi, err := os.Lstat(staging)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("patch: clean staging: %w", err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("patch: clean staging: %s is %s, not a directory; remove it by hand", staging, kind(fi.Mode()))
	}
	entries, err := os.ReadDir(staging)
	if err != nil {
		return 0, fmt.Errorf("patch: clean staging: %w", err)
	}
	var errs []error
	n := 0
	for _, e := range entries {
		if err := removeTree(filepath.Join(staging, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("patch: clean staging: %w", err)
	}
	return n, nil
}

// removeTree removes dir and everything under it. What a validate command
// made unwritable or unreadable inside it is made writable first; symlinks
// are removed, never followed.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700) // before WalkDir reads it
		}
		return nil
	})
	return os.RemoveAll(dir)
}
