package patch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// DefaultSandboxID is the uid and gid a validate command runs as when RAZAR
// is root and Sandbox names none: 65534, nobody and nogroup on Debian.
const DefaultSandboxID = 65534

// ErrSandboxRefused is wrapped by a *SandboxError: the validation sandbox
// could not be built, so the validate command did not run.
var ErrSandboxRefused = errors.New("the validation sandbox cannot be built")

// SandboxError says why the validation sandbox could not be built. Nothing
// of the patch ran: the patch is not at fault, the host is (or its
// settings).
type SandboxError struct {
	Why string // what refused it, with the fix
}

func (e *SandboxError) Error() string {
	return "validation refused: " + e.Why
}

// Unwrap returns ErrSandboxRefused.
func (e *SandboxError) Unwrap() error { return ErrSandboxRefused }

// refusedFix is what every refusal of the kernel's says to do about it.
const refusedFix = "fix: run RAZAR where the kernel allows new mount, PID and network namespaces (as root, or with unprivileged user namespaces enabled), or set RAZAR_SANDBOX=weak in config/razar.env to let rung-written code run with RAZAR's view of the filesystem (not recommended)"

// Sandbox is where a validate command runs: rung-written code, before any
// approval. The zero value is the strict sandbox.
//
// On Linux the command starts in new mount, PID and network namespaces
// (and a new user namespace when RAZAR is not root), under a root of its
// own: the system directories (/usr, /bin, /sbin, /lib*, /etc) and
// ReadOnly read-only, a private tmpfs /tmp (also its HOME and TMPDIR), its
// own /proc, a /dev with null, zero, full, random, urandom and tty, and the
// directory it validates, at its own path (and at Workdir), the one
// writable tree. Nothing else of the host is there: not the RAZAR home,
// not the real workdir, not another component's files. It runs as an unprivileged uid, never root:
// UID and GID when RAZAR is root (the copy is handed to them for the run
// and back after), RAZAR's own ids otherwise; with no capabilities, no new
// privileges (setuid bits do nothing), and, where the kernel has Landlock,
// a Landlock domain that allows writes only to the copy, /tmp and /dev's
// nodes, as a second wall.
//
// Where the kernel refuses any of that, the command does not run: Validate
// returns a *SandboxError, unless Weak is set.
type Sandbox struct {
	// Weak lets the command run where the full sandbox cannot be built:
	// then it runs as before the sandbox, as RAZAR's user with RAZAR's
	// view of the filesystem, without network where the kernel allows user
	// and network namespaces (NetworkIsolation), and Isolation says so.
	// The operator's choice (RAZAR_SANDBOX=weak), never a default.
	Weak bool
	// UID and GID are the ids the command runs as when RAZAR is root;
	// zero means DefaultSandboxID. Root (a negative or zero id after the
	// default) is never used. When RAZAR is not root the command runs as
	// RAZAR's own ids, all an unprivileged process can map.
	UID, GID int
	// ReadOnly lists more host paths (absolute) the command sees,
	// read-only, at their own paths: a toolchain or a virtualenv outside
	// /usr. None may hold the directory validated (and so the RAZAR home).
	ReadOnly []string
	// Workdir, when set, is the real workdir the directory validated is a
	// copy of: the copy is shown there too, so a validate command that
	// names the workdir by absolute path ("/srv/app/check.sh", "cd
	// /srv/app") runs and judges the copy. The real workdir is never
	// shown. (Not where Workdir lies under a read-only path, or holds the
	// copy or lies in it.)
	Workdir string
}

// SandboxMain makes this process the validation sandbox's init when it
// was started as one (by Sandbox.Validate, which runs this binary again
// inside the new namespaces): then it builds the sandbox, execs the
// validate command and never returns. Otherwise it returns at once. Call
// it first thing in main, and in TestMain of every test binary that
// validates: a binary that does not is refused the sandbox, and its
// validation fails closed.
func SandboxMain() {
	if os.Getenv(sandboxInitEnv) == "" || len(os.Args) == 0 || os.Args[0] != sandboxArg0 {
		return
	}
	os.Exit(sandboxInit())
}

