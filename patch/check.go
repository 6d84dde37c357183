package patch

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
)

// limits returns lim with defaults filled in and Protected cleaned, or an
// error wrapping razar.ErrInvalidConfig.
func (lim Limits) withDefaults() (Limits, error) {
	if lim.MaxBytes < 0 || lim.MaxFiles < 0 {
		return lim, fmt.Errorf("patch limits: MaxBytes %d, MaxFiles %d: negative: %w", lim.MaxBytes, lim.MaxFiles, razar.ErrInvalidConfig)
	}
	if lim.MaxBytes == 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxFiles == 0 {
		lim.MaxFiles = DefaultMaxFiles
	}
	prot := make([]Protection, 0, len(lim.Protected))
	for _, p := range lim.Protected {
		switch {
		case p.Glob != "" && p.Path != "":
			return lim, fmt.Errorf("patch limits: protection %q/%q sets both Path and Glob: %w", p.Path, p.Glob, razar.ErrInvalidConfig)
		case p.Glob != "":
			if err := config.ValidProtectGlob(p.Glob); err != nil {
				return lim, fmt.Errorf("patch limits: protect glob: %v: %w", err, razar.ErrInvalidConfig)
			}
		default:
			c, err := cleanRel(filepath.ToSlash(p.Path))
			if err != nil {
				return lim, fmt.Errorf("patch limits: protected path %q must be relative to the workdir: %w", p.Path, razar.ErrInvalidConfig)
			}
			p.Path = c
		}
		if p.Why == "" {
			p.Why = "protected by the caller"
		}
		prot = append(prot, p)
	}
	lim.Protected = prot
	return lim, nil
}

// Check places diff, a git-style or plain unified diff (exact or sloppy)
// or search/replace blocks, against workdir (see Placement in the package
// doc), then parses the placed diff and checks it, without changing
// anything. It refuses, with a *RejectError (wrapping ErrRejected) whose
// Reason names the problem and the file:
//
//   - an empty diff, or text with no file headers ("not a diff"), or one
//     go-gitdiff cannot parse;
//   - a hunk or block that matches nowhere in its file, or in more than one
//     place and not at its stated line ("hunk 2 of app.conf (first lines
//     ...) does not match app.conf ... The nearest place is lines 14-20
//     ..."), a malformed hunk or block, or more misplaced hunks than the
//     search budget allows;
//   - a diff over lim.MaxBytes, or touching more than lim.MaxFiles files;
//   - a path that is absolute, has a ".." component, has control
//     characters, or names the workdir itself;
//   - a path through a symlink, or whose target is a symlink, anywhere in
//     the workdir (symlinks are never followed, wherever they point);
//   - binary patches, copies, symlinks and submodules (git modes 120000 and
//     160000);
//   - a file to modify, delete or rename that is missing or not a regular
//     file, a file to create that already exists, a file touched twice, a
//     file with no change, and any path lim.Protected covers (the reason
//     says which and why: "check.sh: protected path: the validate script
//     (validate: sh ./check.sh); patches may not touch it").
//
// Names in git headers ("diff --git a/x b/x") lose their first component, as
// git apply does; in plain diffs a leading "a/" or "b/" is dropped and the
// rest kept as written; a git header without any prefix gets a/ and b/.
// The Plan's Files have SHA256Before read now, its Diff is the placed diff
// and its Placement the notes on every hunk not placed exactly as written;
// Check does not stage anything. A workdir that is not a directory, or bad
// Limits (wrapping razar.ErrInvalidConfig), give other errors.
func Check(diff, workdir string, lim Limits) (*Plan, error) {
	lim, err := lim.withDefaults()
	if err != nil {
		return nil, err
	}
	root, err := resolveWorkdir(workdir)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(diff) == "" {
		return nil, reject("empty diff")
	}
	if len(diff) > lim.MaxBytes {
		return nil, reject("diff is %d bytes, over the limit of %d", len(diff), lim.MaxBytes)
	}
	// Placement first, then every check below on the diff as placed:
	// nothing placement does can get past them.
	text := diff
	diff, notes, err := normalize(text, root, lim)
	if err != nil {
		return nil, err
	}
	if len(diff) > lim.MaxBytes {
		return nil, reject("diff is %d bytes once placed, over the limit of %d", len(diff), lim.MaxBytes)
	}
	files, _, err := gitdiff.Parse(strings.NewReader(diff))
	if err != nil {
		return nil, reject("not a valid diff: %v", err)
	}
	if len(files) == 0 {
		return nil, reject("not a diff: no file headers (\"diff --git\" or \"---\"/\"+++\" followed by \"@@\") found")
	}
	if len(files) > lim.MaxFiles {
		return nil, reject("diff touches %d files, over the limit of %d", len(files), lim.MaxFiles)
	}
	plain, err := plainHeaders(diff, len(files))
	if err != nil {
		return nil, err
	}

	p := &Plan{ID: NewID(), DiffSHA256: hashBytes([]byte(text)), Diff: diff, Placement: notes}
	if err := p.addFiles(root, files, plain, lim); err != nil {
		return nil, err
	}
	return p, nil
}

