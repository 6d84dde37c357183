package ctl

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
)

// One error, one exit code, one message, in every command.

// UnknownComponent is the error of every command given a component that
// is not configured, whether the CLI found that out itself or the
// orchestrator said so (code not_found).
func UnknownComponent(name string) error {
	return usageErr("unknown component %q (fix: check %s, or 'razar status' for the list)", name, razar.Home("").BootConfig())
}

// checkComponent vets a component named on the command line before the
// bus is asked: a name that cannot be one is a usage error, and when the
// home's boot config can be read, a name it lacks is UnknownComponent, as
// the orchestrator would answer. A boot config that cannot be read is left
// for the orchestrator to judge (RAZAR may run from another --config).
func (c *Client) checkComponent(name string) error {
	if err := razar.ValidName(name); err != nil {
		return usageErr("component: %v", err)
	}
	cfg, err := config.LoadBootConfig(c.home().BootConfig())
	if err != nil {
		return nil
	}
	if _, err := cfg.Component(name); errors.Is(err, razar.ErrNotFound) {
		return UnknownComponent(name)
	}
	return nil
}

// ReplyErr maps a lifecycle request that failed to its exit: not_found is
// UnknownComponent and bad_request a usage error (exit 2); a refusal, a
// reply without a code, or no reply at all is a failed job (exit 1).
func ReplyErr(component string, rep *bus.LifecycleReply, err error) error {
	if rep != nil {
		switch rep.Code {
		case bus.CodeNotFound:
			return UnknownComponent(component)
		case bus.CodeBadRequest:
			return usageErr("%v", err)
		}
	}
	return failed("%v", err)
}

// StatusVerdict decides status's exit from the mission state it printed:
// nil while the mission runs, an exit-1 error naming why while it is
// halted or a component is down with nothing bringing it up
// (bus.ComponentView.Down, the rule bus.MissionState.Assess uses for the
// health). With a component named (not bus.AllComponents), only that
// component and a halt count. A reply without a mission (an orchestrator
// without a supervisor) is nil.
func StatusVerdict(m *bus.MissionState, component string) error {
	if m == nil {
		return nil
	}
	var why []string
	if m.Health == bus.HealthHalted {
		why = append(why, "mission halted")
	}
	if m.Store != "" {
		why = append(why, "record store: "+m.Store)
	}
	byReason := map[string][]string{}
	for _, v := range m.Components {
		if component != bus.AllComponents && v.Name != component {
			continue
		}
		if d := v.Down(m.Cycle); d != "" {
			byReason[d] = append(byReason[d], v.Name)
		}
	}
	if component == bus.AllComponents {
		for _, q := range m.Quarantine { // a state file may list one no view shows
			if !slices.Contains(byReason["quarantined"], q) {
				byReason["quarantined"] = append(byReason["quarantined"], q)
			}
		}
	}
	reasons := slices.Sorted(maps.Keys(byReason))
	slices.SortStableFunc(reasons, func(a, b string) int { return downRank(a) - downRank(b) })
	for _, r := range reasons {
		why = append(why, r+": "+strings.Join(byReason[r], ", "))
	}
	if len(why) == 0 {
		return nil
	}
	return failed("%s", strings.Join(why, "; "))
}

// downRank orders the reasons a status gives, worst first.
func downRank(reason string) int {
	switch {
	case reason == "quarantined":
		return 0
	case reason == "failed":
		return 1
	case strings.HasPrefix(reason, "stopped"):
		return 2
	}
	return 3
}

// notRunningVerdict is status's error when RAZAR did not answer: why it
// could not ask, and what the last recorded state says.
func notRunningVerdict(why error, m *bus.MissionState, component string) error {
	v := StatusVerdict(m, component)
	if v == nil {
		return why
	}
	var ee *ExitError
	if errors.As(why, &ee) {
		return &ExitError{Code: ee.Code, Err: fmt.Errorf("%w; last recorded state: %v", ee.Err, v)}
	}
	return failed("%v; last recorded state: %v", why, v)
}