// How Sandbox.Validate marks the process it starts as the sandbox init.
const (
	sandboxInitEnv = "RAZAR_SANDBOX_INIT"
	sandboxArg0    = "razar-sandbox-init"
)

// initConfig is what the sandbox init is told, as JSON on fd 3.
type initConfig struct {
	Dir      string   `json:"dir"`       // the copy, resolved, at its own path
	Prog     string   `json:"prog"`      // argv[0], absolute if it had a slash
	Argv     []string `json:"argv"`      // the command
	Env      []string `json:"env"`       // its whole environment
	ReadOnly []string `json:"read_only"` // host paths shown read-only
	Workdir  string   `json:"workdir"`   // where the copy is shown too; "" for nowhere
	UID      int      `json:"uid"`       // the ids to drop to, with SetIDs
	GID      int      `json:"gid"`
	SetIDs   bool     `json:"set_ids"` // RAZAR is root: drop to UID and GID
}

// initStatus is a line the sandbox init reports on fd 4.
type initStatus struct {
	Ready      bool   `json:"ready,omitempty"`       // built; the command comes next
	Landlock   int    `json:"landlock,omitempty"`    // the Landlock ABI applied
	NoLandlock string `json:"no_landlock,omitempty"` // why none
	Setup      string `json:"setup,omitempty"`       // the sandbox could not be built
	Exec       string `json:"exec,omitempty"`        // the command could not be started
}

// systemDirs are the host directories every sandbox shows read-only, where
// they exist. A symlink among them (/bin -> usr/bin) is recreated as one.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

// ids are the uid and gid the command runs as when RAZAR is root.
func (s Sandbox) ids() (uid, gid int, err error) {
	uid, gid = s.UID, s.GID
	if uid == 0 {
		uid = DefaultSandboxID
	}
	if gid == 0 {
		gid = DefaultSandboxID
	}
	if uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("sandbox uid %d, gid %d: ids are positive (fix: unset RAZAR_SANDBOX_UID for %d, or set an unprivileged uid)", s.UID, s.GID, DefaultSandboxID)
	}
	return uid, gid, nil
}

// readOnly returns the host paths shown read-only: the system directories
// that exist and ReadOnly, each resolved and checked not to hold dir (the
// resolved directory validated); an error names the offending path.
func (s Sandbox) readOnly(dir string) ([]string, error) {
	var out []string
	for _, p := range systemDirs {
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if within(dir, p) {
			return nil, fmt.Errorf("the directory to validate, %s, lies under %s, which the sandbox shows read-only to every validator (fix: keep the RAZAR home, and so its state/staging, outside %s)", dir, p, strings.Join(systemDirs, ", "))
		}
		out = append(out, p)
	}
	for _, p := range s.ReadOnly {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("sandbox read-only path %q is not absolute (fix: name it from /, in RAZAR_SANDBOX_READONLY)", p)
		}
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, fmt.Errorf("sandbox read-only path %s: %w (fix: create it or drop it from RAZAR_SANDBOX_READONLY)", p, err)
		}
		if within(dir, r) {
			return nil, fmt.Errorf("sandbox read-only path %s holds the directory to validate, %s, and so the RAZAR home (fix: name a narrower path in RAZAR_SANDBOX_READONLY)", p, dir)
		}
		out = append(out, r)
	}
	return out, nil
}

// within reports whether path is dir or lies under it; both clean.
func within(path, dir string) bool {
	return path == dir || dir == "/" || strings.HasPrefix(path, dir+"/")
}

// Isolation says how one validate command was contained: what RAZAR puts
// in the patch record.
type Isolation struct {
	// Sandboxed: the full sandbox (Sandbox's doc); false when Weak ran
	// the command without it.
	Sandboxed bool
	// UID and GID the command ran as, as the host sees them.
	UID, GID int
	// Landlock is the Landlock ABI version of the second wall; 0 when the
	// kernel has none, and NoLandlock says why.
	Landlock   int
	NoLandlock string
	// Weak is why the full sandbox was refused, when Weak ran the command
	// anyway.
	Weak string
	// Network: the command had the host's network (weak mode only, where
	// the kernel refused network namespaces too).
	Network bool
}

