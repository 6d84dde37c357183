package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ManifestName is the file, in a backup directory, that Promote writes and
// Revert reads.
const ManifestName = "manifest.json"

// manifestVersion is the version of the Manifest format.
const manifestVersion = 1

// Manifest states.
const (
	StatePromoting = "promoting" // backups taken, files being swapped in
	StateApplied   = "applied"   // every file swapped in
	StateReverted  = "reverted"  // Revert restored the files
)

// Manifest is a backup directory's manifest.json: what a patch touched and
// how to undo it.
type Manifest struct {
	V           int          `json:"v"`
	PatchID     string       `json:"patch_id"`
	Workdir     string       `json:"workdir"` // absolute, symlinks resolved
	State       string       `json:"state"`   // StatePromoting, StateApplied, StateReverted
	Created     time.Time    `json:"created"`
	Reverted    time.Time    `json:"reverted,omitzero"`
	DiffSHA256  string       `json:"diff_sha256,omitempty"` // the Plan's; absent in manifests older than Resume
	Files       []FileChange `json:"files"`                 // the plan's changes, with SHA256After
	Entries     []Entry      `json:"entries"`               // one per path touched
	CreatedDirs []string     `json:"created_dirs,omitempty"`
}

// Entry is one path a patch touched and its saved copy.
type Entry struct {
	Path         string `json:"path"`
	Existed      bool   `json:"existed"`          // false: the patch created it; Revert removes it
	Mode         uint32 `json:"mode,omitempty"`   // permission bits before, when Existed
	Backup       string `json:"backup,omitempty"` // the saved copy, relative to the backup dir
	SHA256Before string `json:"sha256_before,omitempty"`
	SHA256After  string `json:"sha256_after,omitempty"` // "" when the patch removes it
	ModeAfter    uint32 `json:"mode_after,omitempty"`   // permission bits the patch gives it; 0 when it removes it or in older manifests
}

// ReadManifest reads backupDir's manifest. A missing one is an error
// wrapping ErrNothingToRevert.
func ReadManifest(backupDir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(backupDir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("patch: no %s in %s: %w", ManifestName, backupDir, ErrNothingToRevert)
	}
	if err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("patch: %s: %w", filepath.Join(backupDir, ManifestName), err)
	}
	if m.V != manifestVersion {
		return nil, fmt.Errorf("patch: %s: manifest version %d, want %d", filepath.Join(backupDir, ManifestName), m.V, manifestVersion)
	}
	for _, e := range m.Entries {
		if c, err := cleanRel(e.Path); err != nil || c != e.Path {
			return nil, fmt.Errorf("patch: %s: bad entry path %q", filepath.Join(backupDir, ManifestName), e.Path)
		}
		if e.Existed && e.Backup != "files/"+e.Path {
			return nil, fmt.Errorf("patch: %s: bad backup path %q for %s", filepath.Join(backupDir, ManifestName), e.Backup, e.Path)
		}
	}
	for _, d := range m.CreatedDirs {
		if c, err := cleanRel(d); err != nil || c != d {
			return nil, fmt.Errorf("patch: %s: bad created dir %q", filepath.Join(backupDir, ManifestName), d)
		}
	}
	return &m, nil
}

// writeManifest replaces backupDir's manifest atomically: a temporary file,
// fsynced, renamed over the old one, and the directory fsynced.
func writeManifest(backupDir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	_, err = writeAtomic(filepath.Join(backupDir, ManifestName), strings.NewReader(string(b)+"\n"), 0o600)
	return err
}

// swap is one entry's work in Promote.
type swap struct {
	staged string // the staged file to copy in; "" to remove the target
	perm   os.FileMode
}

