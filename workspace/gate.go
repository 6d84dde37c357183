package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/razar/razar/config"
)

// DefaultDeny are the names no rung is ever shown, matched against every
// segment of a workdir path, case-insensitively: a directory that matches
// hides everything under it. A component's context.exclude adds to them,
// its context.include lifts them for the paths it names.
var DefaultDeny = []string{
	".env*", "*.pem", "*.key", "*.p12", "id_*", "*secret*", "*credential*", "*.creds", "*token*",
	".git", ".ssh",
}

// nofollow opens a path only when it is not a symlink.
const nofollow = syscall.O_NOFOLLOW

// MaxFileBytes is the size cap: a larger file is listed, never read.
const MaxFileBytes = 512 << 10

// Verdicts of the gate, as the audit records them.
const (
	VerdictOK        = "ok"
	VerdictOutside   = "refused: outside the workdir"
	VerdictSymlink   = "refused: symlink"
	VerdictDenied    = "refused: denied"
	VerdictBinary    = "refused: binary"
	VerdictTooLarge  = "refused: over the size cap"
	VerdictMissing   = "refused: no such file"
	VerdictBad       = "refused: bad request"
	VerdictNotServed = "refused: not served here"
)

// refusal is why the gate refused a path: a verdict for the audit and a
// text a model can act on.
type refusal struct {
	verdict, msg string
}

func (r *refusal) Error() string { return r.msg }

func refuse(verdict, format string, args ...any) *refusal {
	return &refusal{verdict: verdict, msg: fmt.Sprintf(format, args...)}
}

// cleanRel turns a path a rung gave into a clean workdir-relative slash
// path, or refuses it: absolute paths and ".." never name a workdir file.
func cleanRel(p string) (string, *refusal) {
	orig := p
	p = strings.TrimSpace(p)
	if p == "" {
		return "", refuse(VerdictBad, "no path given: name a file relative to the workdir, as `list` shows them")
	}
	if strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
		return "", refuse(VerdictBad, "path %q holds a NUL or a backslash: use / between the parts of a workdir-relative path", orig)
	}
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, "~") {
		return "", refuse(VerdictOutside, "path %q is absolute: rungs see only the workdir; give a path relative to it, as `list` shows them", orig)
	}
	var segs []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
			continue
		case "..":
			return "", refuse(VerdictOutside, "path %q uses ..: rungs see only the workdir; give a path relative to it, as `list` shows them", orig)
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return ".", nil
	}
	return strings.Join(segs, "/"), nil
}

// denied says why rel may not be shown, or "" when it may: the
// component's exclude globs first, then the default deny-list unless an
// include glob names the path.
func (v *View) denied(rel string) string {
	if rel == "." {
		return ""
	}
	for _, h := range v.hidden {
		if rel == h || strings.HasPrefix(rel, h+"/") {
			return "RAZAR's own files (" + h + ")"
		}
	}
	for _, g := range v.exclude {
		if config.GlobCovers(g, rel) {
			return fmt.Sprintf("context.exclude %q", g)
		}
	}
	for _, g := range v.include {
		if config.GlobCovers(g, rel) {
			return ""
		}
	}
	for seg := range strings.SplitSeq(rel, "/") {
		if d := defaultDenied(strings.ToLower(seg)); d != "" {
			return "the deny-list (" + d + ")"
		}
	}
	return ""
}

// defaultDenied is the DefaultDeny pattern a lower-case name matches, or
// "": DefaultDeny's globs spelled as string tests, since every path of a
// listing passes here (TestDefaultDeniedIsDefaultDeny keeps them one).
func defaultDenied(name string) string {
	switch {
	case strings.HasPrefix(name, ".env"):
		return ".env*"
	case strings.HasSuffix(name, ".pem"):
		return "*.pem"
	case strings.HasSuffix(name, ".key"):
		return "*.key"
	case strings.HasSuffix(name, ".p12"):
		return "*.p12"
	case strings.HasPrefix(name, "id_"):
		return "id_*"
	case strings.Contains(name, "secret"):
		return "*secret*"
	case strings.Contains(name, "credential"):
		return "*credential*"
	case strings.HasSuffix(name, ".creds"):
		return "*.creds"
	case strings.Contains(name, "token"):
		return "*token*"
	case name == ".git", name == ".ssh":
		return name
	}
	return ""
}

