package patch

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/razar/razar/internal/pgcmd"
)

// sandboxInit is this binary as the sandbox init: PID 1 of new mount, PID
// and network namespaces (and a user namespace unless RAZAR is root). It
// reads its initConfig from fd 3, builds the sandbox's root, drops to the
// command's ids with no capabilities and no new privileges, adds a
// Landlock domain where the kernel has one, reports on fd 4 and execs the
// command. Every step that fails is reported and ends it before the
// command runs. It returns the exit status when it does not exec.
func sandboxInit() int {
	// Capabilities, the parent-death signal and the bounding set belong
	// to a thread: keep to the one that execs.
	runtime.LockOSThread()
	status := os.NewFile(4, "sandbox-status")
	report := func(st initStatus) error {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = status.Write(append(b, '\n'))
		return err
	}
	fail := func(step string, err error) int {
		_ = report(initStatus{Setup: step + ": " + err.Error()})
		return 125
	}
	if _, err := unix.FcntlInt(4, unix.F_GETFD, 0); err != nil {
		return 125 // not started by startInit
	}
	syscall.CloseOnExec(4)
	cfgFile := os.NewFile(3, "sandbox-config")
	var c initConfig
	err := json.NewDecoder(io.LimitReader(cfgFile, 1<<20)).Decode(&c)
	cfgFile.Close()
	if err != nil {
		return fail("read the configuration", err)
	}
	if err := buildRoot(&c); err != nil {
		return fail("build the root", err)
	}
	if err := dropPrivileges(&c); err != nil {
		return fail("drop privileges", err)
	}
	st := initStatus{Ready: true}
	st.Landlock, st.NoLandlock = restrictLandlock(&c)
	// A change of uid clears the parent-death signal: arm it again. Then
	// the report: a parent that died meanwhile gets EPIPE, not a command.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		return fail("arm the parent-death signal", err)
	}
	if err := report(st); err != nil {
		return 125
	}
	if err := syscall.Chdir(c.Dir); err != nil {
		_ = report(initStatus{Exec: fmt.Sprintf("chdir %s: %v", c.Dir, err)})
		return 127
	}
	prog, err := lookPathEnv(c.Prog, c.Env)
	if err == nil {
		err = syscall.Exec(prog, c.Argv, c.Env)
	}
	_ = report(initStatus{Exec: err.Error()})
	return 127
}

// buildRoot makes the sandbox's root and moves into it: a tmpfs with the
// read-only binds, /tmp, /dev, /proc and the copy, the host's root
// detached (not hidden: gone from this namespace).
func buildRoot(c *initConfig) error {
	if err := pivotToScratch(); err != nil {
		return err
	}
	const nr, old = "/newroot", "/oldroot"
	if err := mount("tmpfs", nr, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return err
	}
	if err := mountSystem(c, nr, old); err != nil {
		return err
	}
	if err := bindCopy(c, nr, old); err != nil {
		return err
	}
	return enterRoot(nr)
}

// pivotToScratch makes the mounts private, so nothing done here may reach
// the host's, and makes a scratch tmpfs on /tmp the root for a moment,
// with the host's root under it at /oldroot, whence the binds come
// (bwrap's way), and the sandbox's own root at /newroot.
func pivotToScratch() error {
	if err := mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if err := mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		return err
	}
	for _, d := range []string{"/tmp/newroot", "/tmp/oldroot"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.PivotRoot("/tmp", "/tmp/oldroot"); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	return os.Chdir("/")
}