// Promote swaps the staged result of p into workdir. First it checks that
// every file the patch touches still has the sha256 Check saw, and that
// stageDir still holds what Stage produced; if not, the error wraps
// ErrConflict and nothing has changed. Then it copies every touched file
// that exists into backupDir/files/ and writes backupDir/manifest.json
// (backupDir is normally state/patches/<component>/<patch-id>/ and must not
// hold a manifest yet), fsynced, in StatePromoting and with the sha256
// every path has before and will have after, so that a crash at any point
// after leaves a manifest from which Resume can tell how far the swaps got.
// Then it swaps each file in: a temporary file in the
// target's directory renamed over it, or a removal for deletions (a rename
// writes the new name before removing the old). Missing parent directories
// are created and recorded. On success it fills each FileChange's
// SHA256After and marks the manifest StateApplied.
//
// If a swap fails, Promote restores the files it already swapped, removes
// the directories it made and the backup directory, and returns the error;
// if even that restore fails it keeps backupDir, so Revert can finish the
// job, and says so.
func Promote(p *Plan, stageDir, workdir, backupDir string) error {
	if p == nil || len(p.changes) != len(p.Files) {
		return errors.New("patch: Promote needs a plan from Check")
	}
	if backupDir == "" {
		return errors.New("patch: Promote needs a backup directory")
	}
	root, err := resolveWorkdir(workdir)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(backupDir, ManifestName)); err == nil {
		return fmt.Errorf("patch %s: %s already holds a %s: an earlier promotion of this patch was cut short; settle it with Resume first", p.ID, backupDir, ManifestName)
	}
	entries, swaps, err := p.promotion(root, stageDir)
	if err != nil {
		return fmt.Errorf("patch %s: %w", p.ID, err)
	}
	m, err := p.backUp(root, backupDir, entries)
	if err != nil {
		return err
	}
	if p.afterManifest != nil {
		p.afterManifest()
	}
	return p.swapAll(root, backupDir, m, swaps)
}

// backUp copies every existing file entries touch into backupDir/files/
// and writes the manifest, fsynced, in StatePromoting, before anything in
// the workdir changes. It leaves no half-made backup behind.
func (p *Plan) backUp(root, backupDir string, entries []Entry) (*Manifest, error) {
	if err := mkdirSynced(backupDir); err != nil {
		return nil, fmt.Errorf("patch %s: backup: %w", p.ID, err)
	}
	backedUp := false
	defer func() {
		if !backedUp { // leave no half-made backup behind
			os.RemoveAll(filepath.Join(backupDir, "files"))
			os.Remove(filepath.Join(backupDir, ManifestName))
			os.Remove(backupDir)
		}
	}()
	dirs, err := p.backUpEntries(root, backupDir, entries)
	if err != nil {
		return nil, err
	}
	files := append([]FileChange(nil), p.Files...)
	for i := range files {
		files[i].SHA256After = p.changes[i].staged
	}
	m := &Manifest{
		V:           manifestVersion,
		PatchID:     p.ID,
		Workdir:     root,
		State:       StatePromoting,
		Created:     time.Now().UTC(),
		DiffSHA256:  p.DiffSHA256,
		Files:       files,
		Entries:     entries,
		CreatedDirs: dirs,
	}
	// The manifest is on disk, fsynced, before the first workdir file changes.
	if err := writeManifest(backupDir, m); err != nil {
		return nil, fmt.Errorf("patch %s: backup manifest: %w", p.ID, err)
	}
	backedUp = true
	return m, nil
}

// backUpEntries copies each existing file of entries into backupDir,
// setting its Backup, checking it still has the sha256 Check saw, and
// returns the directories the patch's new files will need.
func (p *Plan) backUpEntries(root, backupDir string, entries []Entry) ([]string, error) {
	var dirs []string
	seenDir := map[string]bool{}
	for i := range entries {
		e := &entries[i]
		if !e.Existed {
			for _, d := range missingDirs(root, e.Path) {
				if !seenDir[d] {
					seenDir[d] = true
					dirs = append(dirs, d)
				}
			}
			continue
		}
		e.Backup = "files/" + e.Path
		dst := join(backupDir, e.Backup)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, fmt.Errorf("patch %s: backup: %w", p.ID, err)
		}
		h, err := copyAtomic(dst, join(root, e.Path), 0o600)
		if err != nil {
			return nil, fmt.Errorf("patch %s: backup %s: %w", p.ID, e.Path, err)
		}
		if h != e.SHA256Before {
			return nil, fmt.Errorf("patch %s: %s changed while it was backed up (sha256 %s, was %s): %w", p.ID, e.Path, short(h), short(e.SHA256Before), ErrConflict)
		}
	}
	return dirs, nil
}

