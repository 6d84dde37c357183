package supervisor

import (
	"context"
	"os"
	"sort"
	"strings"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// stopRemoved stops the processes an earlier RAZAR left running for
// components boot_config.json no longer names, and records each stop: a
// component deleted from the config while RAZAR was down (or detached),
// and one a reload removed when RAZAR was killed before the reload had
// stopped it. Its pid file is how it is found; a pid the kernel has since
// given to another process is never signalled. Nothing else supervises
// such a process, so leaving it would leave an orphan no status shows.
func (s *Supervisor) stopRemoved(ctx context.Context) {
	dir := razar.Home(s.cfg.Home).ComponentStates()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	s.mu.Lock()
	known := map[string]bool{}
	for name := range s.comps {
		known[name] = true
	}
	s.mu.Unlock()
	var gone []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || known[name] || !bus.ValidToken(name) {
			continue
		}
		gone = append(gone, name)
	}
	sort.Strings(gone)
	for _, name := range gone {
		pf := s.readPidFile(name)
		if pf != nil && pf.ID.Alive() {
			s.log.Warn().Str("component", name).Int("pid", pf.ID.PID).
				Msg("stopping a component the last RAZAR left running: boot_config.json no longer names it")
			adopt(s.ctx, pf).stop(s.cfg.StopGrace)
			s.audit(ctx, &bus.AuditRecord{Event: bus.EventLifecycle, Component: name, Verb: "stop", Actor: "razar",
				Summary: "stopped at boot: no longer in boot_config.json (removed while RAZAR was down, or by a reload cut short)"})
		}
		s.removePidFile(name)
		s.removeHold(name)
	}
}
