package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
)

// ReloadReport says what a reload did to the components.
type ReloadReport struct {
	Added, Removed, Changed, Unchanged []string
}

// String is the report as one line, for the reply and the log.
func (r ReloadReport) String() string {
	part := func(verb string, names []string) string {
		if len(names) == 0 {
			return ""
		}
		return fmt.Sprintf("%s %s", verb, strings.Join(names, ", "))
	}
	var out []string
	for _, p := range []string{part("started", r.Added), part("stopped", r.Removed), part("restarted", r.Changed)} {
		if p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return fmt.Sprintf("no component changed (%d unchanged)", len(r.Unchanged))
	}
	return strings.Join(out, "; ") + fmt.Sprintf(" (%d unchanged)", len(r.Unchanged))
}

// Reload applies a new, already validated boot config: a new component
// starts, a removed one stops, a changed one restarts, an unchanged one is
// not touched. A changed component that an operator holds stopped, that is
// quarantined or being repaired only takes the new entry for its next
// start. Starts run in the supervisor's goroutines: Reload does not wait
// for them.
func (s *Supervisor) Reload(ctx context.Context, boot *config.BootConfig) ReloadReport {
	rep := s.compareRoster(boot.Components)
	for _, name := range rep.Removed {
		s.removeComponent(ctx, name)
	}
	s.setComponents(boot.Components)
	for _, name := range rep.Changed {
		s.mu.Lock()
		c := s.comps[name]
		restart := c.wantUp && !c.held && !c.recovering && c.status != bus.StatusQuarantined
		s.mu.Unlock()
		if restart {
			s.startAsync(name, "its entry in boot_config.json changed")
		}
	}
	for _, name := range rep.Added {
		s.mu.Lock()
		c := s.comps[name]
		c.wantUp = c.status != bus.StatusQuarantined
		s.mu.Unlock()
		if c.wantUp {
			s.startAsync(name, "it was added to boot_config.json")
		}
	}
	s.writeState()
	s.log.Info().Str("components", rep.String()).Msg("boot config reloaded")
	return rep
}

// compareRoster sorts the components of the new roster into added,
// removed, changed and unchanged against the running ones, each sorted.
func (s *Supervisor) compareRoster(components []config.Component) ReloadReport {
	var rep ReloadReport
	next := map[string]config.Component{}
	for _, c := range components {
		next[c.Name] = c
	}
	s.mu.Lock()
	for name, c := range s.comps {
		if _, ok := next[name]; !ok {
			rep.Removed = append(rep.Removed, name)
			continue
		}
		if specHash(c.spec) == specHash(next[name]) {
			rep.Unchanged = append(rep.Unchanged, name)
		} else {
			rep.Changed = append(rep.Changed, name)
		}
	}
	for name := range next {
		if _, ok := s.comps[name]; !ok {
			rep.Added = append(rep.Added, name)
		}
	}
	s.mu.Unlock()
	for _, l := range [][]string{rep.Added, rep.Removed, rep.Changed, rep.Unchanged} {
		sort.Strings(l)
	}
	return rep
}

// removeComponent stops a component the roster no longer lists and forgets
// it and its log.
func (s *Supervisor) removeComponent(ctx context.Context, name string) {
	if err := s.stop(ctx, name, "a reload", false); err != nil {
		s.log.Warn().Err(err).Str("component", name).Msg("could not stop a removed component")
	}
	s.mu.Lock()
	delete(s.comps, name)
	s.mu.Unlock()
	s.rot.Remove(s.componentLog(name))
}

// startAsync (re)starts a component in a supervisor goroutine, healing it
// as any failed start is healed.
func (s *Supervisor) startAsync(name, why string) {
	s.mu.Lock()
	c := s.comps[name]
	s.mu.Unlock()
	if c == nil {
		return
	}
	s.owned(c, func(ctx context.Context) {
		s.log.Info().Str("component", name).Msg("starting: " + why)
		err := s.startAndCheck(ctx, name)
		if err != nil && !errors.Is(err, ErrHeld) && ctx.Err() == nil {
			err = s.recoverSync(ctx, name, err.Error())
		}
		if err != nil && !errors.Is(err, ErrHeld) && ctx.Err() == nil {
			s.log.Error().Err(err).Str("component", name).Msg("component did not come up")
		}
	}, nil)
}

// owned runs fn in a goroutine the supervisor owns, with c marked as being
// repaired (so exits and probes leave it to fn) until it is done: after each
// run, again (when set) is asked under s.mu, the lock the mark is cleared
// under, whether fn must run once more. It reports false, running nothing,
// when c is already being repaired, an operator holds it, or the supervisor
// is closing.
func (s *Supervisor) owned(c *comp, fn func(ctx context.Context), again func(ctx context.Context) bool) bool {
	s.mu.Lock()
	if c.recovering || c.held || s.ctx.Err() != nil {
		s.mu.Unlock()
		return false
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c.recovering, c.cancelRecov = true, cancel
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer cancel()
		for {
			fn(ctx)
			s.mu.Lock()
			if again == nil || !again(ctx) {
				c.recovering, c.cancelRecov = false, nil
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}()
	return true
}
