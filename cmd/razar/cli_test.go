package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/ctl"
	"github.com/razar/razar/internal/clihelp"
	"github.com/razar/razar/jetstream/bustest"
)

// runCLI runs razar in-process, as main does, with no bus in reach.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("RAZAR_NATS_URL", "")
	t.Setenv("RAZAR_HOME", "")
	var out, errb bytes.Buffer
	err := run(t.Context(), args, &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

const crownRoster = `{"agents": [{"name": "crown", "backend": "builtin"}]}`

func TestHomeFlagIsAcceptedBeforeAndAfterTheCommand(t *testing.T) {
	h := home(t, crownRoster, nil)
	for _, args := range [][]string{
		{"--home", h, "agents", "check"},
		{"--home=" + h, "agents", "check"},
		{"-home", h, "agents", "check"},
		{"agents", "check", "--home", h},
		{"agents", "check", "--home=" + h},
		{"agents", "--home", h, "check"},
		{"--home", "/nonexistent", "agents", "check", "--home", h}, // the last one wins
	} {
		out, stderr, code := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "crown") {
			t.Errorf("razar %q: exit %d, want 0 and the home's roster:\n%s%s", args, code, out, stderr)
		}
	}
}

func TestHomeFlagAmongAStatusCommandsFlagsReadsThatHome(t *testing.T) {
	h := home(t, crownRoster, map[string]string{"logs/razar_state.json": `{"health": "healthy", "components": [{"name": "web", "status": "healthy"}]}`})
	out, stderr, code := runCLI(t, "status", "--home", h, "--json")
	if code != 1 || !strings.Contains(out, `"health": "healthy"`) || !strings.Contains(stderr, "not running in "+h) {
		t.Fatalf("status --home H --json: exit %d\n%s%s", code, out, stderr)
	}
}

func TestHomeThatIsTheValueOfAnotherFlagIsNotTaken(t *testing.T) {
	h := home(t, crownRoster, nil)
	// --error takes "--home" as its text; the home stays h.
	_, stderr, code := runCLI(t, "--home", h, "escalate", "web", "--error", "--home")
	if code != 1 || !strings.Contains(stderr, "not running in "+h) {
		t.Fatalf("escalate web --error --home: exit %d, want 1 (RAZAR not running in %s):\n%s", code, h, stderr)
	}
}

func TestHomeWithoutADirectoryIsAUsageError(t *testing.T) {
	for _, args := range [][]string{{"--home"}, {"--home="}, {"status", "--home"}} {
		if _, stderr, code := runCLI(t, args...); code != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("razar %q: exit %d, want 2 with one line:\n%s", args, code, stderr)
		}
	}
}

func TestVersionNamesTheCommitAndTheGoVersion(t *testing.T) {
	out, stderr, code := runCLI(t, "--version")
	if code != 0 || !regexp.MustCompile(`^razar \S+ \(commit \S+, go1\.\d+`).MatchString(out) || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("razar --version: exit %d: %q %q", code, out, stderr)
	}
	if again, _, _ := runCLI(t, "version"); again != out {
		t.Errorf("razar version %q differs from razar --version %q", again, out)
	}
}

func TestEscalateHelpShowsArgumentsAndFlagsAndExitsZero(t *testing.T) {
	for _, args := range [][]string{{"escalate", "--help"}, {"escalate", "-h"}, {"help", "escalate"}} {
		out, stderr, code := runCLI(t, args...)
		if code != 0 || stderr != "" {
			t.Fatalf("razar %q: exit %d, stderr %q", args, code, stderr)
		}
		if !strings.HasPrefix(out, "Usage: razar escalate <component> --error TEXT\n") {
			t.Errorf("razar %q: usage line:\n%s", args, out)
		}
		if !regexp.MustCompile(`(?m)^  --error TEXT +\S`).MatchString(out) {
			t.Errorf("razar %q: --error should show TEXT:\n%s", args, out)
		}
		if !regexp.MustCompile(`(?m)^  --json {2,}[a-z]`).MatchString(out) {
			t.Errorf("razar %q: --json is a bool and must show no value:\n%s", args, out)
		}
	}
}

