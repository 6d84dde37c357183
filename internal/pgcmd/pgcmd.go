// Package pgcmd builds the commands RAZAR runs for operators' scripts
// (health probes, validate commands, exec agents): each in its own process
// group, so ending it ends everything it forked.
package pgcmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Command returns a command for argv that runs in dir (when not empty) with
// env added to RAZAR's environment, in its own process group. When ctx ends
// the whole group gets SIGKILL, and Wait gives up on its output pipes
// waitDelay later. A relative path with a slash ("./check.sh") resolves
// against dir, as an operator writing the config means it.
func Command(ctx context.Context, argv []string, dir string, env []string, waitDelay time.Duration) (*exec.Cmd, error) {
	path := argv[0]
	if dir != "" && strings.Contains(path, "/") && !filepath.IsAbs(path) {
		// The child chdirs into dir before exec: make the path absolute so
		// a relative dir is not applied twice.
		abs, err := filepath.Abs(filepath.Join(dir, path))
		if err != nil {
			return nil, err
		}
		path = abs
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the leader's pid: the script and its children.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	return cmd, nil
}
