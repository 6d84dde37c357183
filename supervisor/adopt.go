package supervisor

import (
	"context"
	"time"

	"github.com/razar/razar/bus"
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