// mountSystem mounts in the new root nr the private /tmp (before what may
// live under /tmp: a read-only path, the copy), the system directories and
// the operator's extra paths read-only from the host's root old, /dev and
// /proc.
func mountSystem(c *initConfig, nr, old string) error {
	if err := os.MkdirAll(nr+sandboxTmp, 0o755); err != nil {
		return err
	}
	if err := mount("tmpfs", nr+sandboxTmp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return err
	}
	// Read-only: each path once (a path under one already bound is there
	// already).
	ro := append([]string(nil), c.ReadOnly...)
	sort.Strings(ro)
	var bound []string
	for _, p := range ro {
		covered := false
		for _, b := range bound {
			if within(p, b) {
				covered = true
			}
		}
		if covered {
			continue
		}
		if err := bindReadOnly(old+p, nr+p); err != nil {
			return err
		}
		bound = append(bound, p)
	}
	if err := makeDev(old, nr+"/dev"); err != nil {
		return err
	}
	if err := os.MkdirAll(nr+"/proc", 0o755); err != nil {
		return err
	}
	return mount("proc", nr+"/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// bindCopy binds the copy into the new root nr at its own path, the one
// writable tree, and where the real workdir is, so that absolute paths
// into it reach the copy.
func bindCopy(c *initConfig, nr, old string) error {
	if err := os.MkdirAll(nr+c.Dir, 0o755); err != nil {
		return err
	}
	if err := mount(old+c.Dir, nr+c.Dir, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	if err := remount(nr+c.Dir, unix.MS_NOSUID|unix.MS_NODEV); err != nil {
		return err
	}
	if c.Workdir == "" {
		return nil
	}
	if err := os.MkdirAll(nr+c.Workdir, 0o755); err != nil {
		return err
	}
	if err := mount(old+c.Dir, nr+c.Workdir, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return remount(nr+c.Workdir, unix.MS_NOSUID|unix.MS_NODEV)
}

// enterRoot moves into the new root nr; the old one (the scratch tmpfs,
// and the host's root under it) is stacked on top by pivot_root and
// detached, and / and /dev are made read-only.
func enterRoot(nr string) error {
	if err := os.Chdir(nr); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the host's root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	for _, p := range []string{"/", "/dev"} {
		if err := remount(p, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV); err != nil {
			return err
		}
	}
	return nil
}

// bindReadOnly shows src at dst read-only, with what is mounted under it. A
// symlink is recreated as one (its target is resolved in the sandbox).
func bindReadOnly(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	case fi.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil {
			return err
		}
	default:
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	if err := mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	// Each mount under dst too: a remount changes one mount alone.
	points, err := mountPointsUnder(dst)
	if err != nil {
		return err
	}
	for _, p := range points {
		if err := remount(p, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV); err != nil {
			return err
		}
	}
	return nil
}

// makeDev makes a /dev at dst: a tmpfs with the host's harmless device
// nodes bound in, the usual symlinks into /proc, and a private /dev/shm.
func makeDev(old, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := mount("tmpfs", dst, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755"); err != nil {
		return err
	}
	for _, n := range devNodes {
		src := old + "/dev/" + n
		if _, err := os.Stat(src); err != nil {
			continue
		}
		f, err := os.OpenFile(dst+"/"+n, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err != nil {
			return err
		}
		f.Close()
		if err := mount(src, dst+"/"+n, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, dst+"/"+name); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dst+"/shm", 0o755); err != nil {
		return err
	}
	return mount("tmpfs", dst+"/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777")
}

// devNodes are the device nodes a validate command finds in /dev.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// mount is mount(2), its error naming what it mounted where.
func mount(src, dst, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(src, dst, fstype, flags, data); err != nil {
		what := src
		if fstype != "" && fstype != src {
			what = fstype
		}
		if what == "" {
			what = "propagation"
		}
		return fmt.Errorf("mount %s on %s: %w", what, dst, err)
	}
	return nil
}

// remount adds flags to the mount at p, keeping the flags it has: in a
// user namespace those a less privileged one inherited are locked, and a
// remount that dropped them would be refused.
func remount(p string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", p, err)
	}
	keep := map[int64]uintptr{
		unix.ST_RDONLY: unix.MS_RDONLY, unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV,
		unix.ST_NOEXEC: unix.MS_NOEXEC, unix.ST_NOATIME: unix.MS_NOATIME, unix.ST_NODIRATIME: unix.MS_NODIRATIME,
		unix.ST_RELATIME: unix.MS_RELATIME,
	}
	for st_, ms := range keep {
		if int64(st.Flags)&st_ != 0 {
			flags |= ms
		}
	}
	return mount("", p, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
}

// mountPointsUnder lists dst and the mount points beneath it, from
// the mountinfo of the host's /proc under /oldroot, outermost first.
func mountPointsUnder(dst string) ([]string, error) {
	f, err := os.Open("/oldroot/proc/self/mountinfo") // the host's proc, before the pivot into the new root
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountinfo(fields[4])
		if within(p, dst) {
			out = append(out, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) < len(out[j]) })
	return out, nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// dropPrivileges leaves the init with nothing a validate command could
// use: no capabilities (bounding set emptied, ambient cleared), no new
// privileges from exec (setuid bits and file capabilities do nothing), and,
// when RAZAR is root, the command's ids and no supplementary groups.
func dropPrivileges(c *initConfig) error {
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for cap := 0; cap <= last; cap++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(cap), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d from the bounding set: %w", cap, err)
		}
	}
	if c.SetIDs {
		if c.UID <= 0 || c.GID <= 0 {
			return fmt.Errorf("refusing to run a validate command as uid %d, gid %d", c.UID, c.GID)
		}
		if err := syscall.Setgroups(nil); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setresgid(c.GID, c.GID, c.GID); err != nil {
			return fmt.Errorf("setresgid %d: %w", c.GID, err)
		}
		if err := syscall.Setresuid(c.UID, c.UID, c.UID); err != nil {
			return fmt.Errorf("setresuid %d: %w", c.UID, err)
		}
	}
	if os.Geteuid() == 0 {
		return errors.New("still root after dropping privileges")
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var none [2]unix.CapUserData
	if err := unix.Capset(&hdr, &none[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// restrictLandlock adds the second wall where the kernel has Landlock:
// reads (and exec) of the system directories, /proc and the read-only
// paths; reads and writes of the copy, /tmp, /dev/shm and /dev's nodes;
// nothing else, no TCP, no signals or abstract sockets out of the
// sandbox. It returns the ABI version applied, or 0 and why none.
func restrictLandlock(c *initConfig) (abi int, why string) {
	v, err := llsys.LandlockGetABIVersion()
	if err != nil || v < 1 {
		return 0, "the kernel has no Landlock"
	}
	ro := append([]string{"/proc"}, c.ReadOnly...)
	var roDirs, roFiles []string
	for _, p := range ro {
		fi, err := os.Stat(p)
		switch {
		case err != nil:
		case fi.IsDir():
			roDirs = append(roDirs, p)
		default:
			roFiles = append(roFiles, p)
		}
	}
	var devFiles []string
	for _, n := range devNodes {
		devFiles = append(devFiles, "/dev/"+n)
	}
	err = landlock.V11.BestEffort().Restrict(
		landlock.RODirs(roDirs...),
		landlock.ROFiles(roFiles...),
		landlock.RWDirs(append([]string{c.Dir, sandboxTmp, "/dev/shm"}, listOf(c.Workdir)...)...),
		landlock.RWFiles(devFiles...).IgnoreIfMissing(),
	)
	if err != nil {
		return 0, "Landlock refused: " + err.Error()
	}
	return v, ""
}

// listOf is s as a list: none when it is empty.
func listOf(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// lookPathEnv finds prog as the command's own PATH (the last PATH= of env)
// would: a path with a slash as it is, a bare name in PATH's absolute
// directories, inside the sandbox.
func lookPathEnv(prog string, env []string) (string, error) {
	if strings.Contains(prog, "/") {
		return prog, nil
	}
	path := pgcmd.DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, prog)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", prog)
}
