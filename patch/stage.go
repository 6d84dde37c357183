package patch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// Stage copies workdir into a fresh private directory under staging
// (normally razar.Home(home).Staging(); made 0700 if missing, and each stage is its
// own 0700 directory named after the plan), applies the plan there and
// returns that directory with a cleanup func that removes it, even when
// what ran in it made parts of it read-only. Regular files and directories
// are copied with their permission bits; symlinks and special files are
// left out. It records in p what each staged file became, for Promote. The
// real workdir is only read.
//
// Check placed every hunk, so a hunk that does not apply is rare: a
// deletion that does not cover its file, a hunk of a file too large to
// search. It is a *RejectError ("hunk 2 of app.conf does not apply at line
// 7: conflict: ..."); a file that changed since Check is an
// error wrapping ErrConflict; a staging path that is a symlink or not a
// directory a plain error. On any error Stage removes what it made and
// returns "" and a no-op cleanup; cleanup is never nil.
func Stage(p *Plan, workdir, staging string) (stageDir string, cleanup func(), err error) {
	noop := func() {}
	if p == nil || len(p.changes) != len(p.Files) {
		return "", noop, errors.New("patch: Stage needs a plan from Check")
	}
	root, err := resolveWorkdir(workdir)
	if err != nil {
		return "", noop, err
	}
	if err := stagingRoot(staging); err != nil {
		return "", noop, err
	}
	dir, err := os.MkdirTemp(staging, stagePrefix(p.ID))
	if err != nil {
		return "", noop, fmt.Errorf("patch: stage: %w", err)
	}
	cleanup = func() { removeTree(dir) }
	fail := func(err error) (string, func(), error) {
		cleanup()
		return "", noop, err
	}
	dirs, err := copyTree(root, dir)
	if err != nil {
		return fail(fmt.Errorf("patch: stage: copy workdir: %w", err))
	}
	for i := range p.changes {
		p.changes[i].isStaged = false
	}
	for i := range p.changes {
		if err := p.stageOne(dir, i); err != nil {
			return fail(err)
		}
	}
	if err := setDirModes(dirs[1:]); err != nil { // the stage itself stays 0700
		return fail(fmt.Errorf("patch: stage: %w", err))
	}
	return dir, cleanup, nil
}

// stageOne applies the i-th change inside the staging directory dir.
func (p *Plan) stageOne(dir string, i int) error {
	fc, c := p.Files[i], &p.changes[i]
	src := fc.Path
	if fc.Op == OpRename {
		src = fc.OldPath
	}
	in, perm, closeIn, err := p.stageSource(dir, i, src)
	if err != nil {
		return err
	}
	defer closeIn()
	if fc.Op == OpDelete {
		return stageDelete(dir, src, in, c)
	}
	if err := os.MkdirAll(filepath.Dir(join(dir, fc.Path)), 0o755); err != nil {
		return fmt.Errorf("patch: stage: %w", err)
	}
	var w errWriter
	var aerr error
	h, err := writeAtomicFunc(join(dir, fc.Path), perm, func(out io.Writer) error {
		w.w = out
		aerr = gitdiff.Apply(&w, in, c.file)
		return aerr
	})
	if aerr != nil {
		return applyErr(aerr, &w, fc.Path)
	}
	if err != nil {
		return fmt.Errorf("patch: stage: %s: %w", fc.Path, err)
	}
	if fc.Op == OpRename {
		if err := os.Remove(join(dir, fc.OldPath)); err != nil {
			return fmt.Errorf("patch: stage: %w", err)
		}
	}
	c.staged, c.perm, c.isStaged = h, perm, true
	return nil
}

// stageSource opens the file the i-th change applies to (src, inside the
// staging directory dir), checked against the sha256 Check saw, with the
// mode the result gets; for a created file, an empty source, checked
// absent. closeIn is never nil.
func (p *Plan) stageSource(dir string, i int, src string) (in io.ReaderAt, perm os.FileMode, closeIn func(), err error) {
	fc, c := p.Files[i], &p.changes[i]
	noop := func() {}
	if fc.Op == OpCreate {
		if err := absent(dir, fc.Path); err != nil {
			return nil, 0, noop, err
		}
		return bytes.NewReader(nil), c.perm, noop, nil
	}
	fi, err := regularFile(dir, src)
	if err != nil {
		return nil, 0, noop, fmt.Errorf("patch: stage: %w", err)
	}
	h, err := hashFile(join(dir, src))
	if err != nil {
		return nil, 0, noop, fmt.Errorf("patch: stage: %w", err)
	}
	if h != fc.SHA256Before {
		return nil, 0, noop, fmt.Errorf("patch: stage: %s changed since Check (sha256 %s, was %s): %w", src, short(h), short(fc.SHA256Before), ErrConflict)
	}
	f, err := os.Open(join(dir, src))
	if err != nil {
		return nil, 0, noop, fmt.Errorf("patch: stage: %w", err)
	}
	perm = fi.Mode().Perm()
	if c.exec != nil {
		perm = wantExec(perm, *c.exec)
	}
	return f, perm, func() { f.Close() }, nil
}

// stageDelete removes src from the staging directory dir once the change
// c, a deletion, covers it whole. Apply still checks the deleted lines
// against the file and that nothing is left after them.
func stageDelete(dir, src string, in io.ReaderAt, c *change) error {
	var w errWriter
	w.w = &nonEmpty{}
	if err := gitdiff.Apply(&w, in, c.file); err != nil {
		return applyErr(err, &w, src)
	}
	if w.w.(*nonEmpty).n > 0 {
		return reject("%s: the deletion does not cover the whole file", src)
	}
	if err := os.Remove(join(dir, src)); err != nil {
		return fmt.Errorf("patch: stage: %w", err)
	}
	c.staged, c.perm, c.isStaged = "", 0, true
	return nil
}

// applyErr turns a go-gitdiff apply failure into a *RejectError naming the
// hunk, unless it was our own writer that failed.
func applyErr(err error, w *errWriter, name string) error {
	if w.err != nil {
		return fmt.Errorf("patch: stage: %s: %w", name, w.err)
	}
	var ae *gitdiff.ApplyError
	if errors.As(err, &ae) {
		cause := ae.Unwrap()
		if errors.Is(cause, io.ErrUnexpectedEOF) {
			cause = errors.New("the file ends before the hunk does")
		}
		switch {
		case ae.Fragment > 0 && ae.Line > 0:
			return reject("hunk %d of %s does not apply at line %d: %v", ae.Fragment, name, ae.Line, cause)
		case ae.Fragment > 0:
			return reject("hunk %d of %s does not apply: %v", ae.Fragment, name, cause)
		}
		return reject("%s does not apply: %v", name, cause)
	}
	return reject("%s does not apply: %v", name, err)
}

// errWriter remembers the first error of the writer it wraps, so an apply
// failure can be told from a write failure.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	n, err := e.w.Write(b)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// nonEmpty counts what is written to it.
type nonEmpty struct{ n int }

func (c *nonEmpty) Write(b []byte) (int, error) { c.n += len(b); return len(b), nil }

// join is root joined with a slash-separated relative path.
func join(root, rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