// String is Isolation as a patch record's sandbox field shows it.
func (i Isolation) String() string {
	if i.Sandboxed {
		s := fmt.Sprintf("sandbox: mount, PID and network namespaces, its copy the only writable tree, uid %d", i.UID)
		if i.Landlock > 0 {
			return s + fmt.Sprintf(", Landlock ABI %d", i.Landlock)
		}
		return s + ", no Landlock (" + i.NoLandlock + ")"
	}
	if i.Weak == "" {
		return ""
	}
	net := "no network"
	if i.Network {
		net = "the host's network"
	}
	return fmt.Sprintf("WEAK SANDBOX (RAZAR_SANDBOX=weak): ran as RAZAR's user (uid %d) seeing RAZAR's files, with %s, because %s", i.UID, net, i.Weak)
}

// isolation is what the probe found about this host's network namespaces:
// a property of the kernel and its settings, so probed once per process.
var isolation struct {
	once sync.Once
	mu   sync.Mutex
	ok   bool
	why  string
}

// NetworkIsolation reports whether a validate command that runs outside
// the full sandbox (Sandbox.Weak, where the kernel refused it) runs without
// network: on Linux, in new user, network and PID namespaces, where even
// loopback is down and nothing of the host's network can be reached. When
// ok is false, why says what refused it ("user namespaces are disabled:
// ..."). It is probed once, by starting `true` in those namespaces, and
// turns false if the kernel refuses them later. The full sandbox has no
// network whatever this says.
func NetworkIsolation() (ok bool, why string) {
	isolation.once.Do(func() {
		ok, why := probeIsolation()
		isolation.mu.Lock()
		isolation.ok, isolation.why = ok, why
		isolation.mu.Unlock()
	})
	isolation.mu.Lock()
	defer isolation.mu.Unlock()
	return isolation.ok, isolation.why
}

// loseIsolation records that the kernel refused the namespaces after the
// probe had found them.
func loseIsolation(why string) {
	NetworkIsolation()
	isolation.mu.Lock()
	isolation.ok, isolation.why = false, why
	isolation.mu.Unlock()
}

// probeIsolation starts `true` in the namespaces a weak validate command
// would get.
func probeIsolation() (bool, string) {
	if !sandboxSupported {
		return false, "network namespaces need Linux; validate commands run with the host's network here"
	}
	prog := ""
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if _, err := exec.LookPath(p); err == nil {
			prog = p
			break
		}
	}
	if prog == "" {
		p, err := exec.LookPath("true")
		if err != nil {
			return false, "no `true` program to probe network namespaces with"
		}
		prog = p
	}
	cmd := exec.Command(prog)
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sandbox(cmd, true)
	if err := cmd.Run(); err != nil {
		return false, refusal(err)
	}
	return true, ""
}

// refusal says why starting a process in new namespaces failed.
func refusal(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EPERM, syscall.EACCES:
			return fmt.Sprintf("the kernel refused new namespaces (%v): unprivileged user namespaces are disabled or blocked (sysctl kernel.unprivileged_userns_clone, AppArmor's kernel.apparmor_restrict_unprivileged_userns, a container's seccomp profile or missing CAP_SYS_ADMIN)", errno)
		case syscall.ENOSPC, syscall.EUSERS:
			return fmt.Sprintf("the kernel refused a new user namespace (%v): user.max_user_namespaces is 0 or reached", errno)
		case syscall.EINVAL, syscall.ENOSYS:
			return fmt.Sprintf("this kernel does not support user, mount, network and PID namespaces (%v)", errno)
		}
	}
	return "cannot start a process in new namespaces: " + err.Error()
}

// refused reports whether a start error is the kernel refusing the
// namespaces, rather than the command itself failing to start.
func refused(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EPERM, syscall.EINVAL, syscall.ENOSYS, syscall.ENOSPC, syscall.EUSERS:
		return true
	}
	return false
}
