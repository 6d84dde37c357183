package main

import (
	"strings"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/ctl"
)

// configWarnings are `razar boot`'s and `razar reload`'s warnings about
// the settings s read from c: unknown variables in config/razar.env and
// values the runbook advises against. --strict makes them exit 2.
func (c *cli) configWarnings(s *settings) []string {
	var env map[string]string
	if c.env != nil {
		env = c.env.File()
	}
	roster, _ := config.LoadRoster(razar.Home(c.home).Roster()) // a bad roster is reported on its own
	out := config.UnknownVariableWarnings(env, ctl.KnownVariables(roster, rungs(), rungFor))
	return append(out, s.vars.Warnings()...)
}

// strictErr is the error of --strict over warnings, nil without any.
func strictErr(warnings []string) error {
	if len(warnings) == 0 {
		return nil
	}
	return usageErr("--strict: %s (fix them, or drop --strict to run with the warnings)", strings.Join(warnings, "; "))
}
