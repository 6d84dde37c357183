package patch

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrRejected is wrapped by every *RejectError: the diff itself is
	// unacceptable (hostile, malformed, oversized, or does not apply).
	ErrRejected = errors.New("patch rejected")
	// ErrValidationFailed is wrapped by every *ValidateError: the component's
	// validate command failed, timed out or could not start.
	ErrValidationFailed = errors.New("patch validation failed")
	// ErrNothingToRevert is returned by Revert when the backup directory has
	// no manifest, or its patch was already reverted.
	ErrNothingToRevert = errors.New("nothing to revert")
	// ErrConflict is returned by Stage, Promote and Revert when a file the
	// patch touches changed under them: its sha256 is not the one recorded.
	ErrConflict = errors.New("workdir changed")
)

// RejectError says why a diff was refused. Reason names the problem and,
// where there is one, the file ("../escape: path leaves the workdir (..)").
// It wraps ErrRejected.
type RejectError struct {
	Reason string
}

func (e *RejectError) Error() string { return "patch rejected: " + e.Reason }

// Unwrap returns ErrRejected.
func (e *RejectError) Unwrap() error { return ErrRejected }

func reject(format string, args ...any) error {
	return &RejectError{Reason: fmt.Sprintf(format, args...)}
}

// Limits bounds what Check accepts. Zero fields take their defaults.
type Limits struct {
	// MaxBytes is the largest diff accepted, in bytes (default DefaultMaxBytes).
	MaxBytes int
	// MaxFiles is the most files one diff may touch (default DefaultMaxFiles).
	MaxFiles int
	// Protected are the workdir paths no patch may touch, such as the
	// validate script itself: see ComponentProtections.
	Protected []Protection
	// Quote reports whether a refusal may quote lines of the workdir file
	// at path (slash-separated, relative to the workdir) to show a model
	// where its hunk nearly matched. Nil quotes none: the refusal gives
	// line numbers only. Pass the gate that decides what a rung may read,
	// so a refusal never shows a file the rung could not have read.
	Quote func(path string) bool
}

// Defaults for the zero Limits.
const (
	DefaultMaxBytes = 256 << 10
	DefaultMaxFiles = 50
)

// Operations of a FileChange.
const (
	OpModify = "modify"
	OpCreate = "create"
	OpDelete = "delete"
	OpRename = "rename"
)

// FileChange is one file a patch touches. Paths are workdir-relative,
// slash-separated and clean. The hashes are lower-case hex sha256 of the
// file's content, "" when the file is absent on that side.
type FileChange struct {
	Path         string `json:"path"`
	OldPath      string `json:"old_path,omitempty"` // OpRename only: where the file was
	Op           string `json:"op"`                 // OpModify, OpCreate, OpDelete, OpRename
	SHA256Before string `json:"sha256_before,omitempty"`
	SHA256After  string `json:"sha256_after,omitempty"`
}

// Plan is a checked diff, ready for Stage. Files lists what it touches in
// diff order, with SHA256Before read at Check time; Stage records what each
// file will become and Promote fills SHA256After. A Plan is not safe for
// concurrent use.
type Plan struct {
	ID         string
	Files      []FileChange
	DiffSHA256 string // of the diff text as the rung sent it, for records
	// Diff is the diff as placed: what Stage applies, every hunk at its
	// real line with the file's own context lines.
	Diff string
	// Placement says how every hunk that did not apply as written was
	// placed ("hunk 2 of app.conf placed at line 14, not 12 as stated",
	// "hunk 1 of app.conf matched ignoring trailing whitespace and line
	// endings"); nil when the diff was exact.
	Placement []string

	changes []change // parallel to Files

	// beforeSwap, when set (tests only), runs before Promote swaps the
	// file at rel into the workdir.
	beforeSwap func(rel string)
	// afterManifest, when set (tests only), runs once Promote's first
	// manifest is written, before any swap.
	afterManifest func()
}

// change is the parsed side of one FileChange.
type change struct {
	file     *gitdiff.File
	exec     *bool  // wanted executable bit, nil to keep the file's
	staged   string // sha256 of the staged result, set by Stage ("" for delete)
	perm     os.FileMode
	isStaged bool
}

// NewID returns a fresh patch id, "p-<UTC yyyymmdd-hhmmss>-<6 hex>".
func NewID() string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "p-" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// hashFile returns the hex sha256 of the regular file at name; a symlink
// or any other kind of file is an error.
func hashFile(name string) (string, error) {
	// What a validator left in its copy is read as RAZAR's user: never
	// through a symlink (to /dev/zero, to a seed), never a FIFO that
	// would block the open forever.
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file (%v)", name, fi.Mode().Type())
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// short abbreviates a hex hash for messages.
func short(h string) string {
	if h == "" {
		return "(absent)"
	}
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
