package patch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// resolveWorkdir returns workdir as an absolute path with its own symlinks
// resolved (so /tmp -> /private/tmp style links do not count as escapes);
// it must be a directory.
func resolveWorkdir(workdir string) (string, error) {
	if workdir == "" {
		return "", errors.New("patch: empty workdir")
	}
	abs, err := filepath.Abs(workdir)
	if err != nil {
		return "", fmt.Errorf("patch: workdir %s: %w", workdir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("patch: workdir %s: %w", workdir, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("patch: workdir %s: %w", workdir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("patch: workdir %s is not a directory", workdir)
	}
	return real, nil
}

// Bounds on one path from a diff: a name component longer than NAME_MAX
// could never be created, and a workdir-relative path this long is no
// honest fix.
const (
	maxNameBytes = 255
	maxPathBytes = 1024
)

// cleanRel turns a name from a diff into a clean, slash-separated path
// relative to the workdir, or refuses it with a *RejectError.
func cleanRel(name string) (string, error) {
	switch {
	case name == "":
		return "", reject("empty file name")
	case len(name) > maxPathBytes:
		return "", reject("%s: path longer than %d bytes", show(name), maxPathBytes)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", reject("%s: file name has control characters", show(name))
	case strings.HasPrefix(name, "/") || filepath.IsAbs(name):
		return "", reject("%s: absolute path; patches may only touch files inside the workdir", show(name))
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == ".." {
			return "", reject("%s: path leaves the workdir (\"..\")", show(name))
		}
		if len(part) > maxNameBytes {
			return "", reject("%s: file name longer than %d bytes", show(name), maxNameBytes)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", reject("%s: names the workdir itself, not a file", show(name))
	}
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", reject("%s: not a path inside the workdir", show(name))
	}
	return clean, nil
}

// show quotes a name from a diff for a message, cut short if long.
func show(name string) string {
	if len(name) > 80 {
		return strconv.Quote(name[:60]) + "..."
	}
	return strconv.Quote(name)
}

// inspect walks rel under root one component at a time without following
// symlinks. It returns the final element's info, or nil when it (or a
// parent) does not exist. A symlink anywhere on the way, or a parent that is
// not a directory, is a *RejectError.
func inspect(root, rel string) (fs.FileInfo, error) {
	parts := strings.Split(rel, "/")
	cur := root
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		sub := strings.Join(parts[:i+1], "/")
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(cur)
			if sub == rel {
				return nil, reject("%s: is a symlink (-> %s); symlinks are never patched or followed", rel, target)
			}
			return nil, reject("%s: path goes through symlink %s (-> %s); symlinks are never followed", rel, sub, target)
		}
		if i == len(parts)-1 {
			return fi, nil
		}
		if !fi.IsDir() {
			return nil, reject("%s: %s is not a directory", rel, sub)
		}
	}
	return nil, nil // not reached: parts is never empty
}

// regularFile inspects rel under root and wants an existing regular file.
func regularFile(root, rel string) (fs.FileInfo, error) {
	fi, err := inspect(root, rel)
	switch {
	case err != nil:
		return nil, err
	case fi == nil:
		return nil, reject("%s: does not exist in the workdir", rel)
	case !fi.Mode().IsRegular():
		return nil, reject("%s: is %s, not a regular file", rel, kind(fi.Mode()))
	}
	return fi, nil
}

// kind names a file type for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// absent inspects rel under root and wants nothing there.
func absent(root, rel string) error {
	fi, err := inspect(root, rel)
	if err != nil {
		return err
	}
	if fi != nil {
		return reject("%s: already exists in the workdir", rel)
	}
	return nil
}

// missingDirs returns the parent directories of rel under root that do not
// exist yet, outermost first.
func missingDirs(root, rel string) []string {
	var out []string
	for d := path.Dir(rel); d != "."; d = path.Dir(d) {
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(d))); err == nil {
			break
		}
		out = append(out, d)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// dirMode is a directory copied by copyTree and the mode to give it once
// everything inside it is written.
type dirMode struct {
	path string
	perm os.FileMode
}

// copyTree copies the regular files and directories under src into dst,
// which must exist, preserving permission bits. Symlinks, sockets, devices
// and pipes are skipped. Directories are created owner-writable; the
// returned list gives their real modes, innermost last, for setDirModes.
func copyTree(src, dst string) ([]dirMode, error) {
	var dirs []dirMode
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if rel != "." {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
			dirs = append(dirs, dirMode{target, fi.Mode().Perm()})
		case fi.Mode().IsRegular():
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, in)
			if err == nil {
				err = out.Chmod(fi.Mode().Perm())
			}
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			return err
		}
		return nil
	})
	return dirs, err
}

// setDirModes gives copied directories their modes, innermost first.
func setDirModes(dirs []dirMode) error {
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].perm|0o700); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes r to name through a temporary file in the same
// directory and a rename, so a crash leaves the old file or the new one. It
// returns the hex sha256 of what it wrote.
func writeAtomic(name string, r io.Reader, perm os.FileMode) (string, error) {
	return writeAtomicFunc(name, perm, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

// writeAtomicFunc is writeAtomic with the content written by fill. When fill
// fails nothing is renamed and its error comes back.
func writeAtomicFunc(name string, perm os.FileMode, fill func(io.Writer) error) (string, error) {
	dir, base := filepath.Split(name)
	tmp, err := os.CreateTemp(dir, "."+base+".razar-*")
	if err != nil {
		return "", err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	if err := fill(io.MultiWriter(tmp, h)); err != nil {
		return "", err
	}
	if err := tmp.Chmod(perm); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return "", err
	}
	done = true
	syncDir(dir)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyAtomic copies the file src to dst with writeAtomic.
func copyAtomic(dst, src string, perm os.FileMode) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	return writeAtomic(dst, in, perm)
}

// syncDir flushes a directory's entries after a rename or removal. Best
// effort: some filesystems refuse fsync on directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// wantExec sets or clears the executable bits of perm, as git's 100755 and
// 100644 do: x follows r.
func wantExec(perm os.FileMode, exec bool) os.FileMode {
	if exec {
		return perm | (perm&0o444)>>2
	}
	return perm &^ 0o111
}

// mkdirSynced makes dir and its missing parents (0700) and fsyncs the
// directory holding each one it made, so the new names survive a crash as
// the files later written into them do.
func mkdirSynced(dir string) error {
	var made []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		made = append(made, d)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range made {
		syncDir(filepath.Dir(d))
	}
	return nil
}
