package ctl

import (
	"slices"
	"strings"

	"github.com/razar/razar/agents"
	"github.com/razar/razar/config"
)

// KnownVariables is every name config/razar.env may set to some effect:
// config.Variables, each rung's credential and endpoint variables (and a
// credential's V_FILE), and the ${VAR}s the roster names. roster may be
// nil; rungs are the rung packages, rungFor the package of a roster name.
func KnownVariables(roster *config.Roster, rungs []agents.Rung, rungFor func(string) agents.Rung) map[string]bool {
	known := map[string]bool{}
	for _, v := range config.Variables {
		known[v] = true
	}
	known[agents.CredentialsDirectoryEnv] = true // systemd's, where key files may be
	cred := func(v string) {
		if v != "" {
			known[v] = true
			known[v+agents.FileSuffix] = true
		}
	}
	rs := slices.Clone(rungs)
	if roster != nil {
		for _, e := range roster.Agents {
			r := rungFor(e.Name)
			rs = append(rs, r)
			for _, v := range agents.CredentialVars(r, e) {
				cred(v)
			}
			refs := config.VarsIn(e.Endpoint)
			if e.Auth != nil {
				refs = append(refs, config.VarsIn(e.Auth.Token)...)
			}
			for _, a := range e.Command {
				refs = append(refs, config.VarsIn(a)...)
			}
			for _, v := range refs {
				if !strings.HasPrefix(v, agents.FileRef) {
					cred(v)
				}
			}
		}
	}
	for _, r := range rs {
		cred(r.CredentialEnv)
		cred(r.EndpointEnv)
	}
	return known
}