// DefaultDenied reports the DefaultDeny pattern name (one path segment)
// matches, case-insensitively, or "".
func DefaultDenied(name string) string { return defaultDenied(strings.ToLower(name)) }

// gate checks a rung's path before anything is read: inside the workdir,
// not denied, no symlink on the way. It returns the clean relative path.
func (v *View) gate(p string) (string, *refusal) {
	rel, r := cleanRel(p)
	if r != nil {
		return "", r
	}
	if why := v.denied(rel); why != "" {
		return "", refuse(VerdictDenied, "%s is not shown to rungs (%s); nothing was read", rel, why)
	}
	if r := v.noSymlink(rel); r != nil {
		return "", r
	}
	return rel, nil
}

// noSymlink refuses rel when any component of it is a symlink, or when it
// does not exist.
func (v *View) noSymlink(rel string) *refusal {
	if rel == "." {
		return nil
	}
	segs := strings.Split(rel, "/")
	for i := range segs {
		sub := strings.Join(segs[:i+1], "/")
		fi, err := v.root.Lstat(sub)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return refuse(VerdictMissing, "no file %s in the workdir%s", rel, v.suggest(rel))
			}
			return refuse(VerdictMissing, "%s cannot be read: %v", rel, errors.Unwrap(err))
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return refuse(VerdictSymlink, "%s is a symlink: rungs see no file through a symlink; nothing was read", sub)
		}
		if i < len(segs)-1 && !fi.IsDir() {
			return refuse(VerdictMissing, "no file %s in the workdir: %s is not a directory", rel, sub)
		}
	}
	return nil
}

// suggest names listed files with the same base name as rel, for a model
// that guessed a path.
func (v *View) suggest(rel string) string {
	base := path.Base(rel)
	var near []string
	for _, f := range v.files {
		if path.Base(f.Path) == base {
			near = append(near, f.Path)
			if len(near) == 3 {
				break
			}
		}
	}
	if len(near) > 0 {
		return "; files named " + base + ": " + strings.Join(near, ", ")
	}
	return "; `list` shows the files there are"
}

// readText reads a gated file whole, refusing directories, files over the
// size cap and binaries. The file is opened without following a symlink
// under the workdir's root and checked again after the open, so a path
// swapped for a symlink meanwhile is refused too.
func (v *View) readText(rel string) (string, *refusal) {
	f, err := v.root.OpenFile(rel, os.O_RDONLY|nofollow|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return "", refuse(VerdictSymlink, "%s is a symlink: rungs see no file through a symlink; nothing was read", rel)
		}
		return "", refuse(VerdictMissing, "%s cannot be read%s", rel, v.suggest(rel))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", refuse(VerdictMissing, "%s cannot be read", rel)
	}
	if st.IsDir() {
		return "", refuse(VerdictBad, "%s is a directory: `list` with glob %q shows what is in it", rel, rel+"/*")
	}
	if !st.Mode().IsRegular() {
		return "", refuse(VerdictBinary, "%s is not a regular file; nothing was read", rel)
	}
	if lst, err := v.root.Lstat(rel); err != nil || !os.SameFile(st, lst) {
		return "", refuse(VerdictSymlink, "%s changed while it was opened (a symlink?); nothing was read", rel)
	}
	if r := v.noSymlink(rel); r != nil {
		return "", r
	}
	if st.Size() > MaxFileBytes {
		return "", refuse(VerdictTooLarge, "%s is %d bytes, over the %d-byte cap: not shown; `search` does not cover it either", rel, st.Size(), MaxFileBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return "", refuse(VerdictMissing, "%s cannot be read", rel)
	}
	if len(b) > MaxFileBytes {
		return "", refuse(VerdictTooLarge, "%s is over the %d-byte cap: not shown", rel, MaxFileBytes)
	}
	if !isText(b) {
		return "", refuse(VerdictBinary, "%s is not text (binary: a NUL byte or invalid UTF-8); not shown", rel)
	}
	return string(b), nil
}

// isText reports whether b is text a model may be shown: valid UTF-8
// without NUL bytes.
func isText(b []byte) bool {
	return bytes.IndexByte(b, 0) < 0 && utf8.Valid(b)
}

// Shows reports whether the gate lets a rung see the workdir file p: inside
// the workdir, not denied, no symlink on the way. The patch engine asks it
// before it quotes a file's lines in a refusal (patch.Limits.Quote).
func (v *View) Shows(p string) bool {
	_, r := v.gate(p)
	return r == nil
}