// swapAll swaps each of m's entries in and marks m StateApplied. If a swap
// fails it restores the files already swapped and removes the backup; if
// even that fails it keeps the backup for Revert, and says so.
func (p *Plan) swapAll(root, backupDir string, m *Manifest, swaps []swap) error {
	entries := m.Entries
	var done []int
	var made []string
	fail := func(failure error) error {
		if rerr := restore(root, backupDir, entries, done, made); rerr != nil {
			return fmt.Errorf("%w; restoring the files already swapped failed too, backup kept in %s for Revert: %v", failure, backupDir, rerr)
		}
		os.RemoveAll(backupDir)
		return fmt.Errorf("%w (workdir restored)", failure)
	}
	for i, e := range entries {
		if p.beforeSwap != nil {
			p.beforeSwap(e.Path)
		}
		swapped, err := swapIn(root, e, swaps[i], &made)
		if swapped {
			done = append(done, i)
		}
		if err != nil {
			return fail(fmt.Errorf("patch %s: swap %s: %w", p.ID, e.Path, err))
		}
	}
	m.State = StateApplied
	if err := writeManifest(backupDir, m); err != nil {
		return fail(fmt.Errorf("patch %s: backup manifest: %w", p.ID, err))
	}
	copy(p.Files, m.Files)
	return nil
}

// promotion checks the workdir and the stage against p and lists the
// entries Promote will record, with the swap for each, in swap order.
func (p *Plan) promotion(root, stageDir string) ([]Entry, []swap, error) {
	var entries []Entry
	var swaps []swap
	add := func(e Entry, s swap) {
		entries = append(entries, e)
		swaps = append(swaps, s)
	}
	for i, fc := range p.Files {
		c := p.changes[i]
		if !c.isStaged {
			return nil, nil, fmt.Errorf("%s was not staged: call Stage first", fc.Path)
		}
		staged := swap{staged: join(stageDir, fc.Path), perm: c.perm}
		if fc.Op != OpDelete {
			h, err := hashFile(staged.staged)
			if err != nil {
				return nil, nil, fmt.Errorf("staged %s: %w", fc.Path, err)
			}
			if h != c.staged {
				return nil, nil, fmt.Errorf("staged %s changed after Stage (sha256 %s, staged %s): %w", fc.Path, short(h), short(c.staged), ErrConflict)
			}
		}
		switch fc.Op {
		case OpCreate:
			if err := absent(root, fc.Path); err != nil {
				return nil, nil, err
			}
			add(Entry{Path: fc.Path, SHA256After: c.staged, ModeAfter: uint32(c.perm)}, staged)
		case OpModify, OpDelete:
			fi, err := verifyHash(root, fc.Path, fc.SHA256Before)
			if err != nil {
				return nil, nil, err
			}
			e := Entry{Path: fc.Path, Existed: true, Mode: uint32(fi.Mode().Perm()), SHA256Before: fc.SHA256Before, SHA256After: c.staged}
			if fc.Op == OpDelete {
				staged = swap{}
			} else {
				e.ModeAfter = uint32(c.perm)
			}
			add(e, staged)
		case OpRename:
			fi, err := verifyHash(root, fc.OldPath, fc.SHA256Before)
			if err != nil {
				return nil, nil, err
			}
			if err := absent(root, fc.Path); err != nil {
				return nil, nil, err
			}
			add(Entry{Path: fc.Path, SHA256After: c.staged, ModeAfter: uint32(c.perm)}, staged)
			add(Entry{Path: fc.OldPath, Existed: true, Mode: uint32(fi.Mode().Perm()), SHA256Before: fc.SHA256Before}, swap{})
		default:
			return nil, nil, fmt.Errorf("%s: unknown op %q", fc.Path, fc.Op)
		}
	}
	return entries, swaps, nil
}

