package crown

import (
	"context"
	"fmt"
	"strings"

	"github.com/razar/razar"
)

// Name is Crown's roster name; Display its name in records.
const (
	Name    = "crown"
	Display = "Crown"
)

// historyRules is how many of the latest earlier attempts Builtin reads when
// the task's own error matches no rule.
const historyRules = 3

// Role is Crown's job on the ladder, sent as the system prompt when an
// operator gives Crown an LLM backend instead of the builtin one.
func Role() string {
	return "You are Crown, RAZAR's local runbook agent and the first rung of the ladder. " +
		"You see a failure before any remote model does, match it against the operator runbook " +
		"(a port already in use, a missing file or binary, a permission problem, a stale pid or lock file) " +
		"and answer with a short triage: what the failure is and the operator's next step. " +
		"You do not patch code; answer no_fix with that triage so the next rung starts from it, " +
		"or with the failure and the earlier attempts when no runbook rule applies."
}

// rule is one runbook entry: any of its needles in an error (compared in
// lower case) makes it match.
type rule struct {
	name    string
	needles []string
	advice  string
}

// runbook lists the rules in the order they are tried: the first match
// wins, so the more specific causes come first ("open app.pid: permission
// denied" is a permission problem, "open app.pid: no such file or
// directory" a missing file).
func runbook() []rule {
	return []rule{
		{
			name:    "port in use",
			needles: []string{"address already in use", "port in use", "port is already in use", "port is already allocated", "eaddrinuse"},
			advice:  "another process holds the component's port; find it with `ss -ltnp` and stop it, or change the port",
		},
		{
			name:    "permission denied",
			needles: []string{"permission denied", "operation not permitted", "eacces", "eperm"},
			advice:  "the component may not open a file, run a binary or bind a port it needs; check owner and mode with `ls -l`, `chmod +x` the script, or use a port above 1024",
		},
		{
			name:    "missing file",
			needles: []string{"no such file or directory", "not found", "enoent"},
			advice:  "a binary, script or path the component needs does not exist; check command and workdir in config/boot_config.json and that the build produced the binary",
		},
		{
			name:    "stale pid or lock file",
			needles: []string{"pid file", "pidfile", ".pid", "lock file", "lockfile", ".lock"},
			advice:  "a previous run left its pid or lock file behind; check the pid in it is not running (`ps -p PID`), then delete the file and restart",
		},
	}
}

// Builtin returns Crown's builtin backend: runbook rules, no network, no
// credential. It matches the task's error, then the errors of the latest
// earlier attempts, against the runbook and answers razar.StatusNoFix with a
// triage summary naming the rule and the operator's next step, or saying no
// rule matches. It patches nothing. Repair fails only when ctx is already
// done, with ctx's error.
func Builtin() razar.Agent { return razar.AgentFunc(triage) }

func triage(ctx context.Context, t razar.Task) (razar.Fix, error) {
	if err := ctx.Err(); err != nil {
		return razar.Fix{}, fmt.Errorf("crown: %w", err)
	}
	if r, ok := match(t.Error); ok {
		return noFix(fmt.Sprintf("triage: %s — %s", r.name, r.advice)), nil
	}
	seen := 0
	for i := len(t.History) - 1; i >= 0 && seen < historyRules; i-- {
		a := t.History[i]
		if a.Error == "" {
			continue
		}
		seen++
		if r, ok := match(a.Error); ok {
			return noFix(fmt.Sprintf("triage: %s (seen in attempt %d) — %s", r.name, a.Number, r.advice)), nil
		}
	}
	n := len(t.History)
	attempts := "attempts"
	if n == 1 {
		attempts = "attempt"
	}
	return noFix(fmt.Sprintf("triage: no runbook rule matches; escalating with the failure and %d earlier %s", n, attempts)), nil
}

func match(errText string) (rule, bool) {
	if errText == "" {
		return rule{}, false
	}
	s := strings.ToLower(errText)
	for _, r := range runbook() {
		for _, n := range r.needles {
			if strings.Contains(s, n) {
				return r, true
			}
		}
	}
	return rule{}, false
}

func noFix(summary string) razar.Fix { return razar.Fix{Status: razar.StatusNoFix, Summary: summary} }
