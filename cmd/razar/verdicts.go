package main

import (
	"errors"

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
