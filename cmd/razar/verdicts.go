package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// One error, one exit code, one message, in every command.

// unknownComponent is the error of every command given a component that
// is not configured, whether the CLI found that out itself or the
// orchestrator said so (code not_found).
func unknownComponent(name string) error {
	return usageErr("unknown component %q (fix: check %s, or 'razar status' for the list)", name, bootConfigFile)
}

// checkComponent vets a component named on the command line before the
// bus is asked: a name that cannot be one is a usage error, and when the
// home's boot config can be read, a name it lacks is unknownComponent, as
// the orchestrator would answer. A boot config that cannot be read is left
// for the orchestrator to judge (RAZAR may run from another --config).
func (c *cli) checkComponent(name string) error {
	if err := razar.ValidName(name); err != nil {
		return usageErr("component: %v", err)
	}
	cfg, err := razar.LoadBootConfig(c.path(bootConfigFile))
	if err != nil {
		return nil
	}
	if _, err := cfg.Component(name); errors.Is(err, razar.ErrNotFound) {
		return unknownComponent(name)
	}
	return nil
}

// replyErr maps a lifecycle request that failed to its exit: not_found is
// unknownComponent and bad_request a usage error (exit 2); a refusal, a
// reply without a code, or no reply at all is a failed job (exit 1).
func replyErr(component string, rep *bus.LifecycleReply, err error) error {
	if rep != nil {
		switch rep.Code {
		case bus.CodeNotFound:
			return unknownComponent(component)
		case bus.CodeBadRequest:
			return usageErr("%v", err)
		}
	}
	return failed("%v", err)
}

const statusHelp = `Exit status, like systemctl is-failed: 0 while RAZAR runs and every
component runs, is being brought up or repaired (restarting, escalated), or
was stopped by an operator; 1 while the mission is halted or a component is
down with nothing bringing it up (quarantined, failed, left stopped by a
halt or a release, waiting on a halted boot cycle; with <component>: while
that one is), and when RAZAR is not running, after the last recorded state;
2 bad usage or an unknown component. The mission line names the host; a
halted mission says its next step (` + "`razar resume`" + ` once nothing is
quarantined). An escalated component shows the rung holding its incident
now, or when the next attempt starts during a --long-task backoff.
`

// statusVerdict decides status's exit from the mission state it printed:
// nil while the mission runs, an exit-1 error naming why while it is
// halted or a component is down with nothing bringing it up
// (bus.ComponentView.Down, the rule bus.MissionState.Assess uses for the
// health). With a component named (not bus.AllComponents), only that
// component and a halt count. A reply without a mission (an orchestrator
// without a supervisor) is nil.
func statusVerdict(m *bus.MissionState, component string) error {
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
	v := statusVerdict(m, component)
	if v == nil {
		return why
	}
	var ee *exitError
	if errors.As(why, &ee) {
		return &exitError{code: ee.code, err: fmt.Errorf("%w; last recorded state: %v", ee.err, v)}
	}
	return failed("%v; last recorded state: %v", why, v)
}
