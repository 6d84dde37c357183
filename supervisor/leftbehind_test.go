package supervisor

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/internal/wait"
)

// TestLeftBehindFindsOnlyTheComponentsOwnGroupLeaders: a process started
// as launch starts one (its own session, the component's workdir,
// RAZAR_COMPONENT=<name>) is found for its component, in its workdir, and
// for no other name or workdir; its children are not group leaders.
func TestLeftBehindFindsOnlyTheComponentsOwnGroupLeaders(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	cmd := exec.Command("sh", "-c", "sleep 600 & wait")
	cmd.Dir, cmd.Env = dir, []string{"RAZAR_COMPONENT=web", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	// Start returns once the kernel has begun the exec, which may be before
	// /proc shows the new program's environment: wait for it to settle.
	wait.For(t, 5*time.Second, func() error {
		if got := leftBehind("web", dir); len(got) != 1 || got[0].PID != cmd.Process.Pid {
			return fmt.Errorf("leftBehind(web, its workdir) = %v, want pid %d alone", got, cmd.Process.Pid)
		}
		return nil
	})
	if got := leftBehind("api", dir); len(got) != 0 {
		t.Errorf("leftBehind(api) found %v: another component's process", got)
	}
	if got := leftBehind("web", other); len(got) != 0 {
		t.Errorf("leftBehind(web, another workdir) found %v", got)
	}
}
