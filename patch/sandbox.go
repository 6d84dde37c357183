package patch

import (
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
)

// isolation is what the probe found about this host's network namespaces:
// a property of the kernel and its settings, so probed once per process.
var isolation struct {
	once sync.Once
	mu   sync.Mutex
	ok   bool
	why  string
}

// NetworkIsolation reports whether validate commands run without network:
// on Linux, each in new user, network and PID namespaces, where even
// loopback is down and nothing of the host's network can be reached. When
// ok is false, why says what refused it ("user namespaces are disabled:
// ..."), and validate commands run with the host's network. It is probed
// once, by starting `true` in those namespaces, and turns false if the
// kernel refuses them later.
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

// probeIsolation starts `true` in the namespaces a validate command would
// get.
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
			return fmt.Sprintf("the kernel refused new user and network namespaces (%v): unprivileged user namespaces are disabled or blocked (sysctl kernel.unprivileged_userns_clone, AppArmor's kernel.apparmor_restrict_unprivileged_userns, a container's seccomp profile)", errno)
		case syscall.ENOSPC, syscall.EUSERS:
			return fmt.Sprintf("the kernel refused a new user namespace (%v): user.max_user_namespaces is 0 or reached", errno)
		case syscall.EINVAL, syscall.ENOSYS:
			return fmt.Sprintf("this kernel does not support user, network and PID namespaces (%v)", errno)
		}
	}
	return "cannot start a process in new user and network namespaces: " + err.Error()
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
