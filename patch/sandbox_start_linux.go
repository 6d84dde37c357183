package patch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/razar/razar/internal/pgcmd"
)

// The Linux capabilities the sandbox init needs in a user namespace of its
// own: mounts and pivot_root, and dropping the bounding set.
const (
	capSetpcap  = 8
	capSysAdmin = 21
)

// testRefusal, when set by a test, is what refuses the full sandbox, as a
// kernel without the namespaces would.
var testRefusal string

// sandboxTmp is the validate command's HOME and TMPDIR: the private tmpfs,
// the one writable place beside its copy.
const sandboxTmp = "/tmp"

// startSandboxed starts argv in the full sandbox (Sandbox's doc): this
// binary again, as the sandbox init (SandboxMain), in new namespaces,
// which builds the sandbox's root, drops to an unprivileged uid and execs
// argv in dir. It returns the started command, how it is contained and a
// done func that hands dir back to RAZAR's user (call it after Wait). When
// the sandbox cannot be built it returns why, and argv did not run; a
// *SandboxError is a setting that is wrong; any other error is argv's own
// start failing. done is never nil.
func startSandboxed(ctx context.Context, s Sandbox, argv []string, dir string, env []string, out io.Writer) (cmd *exec.Cmd, iso Isolation, done func(), why string, err error) {
	done = func() {}
	if testRefusal != "" {
		return nil, iso, done, testRefusal, nil
	}
	abs, err := sandboxDir(dir)
	if err != nil {
		return nil, iso, done, "", err
	}
	ro, err := s.readOnly(abs)
	if err != nil {
		return nil, iso, done, "", &SandboxError{Why: err.Error()}
	}
	root := os.Getuid() == 0
	uid, gid, done, err := s.handCopy(abs, root)
	if err != nil {
		return nil, iso, func() {}, "", err
	}
	fail := func(why string) (*exec.Cmd, Isolation, func(), string, error) {
		done()
		return nil, Isolation{}, func() {}, why, nil
	}
	payload, err := json.Marshal(s.initFor(abs, argv, env, ro, uid, gid, root))
	if err != nil {
		return fail("cannot encode the sandbox's configuration: " + err.Error())
	}
	started, startErr := startInitAs(ctx, root, uid, gid, payload, out)
	if startErr != nil {
		if refused(startErr) {
			return fail(refusal(startErr))
		}
		return fail("cannot start the sandbox init: " + startErr.Error())
	}
	st := started.status
	switch {
	case st.Setup != "":
		return fail("cannot build the sandbox: " + st.Setup)
	case !st.Ready:
		return fail(fmt.Sprintf("the sandbox init never reported (%v): this program does not call patch.SandboxMain first thing in main (or in TestMain)", started.exit))
	case st.Exec != "":
		done()
		return nil, Isolation{}, func() {}, "", errors.New(st.Exec)
	}
	iso = Isolation{Sandboxed: true, UID: uid, GID: gid, Landlock: st.Landlock, NoLandlock: st.NoLandlock}
	return started.Cmd, iso, done, "", nil
}

// sandboxDir is dir, absolute with symlinks resolved, checked to be a
// directory the sandbox does not make its own.
func sandboxDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", fmt.Errorf("chdir %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("chdir %s: %w", dir, syscall.ENOTDIR)
	}
	for _, special := range []string{"/", sandboxTmp, "/proc", "/dev"} {
		if abs == special || (special != "/" && special != sandboxTmp && within(abs, special)) {
			return "", &SandboxError{Why: fmt.Sprintf("the directory to validate, %s, is one the sandbox makes its own (fix: validate a copy under the RAZAR home's state/staging)", abs)}
		}
	}
	return abs, nil
}

// handCopy is the ids the command runs as: RAZAR's own, or when RAZAR is
// root the sandbox's, to whom the copy abs is handed for the run (done
// hands it back to RAZAR; never nil).
func (s Sandbox) handCopy(abs string, root bool) (uid, gid int, done func(), err error) {
	uid, gid, done = os.Getuid(), os.Getgid(), func() {}
	if !root {
		return uid, gid, done, nil
	}
	if uid, gid, err = s.ids(); err != nil {
		return 0, 0, done, &SandboxError{Why: err.Error()}
	}
	// The copy is the command's for the run, and RAZAR's again after.
	restore, err := chownTree(abs, uid, gid)
	if err != nil {
		return 0, 0, done, fmt.Errorf("hand %s to uid %d for validation: %w", abs, uid, err)
	}
	return uid, gid, restore, nil
}

// initFor is what the sandbox's init is told: the copy abs, the
// command, its environment, the read-only paths ro, the workdir shown
// over the copy when it can be, and the ids to run as.
func (s Sandbox) initFor(abs string, argv, env, ro []string, uid, gid int, root bool) initConfig {
	alias := ""
	if s.Workdir != "" {
		if w, err := filepath.EvalSymlinks(s.Workdir); err == nil && filepath.IsAbs(w) && aliasable(w, abs, ro) {
			alias = w
		}
	}
	prog := argv[0]
	if strings.Contains(prog, "/") && !filepath.IsAbs(prog) {
		prog = filepath.Join(abs, prog)
	}
	return initConfig{
		Dir:      abs,
		Prog:     prog,
		Argv:     argv,
		Env:      dedupeEnv(append(append(pgcmd.BaseEnv(), "HOME="+sandboxTmp, "TMPDIR="+sandboxTmp), env...)),
		ReadOnly: ro,
		Workdir:  alias,
		UID:      uid,
		GID:      gid,
		SetIDs:   root,
	}
}

