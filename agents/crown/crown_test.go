package crown

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/razar/razar"
)

func TestBuiltin(t *testing.T) {
	tests := []struct {
		name    string
		err     string
		history []razar.Attempt
		want    string // a prefix of the summary
		hold    string // a substring the summary must hold too
	}{
		{name: "address in use", err: "listen tcp 127.0.0.1:8101: bind: address already in use",
			want: "triage: port in use — another process holds the component's port", hold: "`ss -ltnp`"},
		{name: "port in use, any case", err: "Error: PORT IN USE: 8101", want: "triage: port in use — "},
		{name: "docker port allocated", err: "Bind for 0.0.0.0:80 failed: port is already allocated", want: "triage: port in use — "},
		{name: "EADDRINUSE", err: "Error: listen EADDRINUSE: :::3000", want: "triage: port in use — "},
		{name: "no such file", err: "fork/exec ./bin/router: no such file or directory",
			want: "triage: missing file — ", hold: "boot_config.json"},
		{name: "command not found", err: "sh: 1: routerd: not found", want: "triage: missing file — "},
		{name: "permission denied", err: "fork/exec ./start.sh: permission denied",
			want: "triage: permission denied — ", hold: "chmod +x"},
		{name: "operation not permitted", err: "listen tcp :80: bind: operation not permitted", want: "triage: permission denied — "},
		{name: "permission beats pid file", err: "open /run/router.pid: permission denied", want: "triage: permission denied — "},
		{name: "missing beats pid file", err: "open /run/router/router.pid: no such file or directory", want: "triage: missing file — "},
		{name: "pid file", err: "pid file /run/router.pid exists; is another instance running?",
			want: "triage: stale pid or lock file — ", hold: "ps -p PID"},
		{name: "lock file", err: "could not acquire lock file /var/lib/router/LOCK", want: "triage: stale pid or lock file — "},
		{name: ".lock", err: "database is locked: data/router.lock held", want: "triage: stale pid or lock file — "},
		{name: "port in use beats lock", err: "router.lock: address already in use", want: "triage: port in use — "},
		{name: "matched in the last attempt", err: "health check failed: status 503",
			history: []razar.Attempt{
				{Number: 1, Rung: "crown", Outcome: razar.OutcomeNoFix},
				{Number: 2, Rung: "kimicho", Outcome: razar.OutcomeRejected, Error: "restart: bind: address already in use"},
			},
			want: "triage: port in use (seen in attempt 2) — "},
		{name: "latest attempt wins", err: "exit status 1",
			history: []razar.Attempt{
				{Number: 1, Rung: "crown", Outcome: razar.OutcomeError, Error: "permission denied"},
				{Number: 2, Rung: "kimicho", Outcome: razar.OutcomeError, Error: "no such file or directory"},
			},
			want: "triage: missing file (seen in attempt 2) — "},
		{name: "only the latest three attempts with errors", err: "exit status 1",
			history: []razar.Attempt{
				{Number: 1, Outcome: razar.OutcomeError, Error: "address already in use"},
				{Number: 2, Outcome: razar.OutcomeError, Error: "exit status 1"},
				{Number: 3, Outcome: razar.OutcomeNoFix},
				{Number: 4, Outcome: razar.OutcomeError, Error: "exit status 1"},
				{Number: 5, Outcome: razar.OutcomeError, Error: "exit status 1"},
			},
			want: "triage: no runbook rule matches; escalating with the failure and 5 earlier attempts"},
		{name: "task error beats history", err: "permission denied",
			history: []razar.Attempt{{Number: 1, Outcome: razar.OutcomeError, Error: "address already in use"}},
			want:    "triage: permission denied — "},
		{name: "no match, no history", err: "segmentation fault (core dumped)",
			want: "triage: no runbook rule matches; escalating with the failure and 0 earlier attempts"},
		{name: "no match, one attempt", err: "panic: nil map",
			history: []razar.Attempt{{Number: 1, Outcome: razar.OutcomeNoFix}},
			want:    "triage: no runbook rule matches; escalating with the failure and 1 earlier attempt"},
		{name: "empty error", err: "",
			want: "triage: no runbook rule matches; escalating with the failure and 0 earlier attempts"},
	}
	agent := Builtin()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := razar.Task{Incident: "inc-1", Component: "crown_router", Error: tt.err, Attempt: len(tt.history) + 1, Rung: Name, History: tt.history}
			fix, err := agent.Repair(t.Context(), task)
			if err != nil {
				t.Fatalf("Repair = %v", err)
			}
			if fix.Status != razar.StatusNoFix {
				t.Errorf("status = %q, want %q", fix.Status, razar.StatusNoFix)
			}
			if fix.Diff != "" {
				t.Errorf("diff = %q, want none: Crown patches nothing", fix.Diff)
			}
			if !strings.HasPrefix(fix.Summary, tt.want) {
				t.Errorf("summary = %q, want it to start with %q", fix.Summary, tt.want)
			}
			if !strings.Contains(fix.Summary, tt.hold) {
				t.Errorf("summary = %q, want it to hold %q", fix.Summary, tt.hold)
			}
			if strings.Contains(fix.Summary, "\n") {
				t.Errorf("summary = %q, want one line", fix.Summary)
			}
		})
	}
}

func TestBuiltinCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Builtin().Repair(ctx, razar.Task{Error: "address already in use"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Repair = %v, want context.Canceled", err)
	}
}

func TestIdentity(t *testing.T) {
	if err := razar.ValidName(Name); err != nil {
		t.Errorf("Name: %v", err)
	}
	if Display != "Crown" {
		t.Errorf("Display = %q", Display)
	}
	role := Role()
	if !strings.Contains(role, "Crown") || !strings.Contains(role, "local runbook agent") || strings.Contains(role, "\n") {
		t.Errorf("Role = %q, want one paragraph naming Crown the local runbook agent", role)
	}
}
