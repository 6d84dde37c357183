package patch

import (
	"bufio"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const sandboxSupported = true

// sandbox makes cmd (whose SysProcAttr pgcmd set up with its own process
// group) die with RAZAR: SIGKILL when the thread that started it goes,
// which in Go is when the process goes. With isolate it also starts in new
// user, network and PID namespaces: no network but a loopback that is down,
// and, as PID 1 of its namespace, everything it forks dies with it, even
// what left its process group. This is the weak sandbox (Sandbox.Weak);
// the full one is startSandboxed's.
//
// The user namespace maps the ids RAZAR has: when RAZAR is root, every id
// it can see, to itself (root in the namespace keeps root's access to
// files, but holds no capability over the host's namespaces, so it cannot
// join the host's network back); otherwise RAZAR's own uid and gid, which
// is all an unprivileged process may map.
//
// (In a new PID namespace the child's getppid is 0, so the check os/exec's
// child makes for a parent that died before the signal was armed sends
// SIGKILL to itself, which the kernel ignores for a namespace's init: the
// check is lost, not the command.)
func sandbox(cmd *exec.Cmd, isolate bool) {
	attr := cmd.SysProcAttr
	if attr == nil {
		attr = &syscall.SysProcAttr{}
		cmd.SysProcAttr = attr
	}
	attr.Pdeathsig = syscall.SIGKILL
	if !isolate {
		return
	}
	attr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET | syscall.CLONE_NEWPID
	if os.Getuid() == 0 {
		attr.UidMappings = identityMap("/proc/self/uid_map", 0)
		attr.GidMappings = identityMap("/proc/self/gid_map", 0)
		// Allowed in the namespace only if it is allowed in ours.
		sg, err := os.ReadFile("/proc/self/setgroups")
		attr.GidMappingsEnableSetgroups = err == nil && strings.TrimSpace(string(sg)) == "allow"
		return
	}
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
	attr.GidMappingsEnableSetgroups = false
}

// identityMap maps every id this process's user namespace has to itself;
// when the map cannot be read, just id.
func identityMap(file string, id int) []syscall.SysProcIDMap {
	single := []syscall.SysProcIDMap{{ContainerID: id, HostID: id, Size: 1}}
	f, err := os.Open(file)
	if err != nil {
		return single
	}
	defer f.Close()
	var out []syscall.SysProcIDMap
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			return single
		}
		inside, err1 := strconv.ParseUint(fields[0], 10, 32)
		size, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil {
			return single
		}
		// Ids are ints on the Go side; on 32-bit platforms keep what fits.
		if inside > math.MaxInt {
			continue
		}
		if rest := uint64(math.MaxInt) - inside + 1; size > rest {
			size = rest
		}
		out = append(out, syscall.SysProcIDMap{ContainerID: int(inside), HostID: int(inside), Size: int(size)})
	}
	if len(out) == 0 {
		return single
	}
	return out
}

// awaitExit blocks until the child pid has exited, without reaping it, so
// its pid (and so its process group's id) cannot be reused while the caller
// kills what it left in its group. It reports whether it saw the exit.
func awaitExit(pid int) bool {
	const pPID, wNOWAIT = 1, 0x01000000
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|wNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return errno == 0
		}
	}
}
