package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/internal/pgcmd"
)

// process is one running component: its own process group, its output
// captured to a size-bounded log.
type process struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	exited  chan struct{} // closed when the process has exited
	err     error         // set before exited is closed
	out     io.Closer
}

// launch starts c's command in its own process group with c's env and
// workdir, stdout and stderr appended to out.
func launch(c razar.Component, out io.WriteCloser) (*process, error) {
	// Never cancelled: stop ends the process, with the group's grace period.
	cmd, err := pgcmd.Command(context.Background(), c.Command, c.Workdir, append(envOf(c), "RAZAR_COMPONENT="+c.Name), 0)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own group, so stop reaches every process it forks; and if RAZAR
	// itself is killed, the kernel kills the leader.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		out.Close()
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("start %s: %s: %v (fix: check command and workdir in boot_config.json)", c.Name, pe.Path, pe.Err)
		}
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	p := &process{cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), exited: make(chan struct{}), out: out}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the process has not exited.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitText describes how the process ended.
func (p *process) exitText() string {
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return "exited with status 0"
	case errors.As(p.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	return p.err.Error()
}

// stop sends SIGTERM to the process group, then SIGKILL after grace, and
// waits for the leader to exit. The group is killed at the end either way,
// so no child it forked outlives it.
func (p *process) stop(grace time.Duration) {
	if p.running() {
		_ = syscall.Kill(-p.pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
			<-p.exited
		}
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
}
