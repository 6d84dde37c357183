package agents

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/cut"
)

// Rung is what one rung package contributes: its identity, role and
// defaults. The rung packages (crown, kimicho, k2, airstar, rstar) each
// export one; cmd/razar lists them explicitly.
type Rung struct {
	Name    string
	Display string
	// Role is the rung's job, sent as its system prompt by LLM backends.
	Role string
	// CredentialEnv is the variable that holds the rung's key for remote
	// backends, "" when the rung needs none.
	CredentialEnv string
	// EndpointEnv is the variable that conventionally holds its endpoint.
	EndpointEnv string
	// Builtin is the rung's own backend for "backend": "builtin", or nil.
	Builtin razar.Agent
	// Candidates is how many alternative patches an LLM backend asks for
	// when the roster does not say (rStar: 3).
	Candidates int
}

// Generic is the Rung of a roster agent that no rung package describes.
func Generic(name string) Rung { return Rung{Name: name, Display: name} }

// Build makes the backend a roster entry asks for. A backend this build
// cannot run fails with an error wrapping razar.ErrRungUnavailable, so the
// ladder skips the rung instead of counting an attempt.
func Build(r Rung, e config.AgentEntry, home string, lookup config.Lookup) (razar.Agent, error) {
	res, err := Resolve(r, e, home, lookup)
	if err != nil {
		return nil, err
	}
	switch e.Backend {
	case config.BackendBuiltin:
		if r.Builtin == nil {
			return nil, fmt.Errorf("%w: agent %s has no builtin backend (fix: use exec, openai or http in the roster)", razar.ErrRungUnavailable, e.Name)
		}
		// Crown's runbook rules, with an LLM in front when its endpoint is set.
		if r.EndpointEnv != "" {
			if ep, ok := lookup(r.EndpointEnv); ok && ep != "" {
				llm, err := NewOpenAI(OpenAIConfig{Name: e.Name, Endpoint: ep, Model: e.Model, Token: res.Token, Role: r.Role, MaxTurns: e.MaxTurns})
				if err != nil {
					return nil, fmt.Errorf("%w: agent %s: %s: %v", razar.ErrRungUnavailable, e.Name, r.EndpointEnv, err)
				}
				return WithFallback(llm, r.Builtin), nil
			}
		}
		return r.Builtin, nil
	case config.BackendExec:
		return NewExec(e.Name, res.Command, home, res.Env), nil
	default:
		return buildRemote(r, res)
	}
}

// RosterLoader is the Loader of one rung: on every call (start and each
// reload) it reads the roster at rosterPath afresh and builds the backend,
// so nothing is cached across a reload. Relative exec commands resolve
// against home.
func RosterLoader(rosterPath, home string, r Rung, lookup config.Lookup) Loader {
	return func(context.Context) (razar.Agent, error) {
		roster, err := config.LoadRoster(rosterPath)
		if err != nil {
			return nil, err
		}
		e, err := rosterEntry(roster, r, filepath.Base(rosterPath))
		if err != nil {
			return nil, err
		}
		return Build(r, e, home, lookup)
	}
}

func rosterEntry(roster *config.Roster, r Rung, file string) (config.AgentEntry, error) {
	e, err := roster.Agent(r.Name)
	if err != nil {
		return e, fmt.Errorf("%w: %v (fix: add it to %s)", razar.ErrRungUnavailable, err, file)
	}
	return e, nil
}

// Prober answers a readiness probe (razar.agents.probe.<rung>): nil when
// this process could build its backend from candidate (a roster document;
// empty: the roster file as it is now) in its own environment, else why
// not. It builds and drops the backend: nothing the process runs changes,
// no request leaves it, and no error holds a key.
type Prober func(ctx context.Context, candidate []byte) error

// RosterProber is the Prober of one rung: the same reading and building as
// RosterLoader's, from the candidate roster when there is one. Its errors
// are scrubbed of the value of every variable and key file the entry
// names, so a candidate roster cannot make the answer carry a secret
// (an endpoint of "${SOME_SECRET}" fails to parse, and the error would
// quote it).
func RosterProber(rosterPath, home string, r Rung, lookup config.Lookup) Prober {
	return func(_ context.Context, candidate []byte) error {
		var (
			roster *config.Roster
			err    error
			file   = filepath.Base(rosterPath)
		)
		if len(candidate) == 0 {
			roster, err = config.LoadRoster(rosterPath)
		} else {
			file = "candidate roster"
			roster, err = config.ParseRoster(file, candidate)
		}
		if err != nil {
			return err
		}
		e, err := rosterEntry(roster, r, file)
		if err != nil {
			return err
		}
		if _, err := Build(r, e, home, lookup); err != nil {
			red, _ := razar.NewRedactor(entryValues(r, e, home, lookup), nil)
			if msg := red.Redact(err.Error()); msg != err.Error() {
				return errors.New(msg)
			}
			return err
		}
		return nil
	}
}

// entryValues is the value of every variable an entry refers to (its
// ${VAR}s anywhere, its rung's own variables) and of every key file it
// names, each as set and as read from its V_FILE.
func entryValues(r Rung, e config.AgentEntry, home string, lookup config.Lookup) []string {
	vars := []string{r.CredentialEnv, r.EndpointEnv}
	vars = append(vars, config.VarsIn(e.Endpoint)...)
	vars = append(vars, CredentialVars(r, e)...)
	if e.Auth != nil {
		vars = append(vars, config.VarsIn(e.Auth.Token)...)
	}
	for _, a := range e.Command {
		vars = append(vars, config.VarsIn(a)...)
	}
	var out []string
	for _, v := range vars {
		if v != "" {
			out = append(out, credentialValues(v, home, lookup)...)
		}
	}
	return out
}

// buildRemote makes an openai or http backend from a resolved entry.
func buildRemote(r Rung, res Resolved) (razar.Agent, error) {
	e := res.Entry
	switch e.Backend {
	case config.BackendOpenAI:
		n := e.Candidates
		if n == 0 {
			n = r.Candidates
		}
		return NewOpenAI(OpenAIConfig{Name: e.Name, Endpoint: res.Endpoint, Model: e.Model, Token: res.Token, Role: r.Role, Candidates: n, MaxTurns: e.MaxTurns})
	case config.BackendHTTP:
		return NewHTTP(HTTPConfig{Name: e.Name, Endpoint: res.Endpoint, Token: res.Token})
	}
	return nil, fmt.Errorf("%w: agent %s: backend %q: %w", razar.ErrRungUnavailable, e.Name, e.Backend, errNotBuilt)
}

// errNotBuilt marks a backend this build lacks, as opposed to a credential
// problem: rotation plans tolerate it.
var errNotBuilt = errors.New("backend not built in")

// WithFallback returns an agent that asks primary and, when primary cannot
// answer at all, asks fallback, noting why in the summary.
func WithFallback(primary, fallback razar.Agent) razar.Agent {
	return razar.AgentFunc(func(ctx context.Context, t razar.Task) (razar.Fix, error) {
		fix, err := primary.Repair(ctx, t)
		if err == nil {
			return fix, nil
		}
		if ctx.Err() != nil {
			return razar.Fix{}, err
		}
		fix, ferr := fallback.Repair(ctx, t)
		if ferr != nil {
			return razar.Fix{}, fmt.Errorf("%v; fallback: %w", err, ferr)
		}
		fix.Summary = strings.TrimSpace(fix.Summary + " (LLM unavailable: " + cut.FirstLine(err.Error()) + ")")
		return fix, nil
	})
}