// startInitAs starts the sandbox's init. Root starts it without a user
// namespace (its mounts need the host's root, which it drops before the
// command runs); where that is refused (a container without
// CAP_SYS_ADMIN), in one mapping root and the command's ids. Anyone else:
// in a user namespace of its own.
func startInitAs(ctx context.Context, root bool, uid, gid int, payload []byte, out io.Writer) (*startedInit, error) {
	modes := []initMode{modeUserns}
	if root {
		modes = []initMode{modeRoot, modeRootUserns}
	}
	var (
		started  *startedInit
		startErr error
	)
	for _, mode := range modes {
		started, startErr = startInit(ctx, mode, uid, gid, payload, out)
		if startErr == nil || !refused(startErr) {
			break
		}
	}
	return started, startErr
}

// aliasable reports whether the copy dir may also be shown at workdir: not
// a place the sandbox makes its own or shows read-only (nor above one),
// not holding the copy or lying in it.
func aliasable(workdir, dir string, ro []string) bool {
	if workdir == "/" || within(workdir, dir) || within(dir, workdir) {
		return false
	}
	for _, p := range append([]string{sandboxTmp, "/proc", "/dev"}, ro...) {
		if within(p, workdir) || within(workdir, p) && !(p == sandboxTmp && workdir != sandboxTmp) {
			return false
		}
	}
	return true
}

// initMode is how the sandbox init is started.
type initMode int

const (
	modeRoot       initMode = iota // RAZAR root: new mount, PID and network namespaces
	modeRootUserns                 // RAZAR root, refused those: a user namespace mapping root and the command's ids
	modeUserns                     // RAZAR not root: a user namespace mapping its own ids
)

// startedInit is a started sandbox init, with what it reported before it
// exec'd the command (or the exit status when it exited instead).
type startedInit struct {
	*exec.Cmd
	status initStatus
	exit   error
}

// startInit starts this binary as the sandbox init in mode, hands it
// payload, and reads its report: until EOF, which comes when it execs the
// command (the report pipe is close-on-exec) or exits. An init that
// exited is reaped here.
func startInit(ctx context.Context, mode initMode, uid, gid int, payload []byte, out io.Writer) (*startedInit, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	stR, stW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer stR.Close()
	defer stW.Close()

	// A test binary without the hook runs no test as the init: it exits
	// having reported nothing, and the sandbox is refused.
	cmd, err := pgcmd.Command(ctx, []string{"/proc/self/exe", "-test.run=^$"}, "", nil, validateWaitDelay)
	if err != nil {
		return nil, err
	}
	cmd.Args[0] = sandboxArg0
	cmd.Env = []string{sandboxInitEnv + "=1"}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.ExtraFiles = []*os.File{cfgR, stW} // fds 3 and 4
	setNamespaces(cmd.SysProcAttr, mode, uid, gid)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	cfgR.Close()
	stW.Close()
	_, _ = cfgW.Write(payload) // an init that died unread says so below
	cfgW.Close()
	report, _ := io.ReadAll(io.LimitReader(stR, 64<<10))
	s := &startedInit{Cmd: cmd, status: readStatus(report)}
	if s.status.Setup != "" || s.status.Exec != "" || !s.status.Ready {
		s.exit = cmd.Wait()
	}
	return s, nil
}

// setNamespaces gives the init its namespaces for mode: mount, PID and
// network always, and a user namespace mapping the command's ids (and
// root, for modeRootUserns) where mode says; it dies with RAZAR.
func setNamespaces(attr *syscall.SysProcAttr, mode initMode, uid, gid int) {
	attr.Pdeathsig = syscall.SIGKILL
	attr.Cloneflags = syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET
	switch mode {
	case modeRootUserns:
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: uid, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}, {ContainerID: gid, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = true
	case modeUserns:
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
		// Not root in its namespace, the init keeps what it needs across
		// its exec as ambient capabilities, and drops them before the
		// command's.
		attr.AmbientCaps = []uintptr{capSysAdmin, capSetpcap}
	}
}

// readStatus folds the init's status lines: ready (with its Landlock
// verdict), and the last setup or exec failure it reported.
func readStatus(report []byte) initStatus {
	var out initStatus
	for _, line := range bytes.Split(report, []byte("\n")) {
		var st initStatus
		if json.Unmarshal(line, &st) != nil {
			continue
		}
		out.Ready = out.Ready || st.Ready
		if st.Ready {
			out.Landlock, out.NoLandlock = st.Landlock, st.NoLandlock
		}
		if st.Setup != "" {
			out.Setup = st.Setup
		}
		if st.Exec != "" {
			out.Exec = st.Exec
		}
	}
	return out
}

// dedupeEnv keeps the last of each KEY= in env, in the order of their first
// appearance: what os/exec does, which syscall.Exec does not.
func dedupeEnv(env []string) []string {
	last := map[string]int{}
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		last[k] = i
	}
	out := make([]string, 0, len(last))
	seen := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, env[last[k]])
	}
	return out
}

// chownTree hands dir and everything in it to uid:gid, without following
// symlinks, and returns a func that hands it back: what was there to its
// owner before, what the command made to RAZAR's user.
func chownTree(dir string, uid, gid int) (restore func(), err error) {
	type owner struct{ uid, gid int }
	before := map[string]owner{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			before[p] = owner{int(st.Uid), int(st.Gid)}
		}
		return os.Lchown(p, uid, gid)
	})
	restore = func() {
		self := owner{os.Getuid(), os.Getgid()}
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			o, ok := before[p]
			if !ok {
				o = self
			}
			_ = os.Lchown(p, o.uid, o.gid)
			return nil
		})
	}
	if err != nil {
		restore()
		return nil, err
	}
	return restore, nil
}
