package agents

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/razar/razar"
)

// Resolved is a roster entry with its ${VAR} references expanded: what a
// backend needs to run. Token is a secret: never log it.
type Resolved struct {
	Entry    razar.AgentEntry
	Endpoint string
	Token    string
	Command  []string
	// CredentialVars are the variables the entry's credential comes from.
	CredentialVars []string
}

// Remote reports whether a backend calls a service over the network.
func Remote(backend string) bool {
	return backend == razar.BackendOpenAI || backend == razar.BackendHTTP
}

// CredentialVars lists the variables a roster entry's credential is read
// from: the ${VAR}s its auth names, else the rung's own variable (k2
// KIMI2_API_KEY, airstar AIRSTAR_API_KEY, rstar RSTAR_API_KEY) for a remote
// backend. A rotated roster names the new variable in its auth, so the
// old one is no longer needed.
func CredentialVars(r Rung, e razar.AgentEntry) []string {
	if e.Auth != nil && e.Auth.Token != "" {
		return razar.VarsIn(e.Auth.Token)
	}
	if Remote(e.Backend) && r.CredentialEnv != "" {
		return []string{r.CredentialEnv}
	}
	return nil
}

// Resolve expands an entry for its rung. A credential variable that is unset
// or empty fails with *razar.AgentCredentialError naming agent and variable;
// a remote backend without an endpoint fails wrapping razar.ErrRungUnavailable.
// Errors never contain a secret's value.
func Resolve(r Rung, e razar.AgentEntry, lookup razar.Lookup) (Resolved, error) {
	res := Resolved{Entry: e, CredentialVars: CredentialVars(r, e)}
	for _, v := range res.CredentialVars {
		if val, ok := lookup(v); !ok || val == "" {
			return res, &razar.AgentCredentialError{Agent: e.Name, EnvVar: v, Empty: ok}
		}
	}
	switch {
	case e.Auth != nil && e.Auth.Token != "":
		tok, err := razar.Expand(e.Name, e.Auth.Token, lookup)
		if err != nil {
			return res, err
		}
		res.Token = tok
	case len(res.CredentialVars) == 1:
		res.Token, _ = lookup(res.CredentialVars[0])
	}
	if e.Auth != nil && e.Auth.Type != "" && e.Auth.Type != "bearer" {
		return res, fmt.Errorf("%w: agent %s: auth type %q is not supported (fix: use \"bearer\")", razar.ErrRungUnavailable, e.Name, e.Auth.Type)
	}
	endpoint := e.Endpoint
	if endpoint == "" && Remote(e.Backend) && r.EndpointEnv != "" {
		endpoint = "${" + r.EndpointEnv + "}"
	}
	if endpoint != "" {
		ep, err := razar.Expand(e.Name, endpoint, lookup)
		if err != nil {
			var ce *razar.AgentCredentialError
			if asCred(err, &ce) {
				state := "unset"
				if ce.Empty {
					state = "empty"
				}
				return res, fmt.Errorf("%w: agent %s: no endpoint: %s is %s (fix: export %s)", razar.ErrRungUnavailable, e.Name, ce.EnvVar, state, ce.EnvVar)
			}
			return res, err
		}
		res.Endpoint = ep
	}
	if Remote(e.Backend) {
		if res.Endpoint == "" {
			return res, fmt.Errorf("%w: agent %s: no endpoint (fix: set \"endpoint\" in the roster)", razar.ErrRungUnavailable, e.Name)
		}
		u, err := url.Parse(res.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return res, fmt.Errorf("%w: agent %s: endpoint %q is not an http(s) URL", razar.ErrRungUnavailable, e.Name, redactURL(res.Endpoint))
		}
	}
	for _, a := range e.Command {
		v, err := razar.Expand(e.Name, a, lookup)
		if err != nil {
			return res, err
		}
		res.Command = append(res.Command, v)
	}
	return res, nil
}

func asCred(err error, target **razar.AgentCredentialError) bool {
	ce, ok := err.(*razar.AgentCredentialError)
	if ok {
		*target = ce
	}
	return ok
}

// redactURL drops user info and query from a URL for an error message.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if len(s) > 40 {
			return s[:40] + "…"
		}
		return s
	}
	u.User, u.RawQuery = nil, ""
	return strings.TrimSuffix(u.String(), "?")
}

// SecretValues returns the values of every credential variable the roster
// uses, for a razar.Redactor: the rungs' own variables and every ${VAR} an
// auth names.
func SecretValues(roster *razar.Roster, rungFor func(string) Rung, lookup razar.Lookup) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if seen[v] {
			return
		}
		seen[v] = true
		if val, ok := lookup(v); ok && val != "" {
			out = append(out, val)
		}
	}
	for _, e := range roster.Agents {
		r := rungFor(e.Name)
		if r.CredentialEnv != "" {
			add(r.CredentialEnv)
		}
		for _, v := range CredentialVars(r, e) {
			add(v)
		}
	}
	return out
}

// RedactPatterns returns every "redact" pattern of the roster.
func RedactPatterns(roster *razar.Roster) []string {
	var out []string
	for _, e := range roster.Agents {
		out = append(out, e.Redact...)
	}
	return out
}