// swapIn puts one entry's new state in place under root: the staged file
// copied in atomically, or the target removed. swapped reports whether the
// target changed, even when err is set.
func swapIn(root string, e Entry, s swap, made *[]string) (swapped bool, err error) {
	// A symlink planted since the checks must not redirect the write.
	if _, err := inspect(root, e.Path); err != nil {
		return false, err
	}
	target := join(root, e.Path)
	if s.staged == "" {
		if err := os.Remove(target); err != nil {
			return false, err
		}
		syncDir(filepath.Dir(target))
		return true, nil
	}
	for _, d := range missingDirs(root, e.Path) {
		if err := os.Mkdir(join(root, d), 0o755); err != nil {
			return false, err
		}
		*made = append(*made, d)
	}
	h, err := copyAtomic(target, s.staged, s.perm)
	if err != nil {
		return false, err
	}
	if h != e.SHA256After {
		return true, fmt.Errorf("wrote sha256 %s, staged %s: %w", short(h), short(e.SHA256After), ErrConflict)
	}
	return true, nil
}

// restore undoes the entries listed in done, newest first, then removes
// the directories in made that are empty.
func restore(root, backupDir string, entries []Entry, done []int, made []string) error {
	var errs []error
	for j := len(done) - 1; j >= 0; j-- {
		e := entries[done[j]]
		if err := restoreEntry(root, backupDir, e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Path, err))
		}
	}
	removeEmptyDirs(root, made)
	return errors.Join(errs...)
}

// restoreEntry puts e's state from before the patch back under root.
func restoreEntry(root, backupDir string, e Entry) error {
	target := join(root, e.Path)
	if !e.Existed {
		if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		syncDir(filepath.Dir(target))
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	h, err := copyAtomic(target, join(backupDir, e.Backup), os.FileMode(e.Mode).Perm())
	if err != nil {
		return err
	}
	if h != e.SHA256Before {
		return fmt.Errorf("restored sha256 %s, want %s: the backup is damaged", short(h), short(e.SHA256Before))
	}
	return nil
}

// removeStaleTemps removes the temporary files writeAtomicFunc left beside
// target when a process writing it was killed before its rename: a revert
// run again leaves no such file behind in the workdir. Best effort.
func removeStaleTemps(target string) {
	dir, base := filepath.Split(target)
	stale, _ := filepath.Glob(filepath.Join(dir, "."+base+".razar-*"))
	for _, f := range stale {
		if fi, err := os.Lstat(f); err == nil && fi.Mode().IsRegular() {
			_ = os.Remove(f)
		}
	}
}

// removeEmptyDirs removes the directories dirs (relative to root, outermost
// first) that are empty, innermost first. Best effort.
func removeEmptyDirs(root string, dirs []string) {
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(join(root, dirs[i])) // fails, harmlessly, on a non-empty directory
	}
}

// verifyHash wants rel under root to be a regular file with sha256 want.
func verifyHash(root, rel, want string) (fs.FileInfo, error) {
	fi, err := regularFile(root, rel)
	if err != nil {
		return nil, err
	}
	h, err := hashFile(join(root, rel))
	if err != nil {
		return nil, err
	}
	if h != want {
		return nil, fmt.Errorf("%s changed since Check (sha256 %s, was %s): %w", rel, short(h), short(want), ErrConflict)
	}
	return fi, nil
}