func TestBoolFlagsShowNoValueEvenWhenTheirUsageQuotesACommand(t *testing.T) {
	out, _, _ := runCLI(t, "boot", "--help")
	for _, name := range []string{"--long-task", "--once"} {
		if !regexp.MustCompile(`(?m)^  ` + name + ` {2,}[a-z]`).MatchString(out) {
			t.Errorf("%s shows a value:\n%s", name, out)
		}
	}
	if !regexp.MustCompile(`(?m)^  --retries N +.*\(default 3\)$`).MatchString(out) {
		t.Errorf("--retries should show N and its default:\n%s", out)
	}
}

func TestEveryCommandHasHelpThatExitsZero(t *testing.T) {
	c := newCLI(".", io.Discard, io.Discard, os.LookupEnv)
	root := c.newRoot()
	top := c.usageText(root)
	for _, cmd := range c.tree.Rows(root) {
		if cmd.Name() == "help" {
			continue
		}
		name := clihelp.SynopsisName(cmd)
		words := strings.Fields(name)
		out, stderr, code := runCLI(t, append(words, "--help")...)
		if code != 0 || stderr != "" || !strings.HasPrefix(out, "Usage: razar "+clihelp.Synopsis(cmd)+"\n\n"+clihelp.UnquoteCode(cmd.Short)+"\n") {
			t.Errorf("razar %s --help: exit %d, stderr %q:\n%s", name, code, stderr, out)
		}
		if strings.Contains(out+stderr, "help shown") || strings.Contains(out+stderr, "help printed") {
			t.Errorf("razar %s --help reports the help as an error:\n%s%s", name, out, stderr)
		}
		if via, _, _ := runCLI(t, append([]string{"help"}, words...)...); via != out {
			t.Errorf("razar help %s differs from razar %s --help", name, name)
		}
		if !strings.Contains(top, "  "+name) {
			t.Errorf("razar help does not list %s", name)
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"help", "agents"}, {"agents", "--help"}} {
		out, stderr, code := runCLI(t, args...)
		if code != 0 || stderr != "" || out == "" {
			t.Errorf("razar %q: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestATypoSuggestsTheCommandInOneLineWithoutTheUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"stauts"}, `razar: unknown command "stauts"; did you mean "status"?`},
		{[]string{"rotate"}, `razar: unknown command "rotate"; did you mean "rotate-keys"?`},
		{[]string{"sta"}, `razar: unknown command "sta"; did you mean "start" or "status"?`},
		{[]string{"agents", "chek"}, `razar: unknown command "agents chek"; did you mean "agents check"?`},
		{[]string{"help", "escalte"}, `razar: unknown command "escalte"; did you mean "escalate"?`},
		{[]string{"frobnicate"}, `razar: unknown command "frobnicate"`},
	} {
		out, stderr, code := runCLI(t, tt.args...)
		if want := tt.want + "\nrun 'razar help' for the commands\n"; code != 2 || stderr != want || out != "" {
			t.Errorf("razar %q: exit %d, stderr\n%s\nwant exit 2 and\n%s", tt.args, code, stderr, want)
		}
	}
}

func TestABadFlagIsOneLineWithExitTwo(t *testing.T) {
	out, stderr, code := runCLI(t, "status", "--bogus")
	if code != 2 || out != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "-bogus") {
		t.Fatalf("status --bogus: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestUnknownComponentIsTheSameErrorForEveryVerb runs without RAZAR: the
// home's boot config answers, as the orchestrator would (code not_found).
func TestUnknownComponentIsTheSameErrorForEveryVerb(t *testing.T) {
	h := home(t, crownRoster, nil)
	want := `razar: unknown component "nope" (fix: check config/boot_config.json, or 'razar status' for the list)` + "\n"
	for _, args := range [][]string{
		{"stop", "nope"}, {"start", "nope"}, {"restart", "nope"}, {"release", "nope"}, {"abort", "nope"},
		{"status", "nope"}, {"escalate", "nope", "--error", "down"},
		{"approve", "nope", "p-1"}, {"reject", "nope", "p-1"}, {"rollback-patch", "nope"},
		{"ack", "nope"}, {"resolve", "nope", "--summary", "by hand"}, {"pass", "nope"},
	} {
		_, stderr, code := runCLI(t, append([]string{"--home", h}, args...)...)
		if code != 2 || stderr != want {
			t.Errorf("razar %q: exit %d, stderr %q; want exit 2, %q", args, code, stderr, want)
		}
	}
	// The component that is configured gets past the check, to the bus.
	if _, stderr, code := runCLI(t, "--home", h, "stop", "web"); code != 1 || !strings.Contains(stderr, "not running") {
		t.Errorf("stop web without RAZAR: exit %d: %s", code, stderr)
	}
}

func TestRefusedRepliesMapToExitCodesByTheirCode(t *testing.T) {
	t.Parallel()
	err := errors.New("stop nope: component \"nope\": not found")
	for _, tt := range []struct {
		rep  *bus.LifecycleReply
		code int
	}{
		{&bus.LifecycleReply{Code: bus.CodeNotFound}, 2},
		{&bus.LifecycleReply{Code: bus.CodeBadRequest}, 2},
		{&bus.LifecycleReply{Code: bus.CodeRefused}, 1},
		{&bus.LifecycleReply{}, 1}, // an orchestrator that sends no code
		{nil, 1},                   // no reply at all
	} {
		var stderr bytes.Buffer
		code := exitCode(ctl.ReplyErr("nope", tt.rep, err), &stderr)
		if code != tt.code {
			t.Errorf("reply %+v: exit %d, want %d", tt.rep, code, tt.code)
		}
		if tt.rep != nil && tt.rep.Code == bus.CodeNotFound {
			var local bytes.Buffer
			exitCode(ctl.UnknownComponent("nope"), &local)
			if stderr.String() != local.String() {
				t.Errorf("not_found from the orchestrator %q differs from the local check %q", stderr.String(), local.String())
			}
		}
	}
}

func TestStatusVerdictFailsOnHaltQuarantineAndFailure(t *testing.T) {
	t.Parallel()
	comps := func(statuses ...string) []bus.ComponentView {
		var out []bus.ComponentView
		for i, s := range statuses {
			out = append(out, bus.ComponentView{Name: []string{"web", "db", "cache"}[i], Status: s})
		}
		return out
	}
	for _, tt := range []struct {
		name      string
		m         *bus.MissionState
		component string
		want      string // "" for exit 0
	}{
		{"healthy", &bus.MissionState{Health: "healthy", Components: comps("healthy", "healthy")}, bus.AllComponents, ""},
		{"being repaired", &bus.MissionState{Health: "degraded", Components: comps("escalated", "restarting", "booting")}, bus.AllComponents, ""},
		{"stopped by an operator", &bus.MissionState{Health: "healthy", Components: []bus.ComponentView{{Name: "web", Status: "stopped", Held: true}}}, bus.AllComponents, ""},
		{"left stopped by a halt or a release", &bus.MissionState{Health: "degraded", Components: comps("healthy", "stopped")}, bus.AllComponents, "stopped and not by an operator: db"},
		{"waiting on a halted cycle", &bus.MissionState{Health: "halted", Halted: "boot-1", Components: comps("stopped", "waiting")}, bus.AllComponents, "mission halted; stopped and not by an operator: web; waiting on a halted boot cycle: db"},
		{"waiting for its turn in a running cycle", &bus.MissionState{Health: "healthy", Cycle: "boot-1", Components: comps("healthy", "waiting")}, bus.AllComponents, ""},
		{"halted", &bus.MissionState{Health: "halted", Components: comps("healthy", "stopped")}, bus.AllComponents, "mission halted; stopped and not by an operator: db"},
		{"quarantined", &bus.MissionState{Health: "degraded", Quarantine: []string{"db"}, Components: comps("healthy", "quarantined")}, bus.AllComponents, "quarantined: db"},
		{"failed", &bus.MissionState{Health: "degraded", Components: comps("healthy", "healthy", "failed")}, bus.AllComponents, "failed: cache"},
		{"all at once", &bus.MissionState{Health: "halted", Quarantine: []string{"db"}, Components: comps("failed", "quarantined")}, bus.AllComponents, "mission halted; quarantined: db; failed: web"},
		{"named one healthy, another quarantined", &bus.MissionState{Health: "degraded", Quarantine: []string{"db"}, Components: comps("healthy", "quarantined")}, "web", ""},
		{"named one quarantined", &bus.MissionState{Health: "degraded", Quarantine: []string{"db"}, Components: comps("healthy", "quarantined")}, "db", "quarantined: db"},
		{"named one healthy, mission halted", &bus.MissionState{Health: "halted", Components: comps("healthy")}, "web", "mission halted"},
		{"no mission in the reply", nil, bus.AllComponents, ""},
	} {
		err := ctl.StatusVerdict(tt.m, tt.component)
		var stderr bytes.Buffer
		code := exitCode(err, &stderr)
		switch {
		case tt.want == "" && code != 0:
			t.Errorf("%s: exit %d (%s), want 0", tt.name, code, stderr.String())
		case tt.want != "" && (code != 1 || stderr.String() != "razar: "+tt.want+"\n"):
			t.Errorf("%s: exit %d %q, want 1 %q", tt.name, code, stderr.String(), tt.want)
		}
	}
}

func TestStatusOfAHaltedMissionWithoutRazarPrintsItAndExitsOne(t *testing.T) {
	h := home(t, crownRoster, map[string]string{"logs/razar_state.json": `{"updated": "2026-11-26T12:44:25Z", "health": "halted",
		"components": [{"name": "web", "status": "stopped", "restarts": 0, "last_error": "stopped: boot halted"}], "quarantine": [], "open_incidents": []}`})
	out, stderr, code := runCLI(t, "--home", h, "status")
	if code != 1 || !strings.Contains(out, "last recorded state") || !strings.Contains(out, "stopped: boot halted") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	if !strings.Contains(stderr, "not running") || !strings.Contains(stderr, "last recorded state: mission halted") {
		t.Errorf("status stderr should say RAZAR is not running and the mission halted: %q", stderr)
	}
}

func TestStatusOfARunningHaltedMissionExitsOne(t *testing.T) {
	h := home(t, crownRoster, map[string]string{
		"config/boot_config.json": `{"components": [
			{"name": "web", "priority": 1, "workdir": "web", "start_grace": "100ms", "command": ["sh", "-c", "echo bind: address already in use >&2; exit 1"]}]}`,
	})
	boot(t, h, []string{"RAZAR_RSTAR_THRESHOLD=0"}, "--retries", "0", "--nats-listen", "127.0.0.1:0")
	var out, stderr string
	var code int
	bustest.Eventually(t, 60*time.Second, func() bool {
		out, stderr, code = runCLI(t, "--home", h, "status")
		return strings.Contains(out, "mission: halted")
	}, "the mission never halted")
	if code != 1 || !strings.Contains(stderr, "mission halted") || strings.Contains(stderr, "not running") {
		t.Fatalf("status of a halted mission: exit %d\n%s%s", code, out, stderr)
	}
	if out, _, code := runCLI(t, "--home", h, "status", "--json"); code != 1 || !strings.Contains(out, `"health":"halted"`) {
		t.Fatalf("status --json of a halted mission: exit %d\n%s", code, out)
	}
	// Completion asks the running RAZAR for its components, not the file.
	if err := os.Rename(filepath.Join(h, "config/boot_config.json"), filepath.Join(h, "boot_config.json.aside")); err != nil {
		t.Fatal(err)
	}
	if out, stderr, _ := runCLI(t, "__complete", "--home", h, "restart", ""); !strings.Contains(out, "web\n") {
		t.Errorf("completion with RAZAR running did not offer its component web:\n%s%s", out, stderr)
	}
}

// TestCredsBeforeTheCommandIsTheIdentityItConnectsAs: --creds, like
// --home, may come before the command's name, and the command then
// connects as that file's identity (a missing file is named).
func TestCredsBeforeTheCommandIsTheIdentityItConnectsAs(t *testing.T) {
	h := home(t, crownRoster, map[string]string{"state/nats.url": "nats://127.0.0.1:1\n"})
	missing := filepath.Join(t.TempDir(), "nobody.creds")
	_, stderr, code := runCLI(t, "--creds", missing, "--home", h, "stop", "web")
	if code == 0 || !strings.Contains(stderr, missing) {
		t.Fatalf("razar --creds F --home H stop web: exit %d, want an error naming %s:\n%s", code, missing, stderr)
	}
	if _, stderr, code := runCLI(t, "--creds"); code != 2 || !strings.Contains(stderr, "--creds needs a creds file") {
		t.Fatalf("razar --creds: exit %d, want 2 and what it needs:\n%s", code, stderr)
	}
}
