package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/ctl"
	"github.com/razar/razar/orchestrator"
)

// notSettings are RAZAR_ names in the code that are not variables RAZAR
// reads: names of its streams and bucket, what it sets for the processes
// it starts, and the sandbox's own re-exec marker.
var notSettings = map[string]string{
	"RAZAR_RESULTS":      "stream name",
	"RAZAR_STATE":        "bucket name",
	"RAZAR_SANDBOX_INIT": "set by RAZAR for its own sandbox init",
	"RAZAR_COMPONENT":    "set for validate commands and exec rungs",
	"RAZAR_WORKDIR":      "set for validate commands and exec rungs",
	"RAZAR_INCIDENT":     "set for exec rungs",
	"RAZAR_RUNG":         "set for exec rungs",
	"RAZAR_ATTEMPT":      "set for exec rungs",
}

// TestEveryVariableTheCodeReadsIsKnown: every "RAZAR_..." string literal
// in the module's non-test code is in variables (or a name that is not a
// setting), so a new variable cannot be read without config/razar.env
// knowing it, and warning about it as a typo.
func TestEveryVariableTheCodeReadsIsKnown(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^RAZAR_[A-Z0-9_]+$`)
	found := map[string]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil && name.MatchString(v) {
					found[v] = fset.Position(lit.Pos()).String()
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 20 {
		t.Fatalf("found only %d RAZAR_ names under %s: the scan is broken", len(found), root)
	}
	for v, where := range found {
		if _, skip := notSettings[v]; !skip && !slices.Contains(config.Variables, v) {
			t.Errorf("%s reads %s, which the list of known variables (config/variables.go) lacks: config/razar.env would call it a typo", where, v)
		}
	}
	if !slices.IsSorted(config.Variables) {
		t.Error("config.Variables is not sorted")
	}
}

func TestAnUnknownVariableInRazarEnvNamesTheNearestKnownOne(t *testing.T) {
	roster := &config.Roster{Agents: []config.AgentEntry{{Name: "k2", Backend: config.BackendOpenAI,
		Auth: &config.AgentAuth{Type: "bearer", Token: "${KIMI2_API_KEY_2026_12}"}}}}
	env := map[string]string{
		"RAZAR_RSTAR_TRESHOLD":          "5", // the typo measured
		"RAZAR_RSTAR_THRESHOLD":         "9", // known
		"KIMI2_API_KEY_2026_12_FILE":    "k", // the roster's credential, by file
		"AIRSTAR_API_KEY":               "k", // a shipped rung's credential
		"RSTAR_ENDPOINT":                "u", // a shipped rung's endpoint
		"COMPLETELY_UNRELATED_SETTING":  "x", // nothing near it
		"RAZAR_ESCALATION_WARN_THRESHO": "1", // a cut-off name
	}
	got := strings.Join(config.UnknownVariableWarnings(env, ctl.KnownVariables(roster, rungs(), rungFor)), "\n")
	for _, want := range []string{
		"RAZAR_RSTAR_TRESHOLD, which RAZAR does not read: it is ignored; did you mean RAZAR_RSTAR_THRESHOLD?",
		"COMPLETELY_UNRELATED_SETTING, which RAZAR does not read: it is ignored (the settings are listed in README.md",
		"RAZAR_ESCALATION_WARN_THRESHO, which RAZAR does not read: it is ignored; the nearest variable RAZAR reads is RAZAR_ESCALATION_WARNING_THRESHOLD",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	for _, ok := range []string{"RAZAR_RSTAR_THRESHOLD,", "KIMI2_API_KEY_2026_12_FILE", "AIRSTAR_API_KEY", "RSTAR_ENDPOINT"} {
		if strings.Contains(got, " "+ok) {
			t.Errorf("a variable RAZAR reads, %s, is warned about:\n%s", ok, got)
		}
	}
	if strings.Contains(got, "=5") || strings.Contains(got, `"5"`) {
		t.Errorf("a warning quotes a value (the file holds secrets):\n%s", got)
	}
}

func TestBootStrictRefusesATypoInRazarEnvWithExitTwo(t *testing.T) {
	h := home(t, crownRoster, map[string]string{"config/razar.env": "RAZAR_RSTAR_TRESHOLD=5\n"})
	_, stderr, code := runCLI(t, "--home", h, "boot", "--strict", "--once", "--nats-listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "did you mean RAZAR_RSTAR_THRESHOLD?") {
		t.Fatalf("exit %d, want 2 naming the variable meant:\n%s", code, stderr)
	}
	if _, err := os.Stat(razar.Home(h).NATSURLFile()); !os.IsNotExist(err) {
		t.Errorf("a refused boot started the bus anyway (%s: %v)", "state/nats.url", err)
	}
}

func TestBootWarnsOfATypoInRazarEnvAndRunsWithoutStrict(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, map[string]string{"config/razar.env": "RAZAR_RSTAR_TRESHOLD=5\nRAZAR_ESCALATION_WARNING_THRESHOLD=0\n"})
	p := start(t, h, nil, "boot", "--once", "--retries", "0", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("boot --once exit %d, want 0 (a warning is no refusal without --strict):\n%s", code, p.out)
	}
	out := p.out.String()
	for _, want := range []string{"did you mean RAZAR_RSTAR_THRESHOLD?", "RAZAR_ESCALATION_WARNING_THRESHOLD=0", "≥ 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("boot's output lacks %q:\n%s", want, out)
		}
	}
}

func TestBootStrictRefusesAWarningThresholdOfZero(t *testing.T) {
	h := home(t, crownRoster, nil)
	t.Setenv("RAZAR_ESCALATION_WARNING_THRESHOLD", "0")
	_, stderr, code := runCLI(t, "--home", h, "boot", "--strict", "--once", "--nats-listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "RAZAR_ESCALATION_WARNING_THRESHOLD=0") || !strings.Contains(stderr, "≥ 1") {
		t.Fatalf("exit %d, want 2 saying the runbook wants W ≥ 1:\n%s", code, stderr)
	}
}

func TestABadDurationIsExplainedInWords(t *testing.T) {
	h := home(t, crownRoster, nil)
	for _, tt := range []struct{ value, want string }{
		{"5x", `RAZAR_APPROVAL_WINDOW: "5x" is not a duration: use a number and a unit, e.g. 90s, 5m, 1h (fix: unset it for the default 1h, or set a duration)`},
		{"5", `RAZAR_APPROVAL_WINDOW: "5" is not a duration: use a number and a unit`},
		{"-5m", `RAZAR_APPROVAL_WINDOW: "-5m" is not a positive duration`},
	} {
		t.Setenv("RAZAR_APPROVAL_WINDOW", tt.value)
		_, stderr, code := runCLI(t, "--home", h, "boot", "--once", "--nats-listen", "127.0.0.1:0")
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("RAZAR_APPROVAL_WINDOW=%s: exit %d, want 2 with %q:\n%s", tt.value, code, tt.want, stderr)
		}
		if strings.Contains(stderr, "time:") || strings.Contains(stderr, "1h0m0s") {
			t.Errorf("RAZAR_APPROVAL_WINDOW=%s: Go's own words leak: %s", tt.value, stderr)
		}
	}
}

func TestABadDurationFlagIsExplainedInWords(t *testing.T) {
	_, stderr, code := runCLI(t, "--home", t.TempDir(), "verify-monitoring", "--timeout", "5x")
	want := `verify-monitoring: --timeout "5x" is not a duration: use a number and a unit, e.g. 90s, 5m, 1h`
	if code != 2 || !strings.Contains(stderr, want) || strings.Contains(stderr, "parse error") {
		t.Fatalf("exit %d, want 2 with %q:\n%s", code, want, stderr)
	}
}

func TestStatusOfAHomeThatDoesNotExistSaysSoWithExitTwo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent")
	for _, args := range [][]string{{"--home", missing, "status"}, {"status", "--home", missing}, {"--home", missing, "stop", "web"}} {
		_, stderr, code := runCLI(t, args...)
		if code != 2 || !strings.Contains(stderr, "the RAZAR home "+missing+" does not exist") || !strings.Contains(stderr, "fix: --home DIR") {
			t.Errorf("razar %q: exit %d, want 2 saying the home does not exist and the fix:\n%s", args, code, stderr)
		}
		if strings.Contains(stderr, "not running") {
			t.Errorf("razar %q says RAZAR is not running in a home that does not exist:\n%s", args, stderr)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a command created the missing home: %v", err)
	}
}

func TestVerifyMonitoringReportsHostExportersNotConfiguredWithoutFailing(t *testing.T) {
	h := home(t, crownRoster, nil)
	good := strings.TrimSuffix(strings.TrimPrefix(serve(t, http.StatusOK, goodScrape), "http://"), "/metrics")
	t.Setenv("RAZAR_METRICS_ADDR", good)
	t.Setenv("RAZAR_CHAKRA_ADDR", good)
	t.Setenv("RAZAR_EXPORTERS", "none")
	out, stderr, code := runCLI(t, "--home", h, "verify-monitoring", "--timeout", "1s")
	if code != 0 {
		t.Fatalf("exit %d, want 0: no configured endpoint has a gap\n%s%s", code, out, stderr)
	}
	for _, name := range []string{"node-exporter", "cadvisor", "gpu-exporter"} {
		if !regexp.MustCompile(`(?m)^` + name + ` +http://\S+ +not configured +0 +not in RAZAR_EXPORTERS`).MatchString(out) {
			t.Errorf("%s is not reported as not configured:\n%s", name, out)
		}
	}
}

