package supervisor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/proc"
)

// tryAdopt takes over the component's process when an earlier RAZAR left
// it running: the pid file names the process by pid and start time, so a
// pid the kernel has since given to another process is never adopted (nor
// signalled). An adopted process that fails its probe, or that was started
// from an entry boot_config.json has since changed, is stopped and started
// afresh. It reports whether the component is adopted and healthy.
func (s *Supervisor) tryAdopt(ctx context.Context, name string) bool {
	pf := s.readPidFile(name)
	if pf == nil {
		return false
	}
	if !pf.ID.Alive() {
		s.removePidFile(name)
		s.log.Debug().Str("component", name).Int("pid", pf.ID.PID).Msg("the process of the pid file is gone; starting afresh")
		return false
	}
	s.mu.Lock()
	c := s.comps[name]
	spec := c.spec
	s.mu.Unlock()
	c.op.Lock()
	defer c.op.Unlock()
	p := adopt(s.ctx, pf)
	if pf.Spec != specHash(spec) {
		s.log.Info().Str("component", name).Int("pid", pf.ID.PID).Msg("boot_config.json changed since this process started: restarting it instead of adopting it")
		p.stop(s.cfg.StopGrace)
		return false
	}
	if err := s.probe(ctx, spec); err != nil || !p.running() {
		s.log.Warn().Err(err).Str("component", name).Int("pid", pf.ID.PID).Msg("the process left by the last RAZAR is not healthy: restarting it")
		p.stop(s.cfg.StopGrace)
		return false
	}
	s.mu.Lock()
	if c.held || s.closed {
		s.mu.Unlock()
		p.stop(s.cfg.StopGrace)
		return false
	}
	now := s.cfg.Clock.Now()
	c.proc, c.status, c.healthy, c.lastProbe, c.lastError = p, bus.StatusHealthy, now, now, ""
	s.mu.Unlock()
	s.writeState()
	s.watchExit(name, p)
	s.heartbeat(name, bus.StatusHealthy, pf.ID.PID)
	s.log.Info().Str("component", name).Int("pid", pf.ID.PID).Stringer("running_for", time.Since(pf.Started).Round(time.Second)).
		Msg("adopted the component left running by the last RAZAR")
	return true
}

// stopLeftBehind stops the processes of a component that the last RAZAR
// started and this one never adopted, before it starts the component
// afresh, so none runs beside the new one: the process its pid file names
// (a component with an open incident at boot is followed, not adopted, and
// its fix's verification restarts it), and any that no pid file names (a
// RAZAR killed between starting a process and writing its pid file).
func (s *Supervisor) stopLeftBehind(name string, spec config.Component) {
	var ids []proc.ID
	if pf := s.readPidFile(name); pf != nil && pf.ID.Alive() {
		ids = append(ids, pf.ID)
	}
	for _, id := range leftBehind(name, spec.Workdir) {
		if len(ids) == 0 || id != ids[0] {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		s.log.Info().Str("component", name).Int("pid", id.PID).Msg("stopping the process the last RAZAR left running before starting afresh")
		adopt(s.ctx, &pidFile{Component: name, ID: id}).stop(s.cfg.StopGrace)
	}
}

// leftBehind finds the processes launch started for component name that
// are still running: group leaders (launch gives each its own session)
// running in workdir with RAZAR_COMPONENT=name in their environment.
func leftBehind(name, workdir string) []proc.ID {
	if workdir == "" {
		return nil
	}
	if w, err := filepath.EvalSymlinks(workdir); err == nil {
		workdir = w // as /proc shows a cwd
	}
	want := []byte("RAZAR_COMPONENT=" + name)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []proc.ID
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if pg, err := syscall.Getpgid(pid); err != nil || pg != pid {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		if cwd, err := os.Readlink(filepath.Join(dir, "cwd")); err != nil || cwd != workdir {
			continue
		}
		env, err := os.ReadFile(filepath.Join(dir, "environ"))
		if err != nil || !hasVar(env, want) {
			continue
		}
		if id, err := proc.Identify(pid); err == nil && id.Alive() {
			out = append(out, id)
		}
	}
	return out
}

// hasVar reports whether the NUL-separated environment env holds kv.
func hasVar(env, kv []byte) bool {
	for v := range bytes.SplitSeq(env, []byte{0}) {
		if bytes.Equal(v, kv) {
			return true
		}
	}
	return false
}