// Revert undoes the patch whose backup is in backupDir: every file it
// changed or deleted gets its saved content and mode back, every file it
// created is removed (each atomically: temporary file and rename), and the
// directories it created go too if they are empty. It returns one
// FileChange per path with the sha256 before and after the revert (Op says
// what the revert did: OpModify, OpCreate for a file put back, OpDelete for
// one removed), and marks the manifest StateReverted.
//
// With no manifest in backupDir, or one already reverted, the error wraps
// ErrNothingToRevert. Before changing anything Revert checks each path holds
// what the patch left there (or already its pre-patch state, so a Revert
// cut short can be run again); a file changed since, by hand or by a later
// patch, is an error wrapping ErrConflict and nothing is touched.
func Revert(workdir, backupDir string) ([]FileChange, error) {
	m, err := ReadManifest(backupDir)
	if err != nil {
		return nil, err
	}
	if m.State == StateReverted {
		return nil, fmt.Errorf("patch %s was already reverted at %s: %w", m.PatchID, m.Reverted.Format(time.RFC3339), ErrNothingToRevert)
	}
	root, err := resolveWorkdir(workdir)
	if err != nil {
		return nil, err
	}
	if m.Workdir != root {
		return nil, fmt.Errorf("patch %s was applied to %s, not %s", m.PatchID, m.Workdir, root)
	}
	current, err := m.revertable(root, backupDir)
	if err != nil {
		return nil, err
	}
	out := make([]FileChange, 0, len(m.Entries))
	// Newest first, so a rename's new name goes before its old one returns.
	for i := len(m.Entries) - 1; i >= 0; i-- {
		e := m.Entries[i]
		fc := FileChange{Path: e.Path, SHA256Before: current[i], SHA256After: e.SHA256Before}
		switch {
		case !e.Existed:
			fc.Op = OpDelete
		case current[i] == "":
			fc.Op = OpCreate
		default:
			fc.Op = OpModify
		}
		removeStaleTemps(join(root, e.Path))
		if err := restoreEntry(root, backupDir, e); err != nil {
			return nil, fmt.Errorf("patch %s: revert %s: %w (run Revert again once the cause is fixed)", m.PatchID, e.Path, err)
		}
		out = append(out, fc)
	}
	removeEmptyDirs(root, m.CreatedDirs)
	slices.Reverse(out)
	m.State, m.Reverted = StateReverted, time.Now().UTC()
	if err := writeManifest(backupDir, m); err != nil {
		return out, fmt.Errorf("patch %s: files restored, but the manifest was not updated: %w", m.PatchID, err)
	}
	return out, nil
}

// revertable checks, before Revert changes anything, that each path holds
// what the patch left there or its pre-patch state, and that each backup
// is intact; it returns each path's current sha256 ("" when absent).
func (m *Manifest) revertable(root, backupDir string) ([]string, error) {
	current := make([]string, len(m.Entries))
	for i, e := range m.Entries {
		fi, err := inspect(root, e.Path)
		if err != nil {
			return nil, fmt.Errorf("patch %s: revert: %w", m.PatchID, err)
		}
		if fi != nil {
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("patch %s: revert: %s is %s, not a regular file: %w", m.PatchID, e.Path, kind(fi.Mode()), ErrConflict)
			}
			if current[i], err = hashFile(join(root, e.Path)); err != nil {
				return nil, fmt.Errorf("patch %s: revert: %w", m.PatchID, err)
			}
		}
		if current[i] != e.SHA256After && current[i] != e.SHA256Before {
			return nil, fmt.Errorf("patch %s: revert: %s changed since the patch (sha256 %s; the patch left %s): %w",
				m.PatchID, e.Path, short(current[i]), short(e.SHA256After), ErrConflict)
		}
		if e.Existed {
			h, err := hashFile(join(backupDir, e.Backup))
			if err != nil {
				return nil, fmt.Errorf("patch %s: revert: backup of %s: %w", m.PatchID, e.Path, err)
			}
			if h != e.SHA256Before {
				return nil, fmt.Errorf("patch %s: revert: the backup of %s is damaged (sha256 %s, want %s)", m.PatchID, e.Path, short(h), short(e.SHA256Before))
			}
		}
	}
	return current, nil
}