func TestVerifyMonitoringChecksAConfiguredHostExporter(t *testing.T) {
	h := home(t, crownRoster, nil)
	good := strings.TrimSuffix(strings.TrimPrefix(serve(t, http.StatusOK, goodScrape), "http://"), "/metrics")
	t.Setenv("RAZAR_METRICS_ADDR", good)
	t.Setenv("RAZAR_CHAKRA_ADDR", good)
	t.Setenv("RAZAR_EXPORTERS", "cadvisor")
	out, stderr, code := runCLI(t, "--home", h, "verify-monitoring", "--timeout", "1s")
	// cAdvisor is configured: probed, and its answer (or none) decides.
	if regexp.MustCompile(`(?m)^cadvisor .*not configured`).MatchString(out) {
		t.Fatalf("a configured cadvisor was not probed:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^node-exporter .*not configured`).MatchString(out) {
		t.Errorf("node-exporter, not listed, was probed:\n%s", out)
	}
	if regexp.MustCompile(`(?m)^cadvisor .* ok `).MatchString(out) != (code == 0) {
		t.Errorf("exit %d does not follow cadvisor's state:\n%s%s", code, out, stderr)
	}
}

func TestVerifyMonitoringRefusesAnUnknownExporterNameWithTheNearest(t *testing.T) {
	t.Setenv("RAZAR_EXPORTERS", "node-exporter,cadvsor")
	_, stderr, code := runCLI(t, "--home", t.TempDir(), "verify-monitoring")
	if code != 2 || !strings.Contains(stderr, `"cadvsor"`) || !strings.Contains(stderr, "did you mean cadvisor?") {
		t.Fatalf("exit %d, want 2 naming the typo and cadvisor:\n%s", code, stderr)
	}
}

// TestDocsSayWhatTMeansWithTheShippedRoster: T's passes, as README,
// docs/RUNBOOK.md and `razar help boot` state them, follow from the
// shipped roster's local rungs and T's default; no "three passes" is left.
func TestDocsSayWhatTMeansWithTheShippedRoster(t *testing.T) {
	roster, err := config.LoadRoster("../../examples/demo/config/razar_ai_agents.json")
	if err != nil {
		t.Fatal(err)
	}
	local := len(roster.Local())
	if local != 4 || orchestrator.DefaultThreshold != 9 {
		t.Fatalf("the shipped roster has %d local rungs and T defaults to %d: the docs say four and 9 (2¼ passes); update them", local, orchestrator.DefaultThreshold)
	}
	help, _, _ := runCLI(t, "help", "boot")
	top, _, _ := runCLI(t, "help")
	for name, text := range map[string]string{"README.md": readText(t, "../../README.md"), "docs/RUNBOOK.md": readText(t, "../../docs/RUNBOOK.md"),
		"razar help boot": help, "razar help": top} {
		if !strings.Contains(text, "2¼ passes") || !strings.Contains(text, "4 × N") {
			t.Errorf("%s does not say T = 9 is 2¼ passes and 4 × N is N passes", name)
		}
		if regexp.MustCompile(`(?i)three (full )?passes`).MatchString(text) {
			t.Errorf("%s still says three passes", name)
		}
	}
}

func readText(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const typoEnv = "RAZAR_RSTAR_TRESHOLD=5\n"

// twoComponents is home's boot config with a second component, extra.
const twoComponents = `{"components": [{"name": "web", "priority": 1, "command": ["sleep", "600"], "workdir": "web",
	"start_grace": "200ms", "health_check": {"command": ["sh", "-c", "test ! -f broken"]}},
 {"name": "extra", "priority": 2, "command": ["sleep", "600"], "workdir": "web", "start_grace": "200ms"}]}`

func TestReloadAnswersWithTheWarningAboutATypo(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	if err := os.WriteFile(razar.Home(h).EnvFile(), []byte(typoEnv), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runRazar(t, h, nil, "reload")
	if code != 0 || !strings.Contains(out, "warning: config/razar.env sets RAZAR_RSTAR_TRESHOLD") || !strings.Contains(out, "did you mean RAZAR_RSTAR_THRESHOLD?") {
		t.Fatalf("reload: exit %d, want 0 with the warning:\n%s", code, out)
	}
}

func TestReloadOfAStrictRazarRefusesATypoAndChangesNothing(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	boot(t, h, nil, "--strict", "--nats-listen", "127.0.0.1:0")
	write := func(rel, text string) {
		if err := os.WriteFile(filepath.Join(h, rel), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config/razar.env", typoEnv)
	write("config/boot_config.json", twoComponents)
	out, code := runRazar(t, h, nil, "reload")
	if code == 0 || !strings.Contains(out, "--strict") || !strings.Contains(out, "did you mean RAZAR_RSTAR_THRESHOLD?") {
		t.Fatalf("reload: exit %d, want a refusal naming the typo:\n%s", code, out)
	}
	if st, _ := runRazar(t, h, nil, "status", "--json"); strings.Contains(st, `"extra"`) {
		t.Fatalf("a refused reload started the new component:\n%s", st)
	}
	write("config/razar.env", "RAZAR_RSTAR_THRESHOLD=5\n")
	if out, code := runRazar(t, h, nil, "reload"); code != 0 {
		t.Fatalf("reload with the typo fixed: exit %d\n%s", code, out)
	}
	if st, _ := runRazar(t, h, nil, "status", "--json"); !strings.Contains(st, `"extra"`) {
		t.Fatalf("the reload with the typo fixed did not add the new component:\n%s", st)
	}
}

// razar reload --strict checks config/razar.env before it sends anything:
// with a typo it is exit 2 even before it looks for a running RAZAR.
func TestReloadStrictRefusesATypoBeforeSending(t *testing.T) {
	h := home(t, crownRoster, map[string]string{"config/razar.env": typoEnv})
	_, stderr, code := runCLI(t, "--home", h, "reload", "--strict")
	if code != 2 || !strings.Contains(stderr, "did you mean RAZAR_RSTAR_THRESHOLD?") || strings.Contains(stderr, "not running") {
		t.Fatalf("exit %d, want 2 naming the typo before any connection:\n%s", code, stderr)
	}
	// Without the typo it goes on to the bus, where no RAZAR runs: exit 1.
	if err := os.WriteFile(razar.Home(h).EnvFile(), []byte("RAZAR_RSTAR_THRESHOLD=5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, "--home", h, "reload", "--strict"); code != 1 || !strings.Contains(stderr, "not running") {
		t.Fatalf("exit %d, want 1 (no RAZAR to reload):\n%s", code, stderr)
	}
}