// addFiles checks each file of the diff and adds it to p. A path may be
// touched once, and not as a file and a directory in one diff.
func (p *Plan) addFiles(root string, files []*gitdiff.File, plain bool, lim Limits) error {
	seen := map[string]bool{}
	for _, f := range files {
		fc, c, err := checkFile(root, f, plain, lim)
		if err != nil {
			return err
		}
		for _, name := range []string{fc.OldPath, fc.Path} {
			if name == "" {
				continue
			}
			if seen[name] {
				return reject("%s: touched more than once in one diff", name)
			}
			seen[name] = true
		}
		p.Files = append(p.Files, fc)
		p.changes = append(p.changes, c)
	}
	// A file created under a path another change deletes or renames away
	// (or the reverse) would depend on the order of the changes.
	for name := range seen {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if seen[d] {
				return reject("%s: %s is touched as a file in the same diff", name, d)
			}
		}
	}
	return nil
}

// plainHeaders reports whether the diff's file headers are plain unified
// ones ("--- a/x" "+++ b/x"), whose names go-gitdiff keeps with their
// prefix, rather than git's, whose names it strips. A mix is refused.
func plainHeaders(diff string, files int) (bool, error) {
	git := 0
	for line := range strings.Lines(diff) {
		if strings.HasPrefix(line, "diff --git ") {
			git++
		}
	}
	switch git {
	case 0:
		return true, nil
	case files:
		return false, nil
	}
	return false, reject("diff mixes %d git file headers with %d plain ones", git, files-git)
}

// checkFile checks one file of the diff against the workdir at root.
func checkFile(root string, f *gitdiff.File, plain bool, lim Limits) (FileChange, change, error) {
	c := change{file: f}
	fc, err := fileOp(f, plain)
	if err != nil {
		return fc, c, err
	}
	for _, n := range []string{fc.OldPath, fc.Path} {
		if n == "" {
			continue
		}
		if err := protected(n, lim); err != nil {
			return fc, c, err
		}
	}
	if err := checkContent(f, fc, &c); err != nil {
		return fc, c, err
	}
	switch fc.Op {
	case OpCreate:
		err = absent(root, fc.Path)
	case OpRename:
		if fc.SHA256Before, err = sourceHash(root, fc.OldPath); err == nil {
			err = absent(root, fc.Path)
		}
	default:
		fc.SHA256Before, err = sourceHash(root, fc.Path)
	}
	return fc, c, err
}

// fileOp is what the diff does to file f, and the clean workdir paths it
// names: in plain diffs without their a/ or b/.
func fileOp(f *gitdiff.File, plain bool) (FileChange, error) {
	var fc FileChange
	name := func(n string) (string, error) {
		if plain {
			if rest, ok := strings.CutPrefix(n, "a/"); ok {
				n = rest
			} else if rest, ok := strings.CutPrefix(n, "b/"); ok {
				n = rest
			}
		}
		return cleanRel(n)
	}
	var err error
	switch {
	case f.IsCopy:
		return fc, reject("%s: copy patches are not supported", show(f.NewName))
	case f.IsNew && f.IsDelete:
		return fc, reject("%s: both created and deleted", show(f.NewName))
	case f.IsNew:
		fc.Op = OpCreate
		fc.Path, err = name(f.NewName)
	case f.IsDelete:
		fc.Op = OpDelete
		fc.Path, err = name(f.OldName)
	case f.IsRename:
		fc.Op = OpRename
		if fc.OldPath, err = name(f.OldName); err == nil {
			fc.Path, err = name(f.NewName)
		}
	default:
		fc.Op = OpModify
		if fc.Path, err = name(f.NewName); err == nil {
			var old string
			if old, err = name(f.OldName); err == nil && old != fc.Path {
				err = reject("%s: old name %s differs but the diff is not a rename", fc.Path, old)
			}
		}
	}
	return fc, err
}

// checkContent refuses a binary patch, a mode other than a regular
// file's, a malformed hunk or a change with nothing in it, and sets the
// mode c gives its file.
func checkContent(f *gitdiff.File, fc FileChange, c *change) error {
	if f.IsBinary {
		return reject("%s: binary patch; only text diffs are accepted", fc.Path)
	}
	for _, m := range []os.FileMode{f.OldMode, f.NewMode} {
		if err := checkMode(fc.Path, m); err != nil {
			return err
		}
	}
	switch {
	case f.IsNew:
		c.perm = wantExec(0o644, f.NewMode&0o111 != 0)
	case f.IsDelete:
	case f.NewMode != 0 && f.NewMode != f.OldMode:
		x := f.NewMode&0o111 != 0
		c.exec = &x
	}
	for i, frag := range f.TextFragments {
		if err := frag.Validate(); err != nil {
			return reject("hunk %d of %s is malformed: %v", i+1, fc.Path, err)
		}
	}
	if fc.Op == OpModify && len(f.TextFragments) == 0 && c.exec == nil {
		return reject("%s: no changes", fc.Path)
	}
	return nil
}

// checkMode refuses git modes other than regular files.
func checkMode(name string, m os.FileMode) error {
	switch m &^ 0o777 {
	case 0, 0o100000:
		return nil
	case 0o120000:
		return reject("%s: symlink (git mode 120000); patches may not create or change symlinks", name)
	case 0o160000:
		return reject("%s: submodule (git mode 160000); patches may not touch submodules", name)
	}
	return reject("%s: unsupported git file mode %o", name, uint32(m))
}

// sourceHash wants rel to be a regular file under root and hashes it.
func sourceHash(root, rel string) (string, error) {
	if _, err := regularFile(root, rel); err != nil {
		return "", err
	}
	h, err := hashFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return "", fmt.Errorf("patch: %s: %w", rel, err)
	}
	return h, nil
}
