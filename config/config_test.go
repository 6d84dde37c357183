package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
)

// contractBoot and contractRoster are the examples of CONTRACT.md section 2,
// verbatim. If the contract changes, change them with it.
const contractBoot = `{"components": [
  {"name": "crown_router", "priority": 1,
   "command": ["./bin/router", "--port", "8101"], "workdir": "services/router",
   "env": {"LOG_LEVEL": "info"},
   "health_check": {"http": "http://127.0.0.1:8101/ready"},
   "validate": ["./check_config.sh"], "chakra": "root"}
]}`

const contractRoster = `{"agents": [
  {"name": "crown",   "backend": "builtin"},
  {"name": "kimicho", "backend": "openai", "endpoint": "${KIMICHO_ENDPOINT}", "model": "kimi-cho"},
  {"name": "k2", "display": "K2 Coder", "backend": "openai", "endpoint": "${KIMI2_ENDPOINT}",
   "model": "kimi-k2", "auth": {"type": "bearer", "token": "${KIMI2_API_KEY}"}},
  {"name": "airstar", "display": "Air Star", "backend": "openai", "endpoint": "${AIRSTAR_ENDPOINT}",
   "auth": {"type": "bearer", "token": "${AIRSTAR_API_KEY}"}},
  {"name": "rstar", "backend": "openai", "endpoint": "${RSTAR_ENDPOINT}", "takeover": true,
   "auth": {"type": "bearer", "token": "${RSTAR_API_KEY}"}}
]}`

// demoConfigs returns the files of examples/demo/config by base name.
func demoConfigs(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "examples", "demo", "config", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	for _, want := range []string{"boot_config.json", "razar_ai_agents.json"} {
		if _, ok := out[want]; !ok {
			t.Fatalf("examples/demo/config/%s is missing", want)
		}
	}
	return out
}

// checkBootConfig asserts what every accepted boot config must satisfy.
func checkBootConfig(t testing.TB, cfg *BootConfig) {
	t.Helper()
	seen := map[string]bool{}
	for i, c := range cfg.Components {
		if err := razar.ValidName(c.Name); err != nil {
			t.Errorf("components[%d]: accepted invalid name: %v", i, err)
		}
		if seen[c.Name] {
			t.Errorf("components[%d]: accepted duplicate name %q", i, c.Name)
		}
		seen[c.Name] = true
		if len(c.Command) == 0 || c.Command[0] == "" {
			t.Errorf("components[%d] (%s): accepted without a command: %q", i, c.Name, c.Command)
		}
		if c.Approval != "" && c.Approval != "auto" && c.Approval != "manual" {
			t.Errorf("components[%d] (%s): accepted approval %q", i, c.Name, c.Approval)
		}
		for j, g := range c.Protect {
			if err := ValidProtectGlob(g); err != nil {
				t.Errorf("components[%d] (%s): accepted protect[%d] %q: %v", i, c.Name, j, g, err)
			}
		}
		if c.StartGrace < 0 {
			t.Errorf("components[%d] (%s): accepted negative start_grace %v", i, c.Name, time.Duration(c.StartGrace))
		}
		if hc := c.HealthCheck; hc != nil {
			if hc.Kind() == "" {
				t.Errorf("components[%d] (%s): accepted a health_check with no probe: %+v", i, c.Name, *hc)
			}
			if hc.Timeout < 0 {
				t.Errorf("components[%d] (%s): accepted negative health_check timeout", i, c.Name)
			}
		}
	}
}

// checkRoster asserts what every accepted roster must satisfy.
func checkRoster(t testing.TB, r *Roster) {
	t.Helper()
	if len(r.Agents) == 0 {
		t.Errorf("accepted a roster without agents")
	}
	seen := map[string]bool{}
	takeovers := 0
	for i, a := range r.Agents {
		if err := razar.ValidName(a.Name); err != nil {
			t.Errorf("agents[%d]: accepted invalid name: %v", i, err)
		}
		if seen[a.Name] {
			t.Errorf("agents[%d]: accepted duplicate name %q", i, a.Name)
		}
		seen[a.Name] = true
		switch a.Backend {
		case BackendBuiltin, BackendOpenAI, BackendHTTP, BackendHuman:
		case BackendExec:
			if len(a.Command) == 0 {
				t.Errorf("agents[%d] (%s): accepted exec backend without command", i, a.Name)
			}
		default:
			t.Errorf("agents[%d] (%s): accepted backend %q", i, a.Name, a.Backend)
		}
		for _, p := range a.Redact {
			if re, err := regexp.Compile(p); err != nil || re.MatchString("") {
				t.Errorf("agents[%d] (%s): accepted redact pattern %q that does not compile or matches empty text", i, a.Name, p)
			}
		}
		if a.Takeover {
			takeovers++
		}
		if a.Candidates < 0 || a.Candidates > MaxCandidates {
			t.Errorf("agents[%d] (%s): accepted candidates %d, outside 0 to %d", i, a.Name, a.Candidates, MaxCandidates)
		}
		if n := a.CandidateLimit(); n < 1 || n > MaxCandidates {
			t.Errorf("agents[%d] (%s): CandidateLimit %d, outside 1 to %d", i, a.Name, n, MaxCandidates)
		}
		if a.Timeout < 0 || a.AttemptTimeout() <= 0 {
			t.Errorf("agents[%d] (%s): accepted timeout %v", i, a.Name, time.Duration(a.Timeout))
		}
		if got, err := r.Agent(a.Name); err != nil || got.Name != a.Name {
			t.Errorf("Agent(%q) = %q, %v", a.Name, got.Name, err)
		}
	}
	if takeovers > 1 {
		t.Errorf("accepted %d takeover rungs", takeovers)
	}
	_, hasTakeover := r.Takeover()
	if hasTakeover != (takeovers == 1) || len(r.Local())+takeovers != len(r.Agents) {
		t.Errorf("Takeover/Local disagree with the entries: takeover %v, %d local of %d", hasTakeover, len(r.Local()), len(r.Agents))
	}
}

func TestParseBootConfigValid(t *testing.T) {
	demo := demoConfigs(t)
	tests := []struct {
		name  string
		input string
		want  *BootConfig // nil: only the invariants are checked
	}{
		{
			name:  "contract example",
			input: contractBoot,
			want: &BootConfig{Components: []Component{{
				Name: "crown_router", Priority: 1,
				Command:     []string{"./bin/router", "--port", "8101"},
				Workdir:     "services/router",
				Env:         map[string]string{"LOG_LEVEL": "info"},
				HealthCheck: &razar.HealthCheck{HTTP: "http://127.0.0.1:8101/ready"},
				Validate:    []string{"./check_config.sh"},
				Chakra:      "root",
			}}},
		},
		{
			name:  "demo boot_config.json",
			input: string(demo["boot_config.json"]),
		},
		{
			name: "every health_check form, approval and start_grace",
			input: `{"components": [
			  {"name": "a", "command": ["./a"], "health_check": ["./probe", "--quick"]},
			  {"name": "b", "command": ["./b"], "health_check": {"command": ["./probe"], "timeout": "2s"}},
			  {"name": "c", "command": ["./c"], "health_check": {"http": "http://127.0.0.1:1/ready"}},
			  {"name": "d", "command": ["./d"], "health_check": {"tcp": "127.0.0.1:5432"}, "approval": "manual"},
			  {"name": "e-1_x", "priority": -3, "command": ["./e"], "approval": "auto", "start_grace": 1.5}
			]}`,
			want: &BootConfig{Components: []Component{
				{Name: "a", Command: []string{"./a"}, HealthCheck: &razar.HealthCheck{Command: []string{"./probe", "--quick"}}},
				{Name: "b", Command: []string{"./b"}, HealthCheck: &razar.HealthCheck{Command: []string{"./probe"}, Timeout: razar.Duration(2 * time.Second)}},
				{Name: "c", Command: []string{"./c"}, HealthCheck: &razar.HealthCheck{HTTP: "http://127.0.0.1:1/ready"}},
				{Name: "d", Command: []string{"./d"}, HealthCheck: &razar.HealthCheck{TCP: "127.0.0.1:5432"}, Approval: "manual"},
				{Name: "e-1_x", Priority: -3, Command: []string{"./e"}, Approval: "auto", StartGrace: razar.Duration(1500 * time.Millisecond)},
			}},
		},
		{
			name:  "protect globs",
			input: `{"components": [{"name": "a", "command": ["./a"], "protect": ["secrets/**", "*.key", "bin", "conf/**/[a-z]?.pem", "\\*"]}]}`,
			want:  &BootConfig{Components: []Component{{Name: "a", Command: []string{"./a"}, Protect: []string{"secrets/**", "*.key", "bin", "conf/**/[a-z]?.pem", `\*`}}}},
		},
		{
			name:  "64-character name",
			input: `{"components": [{"name": "` + strings.Repeat("a", 64) + `", "command": ["x"]}]}`,
			want:  &BootConfig{Components: []Component{{Name: strings.Repeat("a", 64), Command: []string{"x"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseBootConfig("config/boot_config.json", []byte(tt.input))
			if err != nil {
				t.Fatalf("ParseBootConfig: %v", err)
			}
			if len(cfg.Components) == 0 {
				t.Fatalf("no components parsed")
			}
			checkBootConfig(t, cfg)
			if tt.want != nil && !reflect.DeepEqual(cfg, tt.want) {
				t.Errorf("got  %+v\nwant %+v", cfg.Components, tt.want.Components)
			}
		})
	}
}

func TestParseBootConfigEmptyList(t *testing.T) {
	cfg, err := ParseBootConfig("b.json", []byte(`{"components": []}`))
	if err != nil {
		t.Fatalf("ParseBootConfig: %v", err)
	}
	b, err := json.Marshal(cfg)
	if err != nil || string(b) != `{"components":[]}` {
		t.Errorf("empty config writes back as %s, %v; want {\"components\":[]}", b, err)
	}
}

// wantConfigError asserts err is a *razar.ConfigError for file that wraps
// razar.ErrInvalidConfig, whose Field contains field and whose message contains
// field and every one of msg.
func wantConfigError(t *testing.T, err error, file, field string, msg ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want an error naming %q", field)
	}
	if !errors.Is(err, razar.ErrInvalidConfig) {
		t.Errorf("errors.Is(%v, ErrInvalidConfig) = false", err)
	}
	var ce *razar.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not a *ConfigError: %v", err, err)
	}
	if ce.File != file {
		t.Errorf("File = %q, want %q", ce.File, file)
	}
	if ce.Fix == "" {
		t.Errorf("no fix in %v", err)
	}
	text := err.Error()
	if !strings.HasPrefix(text, file+": ") {
		t.Errorf("message does not start with the file name %q: %s", file, text)
	}
	if !strings.Contains(ce.Field, field) || !strings.Contains(text, field) {
		t.Errorf("error does not name field %q (Field %q): %s", field, ce.Field, text)
	}
	for _, m := range msg {
		if !strings.Contains(text, m) {
			t.Errorf("error does not say %q: %s", m, text)
		}
	}
}

func TestParseBootConfigErrors(t *testing.T) {
	const file = "config/boot_config.json"
	comp := func(extra string) string {
		return `{"components": [{"name": "web", "command": ["./web"]` + extra + `}]}`
	}
	tests := []struct {
		name  string
		input string
		field string   // must appear in Field and in the message; "" for the document itself
		msg   []string // further text the message must hold
	}{
		{"not JSON", `components: [web]`, "", []string{"not valid JSON"}},
		{"truncated JSON", `{"components": [`, "", []string{"ends at line 1, column 17"}},
		{"empty file", ``, "", []string{"empty"}},
		{"syntax error gives line and column", "{\"components\": [\n  {\"name\": \"web\",\n   \"command\": [\"./web\"],}\n]}", "", []string{"line 3, column 25", "not valid JSON"}},
		{"trailing document", `{"components": []} {"components": []}`, "", []string{"trailing data"}},
		{"top level is an array", `[{"name": "web"}]`, "", []string{"array"}},
		{"components missing", `{}`, "components", []string{"missing"}},
		{"components null", `{"components": null}`, "components", []string{"missing"}},
		{"unknown top-level field", `{"components": [], "services": []}`, "", []string{`unknown field "services"`}},
		{"unknown component field", comp(`, "helth_check": ["./probe"]`), "components[0] (web)", []string{`"helth_check"`}},
		{"unknown field before the name", `{"components": [{"bogus": 1, "name": "web", "command": ["x"]}]}`, "components[0] (web)", []string{`"bogus"`}},
		{"wrong type names the field", `{"components": [{"name": "web", "command": "./web"}]}`, "components[0] (web)", []string{`"command"`, "string"}},
		{"component is not an object", `{"components": ["web"]}`, "components[0]", nil},
		{"name missing", `{"components": [{"command": ["x"]}]}`, "components[0].name", []string{"not a valid name"}},
		{"name upper case", `{"components": [{"name": "Web", "command": ["x"]}]}`, "components[0] (Web).name", nil},
		{"name starts with dash", `{"components": [{"name": "-web", "command": ["x"]}]}`, ".name", nil},
		{"name with dot", `{"components": [{"name": "web.1", "command": ["x"]}]}`, ".name", nil},
		{"name with space", `{"components": [{"name": "web 1", "command": ["x"]}]}`, ".name", nil},
		{"name with newline", `{"components": [{"name": "web\n", "command": ["x"]}]}`, ".name", nil},
		{"name 65 characters", `{"components": [{"name": "` + strings.Repeat("a", 65) + `", "command": ["x"]}]}`, ".name", nil},
		{"duplicate name", `{"components": [{"name": "web", "command": ["x"]}, {"name": "db", "command": ["y"]}, {"name": "web", "command": ["z"]}]}`,
			"components[2] (web).name", []string{"duplicate of components[0]"}},
		{"command missing", `{"components": [{"name": "web"}]}`, "components[0] (web).command", []string{"missing"}},
		{"command empty", `{"components": [{"name": "web", "command": []}]}`, "components[0] (web).command", []string{"missing"}},
		{"command empty program", `{"components": [{"name": "web", "command": ["", "x"]}]}`, "components[0] (web).command", []string{"missing"}},
		{"health_check bare empty array", comp(`, "health_check": []`), "components[0] (web)", []string{"health_check"}},
		{"health_check bare array of numbers", comp(`, "health_check": [1, 2]`), "components[0] (web)", []string{"health_check"}},
		{"health_check string", comp(`, "health_check": "http://h/ready"`), "components[0] (web)", []string{"health_check"}},
		{"health_check empty object", comp(`, "health_check": {}`), "components[0] (web)", []string{"health_check", "exactly one", "got 0"}},
		{"health_check http and tcp", comp(`, "health_check": {"http": "http://h/", "tcp": "h:1"}`), "components[0] (web)", []string{"health_check", "exactly one", "got 2"}},
		{"health_check command and http", comp(`, "health_check": {"command": ["./p"], "http": "http://h/"}`), "components[0] (web)", []string{"health_check", "got 2"}},
		{"health_check unknown key", comp(`, "health_check": {"grpc": "h:1"}`), "components[0] (web)", []string{"health_check", `"grpc"`}},
		{"health_check bad timeout", comp(`, "health_check": {"http": "http://h/", "timeout": "soon"}`), "components[0] (web)", []string{"health_check", `"soon"`}},
		{"approval unknown", comp(`, "approval": "maybe"`), "components[0] (web).approval", []string{`"maybe"`, "auto or manual"}},
		{"approval wrong case", comp(`, "approval": "Manual"`), "components[0] (web).approval", nil},
		{"protect empty glob", comp(`, "protect": [""]`), "components[0] (web).protect[0]", []string{"empty glob"}},
		{"protect absolute", comp(`, "protect": ["ok", "/etc/*"]`), "components[0] (web).protect[1]", []string{`"/etc/*"`, "absolute"}},
		{"protect dot-dot", comp(`, "protect": ["a/../../b"]`), "components[0] (web).protect[0]", []string{`".."`}},
		{"protect dot", comp(`, "protect": ["./x"]`), "components[0] (web).protect[0]", []string{`"."`}},
		{"protect empty segment", comp(`, "protect": ["a//b"]`), "components[0] (web).protect[0]", []string{"empty segment"}},
		{"protect trailing slash", comp(`, "protect": ["bin/"]`), "components[0] (web).protect[0]", []string{"empty segment"}},
		{"protect ** inside a segment", comp(`, "protect": ["a**"]`), "components[0] (web).protect[0]", []string{"whole segment"}},
		{"protect bad pattern", comp(`, "protect": ["conf/[x"]`), "components[0] (web).protect[0]", []string{`"[x"`, "syntax error in pattern"}},
		{"protect not a list", comp(`, "protect": "secrets/**"`), "components[0] (web)", []string{`"protect"`}},
		{"context include absolute", comp(`, "context": {"include": ["/etc/passwd"]}`), "components[0] (web).context.include[0]", []string{"absolute"}},
		{"context exclude dot-dot", comp(`, "context": {"exclude": ["ok", "../x"]}`), "components[0] (web).context.exclude[1]", []string{`".."`}},
		{"context max_bytes negative", comp(`, "context": {"max_bytes": -1}`), "components[0] (web).context.max_bytes", []string{"out of range"}},
		{"context max_bytes too large", comp(`, "context": {"max_bytes": 999999999}`), "components[0] (web).context.max_bytes", []string{"out of range"}},
		{"context unknown key", comp(`, "context": {"includes": ["x"]}`), "components[0] (web)", []string{`"includes"`}},
		{"start_grace not a duration", comp(`, "start_grace": "soon"`), "components[0] (web)", []string{`"soon"`, `"start_grace"`}},
		{"start_grace negative string", comp(`, "start_grace": "-1s"`), "components[0] (web)", []string{"negative"}},
		{"start_grace negative number", comp(`, "start_grace": -5`), "components[0] (web)", []string{"negative"}},
		{"start_grace overflows", comp(`, "start_grace": 1e300`), "components[0] (web)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseBootConfig(file, []byte(tt.input))
			if cfg != nil {
				t.Errorf("returned a config with the error: %+v", cfg)
			}
			wantConfigError(t, err, file, tt.field, tt.msg...)
		})
	}
}

func TestBootConfigComponent(t *testing.T) {
	cfg, err := ParseBootConfig("b.json", []byte(contractBoot))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Component("crown_router")
	if err != nil || c.Priority != 1 {
		t.Errorf("Component(crown_router) = %+v, %v", c, err)
	}
	if _, err := cfg.Component("Crown_Router"); !errors.Is(err, razar.ErrNotFound) {
		t.Errorf("component names are exact: Component(Crown_Router) error = %v, want ErrNotFound", err)
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	dir := t.TempDir()
	for name, load := range map[string]func(string) error{
		"boot":   func(p string) error { _, err := LoadBootConfig(p); return err },
		"roster": func(p string) error { _, err := LoadRoster(p); return err },
	} {
		p := filepath.Join(dir, name+".json")
		err := load(p)
		if !errors.Is(err, razar.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("%s: load of a missing file: %v, want a config error naming %s", name, err, p)
		}
		if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := load(p); !errors.Is(err, razar.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("%s: load of a broken file: %v, want a config error naming %s", name, err, p)
		}
	}
}

func TestParseRosterValid(t *testing.T) {
	demo := demoConfigs(t)
	tests := []struct {
		name     string
		input    string
		want     *Roster // nil: only the invariants and takeover are checked
		takeover string  // "" for none
	}{
		{
			name:  "contract example",
			input: contractRoster,
			want: &Roster{Agents: []AgentEntry{
				{Name: "crown", Backend: BackendBuiltin},
				{Name: "kimicho", Backend: BackendOpenAI, Endpoint: "${KIMICHO_ENDPOINT}", Model: "kimi-cho"},
				{Name: "k2", Display: "K2 Coder", Backend: BackendOpenAI, Endpoint: "${KIMI2_ENDPOINT}", Model: "kimi-k2",
					Auth: &AgentAuth{Type: "bearer", Token: "${KIMI2_API_KEY}"}},
				{Name: "airstar", Display: "Air Star", Backend: BackendOpenAI, Endpoint: "${AIRSTAR_ENDPOINT}",
					Auth: &AgentAuth{Type: "bearer", Token: "${AIRSTAR_API_KEY}"}},
				{Name: "rstar", Backend: BackendOpenAI, Endpoint: "${RSTAR_ENDPOINT}", Takeover: true,
					Auth: &AgentAuth{Type: "bearer", Token: "${RSTAR_API_KEY}"}},
			}},
			takeover: "rstar",
		},
		{
			name:     "demo razar_ai_agents.json",
			input:    string(demo["razar_ai_agents.json"]),
			takeover: "rstar",
		},
		{
			name: "optional fields, names lower-cased, no takeover",
			input: `{"agents": [
			  {"name": "Local", "backend": "exec", "command": ["./fix.sh"], "timeout": 90, "redact": ["sk-[a-z0-9]+"]},
			  {"name": "K2", "backend": "http", "endpoint": "http://127.0.0.1:9/fix", "timeout": "2m", "candidates": 3}
			]}`,
			want: &Roster{Agents: []AgentEntry{
				{Name: "local", Backend: BackendExec, Command: []string{"./fix.sh"}, Timeout: razar.Duration(90 * time.Second), Redact: []string{"sk-[a-z0-9]+"}},
				{Name: "k2", Backend: BackendHTTP, Endpoint: "http://127.0.0.1:9/fix", Timeout: razar.Duration(2 * time.Minute), Candidates: 3},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRoster("config/razar_ai_agents.json", []byte(tt.input))
			if err != nil {
				t.Fatalf("ParseRoster: %v", err)
			}
			checkRoster(t, r)
			if tt.want != nil && !reflect.DeepEqual(r, tt.want) {
				t.Errorf("got  %+v\nwant %+v", r.Agents, tt.want.Agents)
			}
			to, ok := r.Takeover()
			if ok != (tt.takeover != "") || to.Name != tt.takeover {
				t.Errorf("Takeover() = %q, %v; want %q", to.Name, ok, tt.takeover)
			}
			for _, a := range r.Local() {
				if a.Takeover {
					t.Errorf("Local() holds the takeover rung %q", a.Name)
				}
			}
		})
	}
}

func TestRosterLadderOrder(t *testing.T) {
	r, err := ParseRoster("r.json", []byte(contractRoster))
	if err != nil {
		t.Fatal(err)
	}
	var local []string
	for _, a := range r.Local() {
		local = append(local, a.Name)
	}
	if want := []string{"crown", "kimicho", "k2", "airstar"}; !slices.Equal(local, want) {
		t.Errorf("Local() = %v, want %v", local, want)
	}
}

func TestRosterAgentCaseInsensitive(t *testing.T) {
	r, err := ParseRoster("r.json", []byte(`{"agents": [
	  {"name": "crown", "backend": "builtin"},
	  {"name": "K2", "display": "K2 Coder", "backend": "builtin"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"k2", "K2"} {
		a, err := r.Agent(q)
		if err != nil || a.Name != "k2" || a.DisplayName() != "K2 Coder" {
			t.Errorf("Agent(%q) = %+v, %v; want entry k2 (K2 Coder)", q, a, err)
		}
	}
	if a, err := r.Agent("CROWN"); err != nil || a.DisplayName() != "crown" {
		t.Errorf("Agent(CROWN) = %+v, %v; want crown, displayed by its name", a, err)
	}
	if _, err := r.Agent("rstar"); !errors.Is(err, razar.ErrNotFound) {
		t.Errorf("Agent(rstar) error = %v, want ErrNotFound", err)
	}
}

func TestAgentAttemptTimeout(t *testing.T) {
	tests := []struct {
		timeout razar.Duration
		want    time.Duration
	}{
		{0, DefaultAgentTimeout},
		{razar.Duration(5 * time.Second), 5 * time.Second},
	}
	for _, tt := range tests {
		if got := (AgentEntry{Timeout: tt.timeout}).AttemptTimeout(); got != tt.want {
			t.Errorf("AttemptTimeout() with timeout %v = %v, want %v", time.Duration(tt.timeout), got, tt.want)
		}
	}
}

func TestParseRosterErrors(t *testing.T) {
	const file = "config/razar_ai_agents.json"
	tests := []struct {
		name  string
		input string
		field string
		msg   []string
	}{
		{"not JSON", `agents = [crown]`, "", []string{"not valid JSON"}},
		{"truncated JSON", `{"agents": [{"name": "crown"`, "", []string{"ends at line 1"}},
		{"syntax error gives line and column", "{\"agents\": [\n\t{\"name\": \"crown\" \"backend\": \"builtin\"}\n]}", "", []string{"line 2, column 19"}},
		{"unknown top-level field", `{"agents": [{"name": "crown", "backend": "builtin"}], "threshold": 9}`, "", []string{`unknown field "threshold"`}},
		{"agents missing", `{}`, "agents", []string{"no agents"}},
		{"agents empty", `{"agents": []}`, "agents", []string{"no agents"}},
		{"unknown agent field", `{"agents": [{"name": "crown", "backend": "builtin"}, {"name": "K2", "backend": "openai", "api_key": "x"}]}`,
			"agents[1] (k2)", []string{`"api_key"`}},
		{"wrong type names the field", `{"agents": [{"name": "k2", "backend": "exec", "command": "./fix.sh"}]}`, "agents[0] (k2)", []string{`"command"`}},
		{"name missing", `{"agents": [{"backend": "builtin"}]}`, "agents[0].name", nil},
		{"bad name", `{"agents": [{"name": "k 2", "backend": "builtin"}]}`, "agents[0] (k 2).name", []string{"not a valid name"}},
		{"duplicate name", `{"agents": [{"name": "k2", "backend": "builtin"}, {"name": "crown", "backend": "builtin"}, {"name": "k2", "backend": "builtin"}]}`,
			"agents[2] (k2).name", []string{"duplicate of agents[0]"}},
		{"duplicate name differing in case", `{"agents": [{"name": "k2", "backend": "builtin"}, {"name": "K2", "backend": "builtin"}]}`,
			"agents[1] (k2).name", []string{"duplicate of agents[0]"}},
		{"backend missing", `{"agents": [{"name": "k2"}]}`, "agents[0] (k2).backend", []string{"missing"}},
		{"unknown backend", `{"agents": [{"name": "k2", "backend": "grpc"}]}`, "agents[0] (k2).backend", []string{`unknown backend "grpc"`}},
		{"backend wrong case", `{"agents": [{"name": "k2", "backend": "OpenAI"}]}`, "agents[0] (k2).backend", nil},
		{"exec without command", `{"agents": [{"name": "k2", "backend": "exec"}]}`, "agents[0] (k2).command", []string{"exec"}},
		{"two takeover rungs", `{"agents": [{"name": "crown", "backend": "builtin"}, {"name": "airstar", "backend": "builtin", "takeover": true}, {"name": "rstar", "backend": "builtin", "takeover": true}]}`,
			"agents[2] (rstar).takeover", []string{"agents[1]"}},
		{"negative candidates", `{"agents": [{"name": "rstar", "backend": "builtin", "candidates": -1}]}`, "agents[0] (rstar).candidates", nil},
		{"candidates over the cap", `{"agents": [{"name": "rstar", "backend": "builtin", "candidates": 40}]}`, "agents[0] (rstar).candidates", []string{"40 is over the cap of 8", "1 to 8"}},
		{"bad timeout", `{"agents": [{"name": "k2", "backend": "builtin", "timeout": "a minute"}]}`, "agents[0] (k2)", []string{`"a minute"`}},
		{"negative timeout", `{"agents": [{"name": "k2", "backend": "builtin", "timeout": -60}]}`, "agents[0] (k2)", []string{"negative"}},
		{"human with a command", `{"agents": [{"name": "oncall", "backend": "human", "command": ["./page.sh"]}]}`, "agents[0] (oncall).command", []string{"human backend"}},
		{"human with an endpoint", `{"agents": [{"name": "oncall", "backend": "human", "endpoint": "http://x"}]}`, "agents[0] (oncall).endpoint", []string{"human backend"}},
		{"ack_timeout on a model rung", `{"agents": [{"name": "k2", "backend": "builtin", "ack_timeout": "1h"}]}`, "agents[0] (k2).ack_timeout", []string{"only for the human backend"}},
		{"max_turns on an exec rung", `{"agents": [{"name": "k2", "backend": "exec", "command": ["x"], "max_turns": 3}]}`, "agents[0] (k2).max_turns", []string{"only for the openai backend"}},
		{"max_turns below -1", `{"agents": [{"name": "k2", "backend": "openai", "max_turns": -2}]}`, "agents[0] (k2).max_turns", []string{"-2 is below -1", "-1 to offer the model no tools"}},
		{"schedule from not a time", `{"agents": [{"name": "oncall", "backend": "human", "schedule": {"from": "9am", "to": "18:00"}}]}`, "agents[0] (oncall).schedule.from", []string{`"9am"`, "HH:MM"}},
		{"schedule to missing", `{"agents": [{"name": "oncall", "backend": "human", "schedule": {"from": "09:00"}}]}`, "agents[0] (oncall).schedule.to", []string{"HH:MM"}},
		{"schedule hour out of range", `{"agents": [{"name": "oncall", "backend": "human", "schedule": {"from": "09:00", "to": "25:00"}}]}`, "agents[0] (oncall).schedule.to", []string{`"25:00"`}},
		{"schedule empty window", `{"agents": [{"name": "oncall", "backend": "human", "schedule": {"from": "09:00", "to": "09:00"}}]}`, "agents[0] (oncall).schedule.to", []string{"empty"}},
		{"schedule bad day", `{"agents": [{"name": "oncall", "backend": "human", "schedule": {"days": "mon-fry", "from": "09:00", "to": "18:00"}}]}`, "agents[0] (oncall).schedule.days", []string{`"mon-fry"`}},
		{"schedule bad time zone", `{"agents": [{"name": "oncall", "backend": "human", "schedule": {"from": "09:00", "to": "18:00", "tz": "Mars/Olympus"}}]}`, "agents[0] (oncall).schedule.tz", []string{`"Mars/Olympus"`}},
		{"schedule unknown field", `{"agents": [{"name": "oncall", "backend": "human", "schedule": {"from": "09:00", "to": "18:00", "weekdays": "mon"}}]}`, "agents[0] (oncall)", []string{`"weekdays"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRoster(file, []byte(tt.input))
			if r != nil {
				t.Errorf("returned a roster with the error: %+v", r)
			}
			wantConfigError(t, err, file, tt.field, tt.msg...)
		})
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		input   string
		want    time.Duration
		wantErr string // substring of the error; "" for success
	}{
		{`"60s"`, time.Minute, ""},
		{`"90s"`, 90 * time.Second, ""},
		{`"2m"`, 2 * time.Minute, ""},
		{`"1h30m"`, 90 * time.Minute, ""},
		{`"250ms"`, 250 * time.Millisecond, ""},
		{`"0s"`, 0, ""},
		{`30`, 30 * time.Second, ""},
		{`1.5`, 1500 * time.Millisecond, ""},
		{`0`, 0, ""},
		{`"60"`, 0, `"60"`},
		{`"soon"`, 0, `"soon"`},
		{`""`, 0, "duration"},
		{`"-1s"`, 0, "negative"},
		{`-1`, 0, "negative"},
		{`1e300`, 0, "too long"},
		{`true`, 0, "duration"},
		{`{"s": 1}`, 0, "duration"},
	}
	for _, tt := range tests {
		var d razar.Duration
		err := strictDecode([]byte(tt.input), &d) // as the config files are read
		switch {
		case err != nil && strings.Contains(err.Error(), "time.Duration"):
			t.Errorf("%s: error %q names a Go type, not what to write", tt.input, err)
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.input, err)
		case tt.wantErr == "" && time.Duration(d) != tt.want:
			t.Errorf("%s = %v, want %v", tt.input, time.Duration(d), tt.want)
		case tt.wantErr != "" && err == nil:
			t.Errorf("%s: accepted as %v, want an error", tt.input, time.Duration(d))
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("%s: error %q does not say %q", tt.input, err, tt.wantErr)
		}
	}
}

// mapLookup is a Lookup over a fixed environment.
func mapLookup(env map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestExpand(t *testing.T) {
	const secret = "sk-PLANTED-4f1c9e2b7a"
	env := map[string]string{
		"KIMI2_API_KEY":  secret,
		"KIMI2_ENDPOINT": "https://k2.example/v1",
		"HOST":           "h.example",
		"PORT":           "8443",
		"EMPTY":          "",
		"LITERAL":        "${KIMI2_API_KEY}",
	}
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"no reference", "https://fixed.example/v1", "https://fixed.example/v1"},
		{"empty", "", ""},
		{"whole value", "${KIMI2_API_KEY}", secret},
		{"endpoint", "${KIMI2_ENDPOINT}", "https://k2.example/v1"},
		{"several in one string", "https://${HOST}:${PORT}/v1/${HOST}", "https://h.example:8443/v1/h.example"},
		{"dollar without braces stays", "$HOST and ${HOST}", "$HOST and h.example"},
		{"unterminated stays", "https://${HOST", "https://${HOST"},
		{"expanded value is not expanded again", "${LITERAL}", "${KIMI2_API_KEY}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand("k2", tt.input, mapLookup(env))
			if err != nil || got != tt.want {
				t.Errorf("Expand(%q) = %q, %v; want %q", tt.input, got, err, tt.want)
			}
		})
	}

	errTests := []struct {
		name   string
		input  string
		envVar string
		state  string
		empty  bool
	}{
		{"unset", "${KIMI2_SECRET_2026}", "KIMI2_SECRET_2026", "unset", false},
		{"empty", "Bearer ${EMPTY}", "EMPTY", "empty", true},
		{"unset after a set one", "${KIMI2_API_KEY}:${NOPE}", "NOPE", "unset", false},
		{"empty after a set one", "${KIMI2_API_KEY}${EMPTY}", "EMPTY", "empty", true},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand("k2", tt.input, mapLookup(env))
			if err == nil {
				t.Fatalf("Expand(%q) = %q, want an error", tt.input, got)
			}
			if got != "" {
				t.Errorf("returned %q with the error; want nothing", got)
			}
			var ce *razar.AgentCredentialError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *AgentCredentialError: %v", err, err)
			}
			if ce.Agent != "k2" || ce.EnvVar != tt.envVar || ce.Empty != tt.empty {
				t.Errorf("error = %+v, want agent k2, var %s, empty %v", *ce, tt.envVar, tt.empty)
			}
			if !errors.Is(err, razar.ErrRungUnavailable) {
				t.Errorf("errors.Is(err, ErrRungUnavailable) = false")
			}
			msg := err.Error()
			for _, want := range []string{"k2", tt.envVar, tt.state} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "4f1c9e2b7a") {
				t.Errorf("message leaks the credential value: %q", msg)
			}
		})
	}
}

// TestExpandContractRoster expands every reference in the contract roster,
// as a rung does at start.
func TestExpandContractRoster(t *testing.T) {
	r, err := ParseRoster("r.json", []byte(contractRoster))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, a := range r.Agents {
		for _, s := range []string{a.Endpoint, authToken(a)} {
			for _, v := range VarsIn(s) {
				env[v] = "value-of-" + v
			}
		}
	}
	wantVars := []string{"AIRSTAR_API_KEY", "AIRSTAR_ENDPOINT", "KIMI2_API_KEY", "KIMI2_ENDPOINT", "KIMICHO_ENDPOINT", "RSTAR_API_KEY", "RSTAR_ENDPOINT"}
	var gotVars []string
	for k := range env {
		gotVars = append(gotVars, k)
	}
	slices.Sort(gotVars)
	if !slices.Equal(gotVars, wantVars) {
		t.Errorf("variables = %v, want %v", gotVars, wantVars)
	}
	k2, _ := r.Agent("k2")
	tok, err := Expand(k2.Name, k2.Auth.Token, mapLookup(env))
	if err != nil || tok != "value-of-KIMI2_API_KEY" {
		t.Errorf("k2 token = %q, %v", tok, err)
	}
	delete(env, "RSTAR_API_KEY")
	rs, _ := r.Agent("rstar")
	if _, err := Expand(rs.Name, rs.Auth.Token, mapLookup(env)); !errors.Is(err, razar.ErrRungUnavailable) {
		t.Errorf("rstar without its key: error = %v, want ErrRungUnavailable", err)
	}
}

func authToken(a AgentEntry) string {
	if a.Auth == nil {
		return ""
	}
	return a.Auth.Token
}

func TestVarsIn(t *testing.T) {
	tests := []struct {
		input string
		want  []string
	}{
		{"", []string{}},
		{"https://fixed.example", []string{}},
		{"$HOST", []string{}},
		{"${A}", []string{"A"}},
		{"${B}/${A}/${B}", []string{"A", "B"}},
		{"https://${HOST}:${PORT}/v1", []string{"HOST", "PORT"}},
		{"${A}${UNTERMINATED", []string{"A"}},
	}
	for _, tt := range tests {
		got := VarsIn(tt.input)
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("VarsIn(%q) = %#v, want %#v", tt.input, got, tt.want)
		}
	}
}

func TestResolvePaths(t *testing.T) {
	home := t.TempDir()
	absOther := filepath.Join(t.TempDir(), "elsewhere")
	cfg := &BootConfig{Components: []Component{
		{Name: "none"},
		{Name: "rel", Workdir: "services/router"},
		{Name: "dot", Workdir: "./services/x/../y"},
		{Name: "abs", Workdir: absOther},
	}}
	cfg.ResolvePaths(home)
	want := []string{
		home,
		filepath.Join(home, "services", "router"),
		filepath.Join(home, "services", "y"),
		absOther,
	}
	for i, c := range cfg.Components {
		if c.Workdir != want[i] {
			t.Errorf("%s: Workdir = %q, want %q", c.Name, c.Workdir, want[i])
		}
	}

	// A relative home is made absolute against the working directory.
	cfg = &BootConfig{Components: []Component{{Name: "none"}, {Name: "rel", Workdir: "w"}}}
	cfg.ResolvePaths("relhome")
	absHome, err := filepath.Abs("relhome")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Components[0].Workdir != absHome || cfg.Components[1].Workdir != filepath.Join(absHome, "w") {
		t.Errorf("relative home: workdirs %q, %q; want under %q", cfg.Components[0].Workdir, cfg.Components[1].Workdir, absHome)
	}
	for _, c := range cfg.Components {
		if !filepath.IsAbs(c.Workdir) {
			t.Errorf("%s: Workdir %q is not absolute", c.Name, c.Workdir)
		}
	}
}

// reparse marshals v and parses it again: a config RAZAR accepted must read
// back the same when it writes it out (the roster snapshot does this).
func reparse[T any](t *testing.T, v *T, parse func(string, []byte) (*T, error)) {
	t.Helper()
	b1, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal accepted config: %v", err)
	}
	again, err := parse("again.json", b1)
	if err != nil {
		t.Fatalf("accepted config does not re-validate: %v\n%s", err, b1)
	}
	b2, err := json.Marshal(again)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("config changed on re-parse:\n%s\n%s", b1, b2)
	}
}

// checkParseError asserts the shape every parse error must have.
func checkParseError(t *testing.T, err error, file string) {
	t.Helper()
	var ce *razar.ConfigError
	if !errors.Is(err, razar.ErrInvalidConfig) || !errors.As(err, &ce) || ce.File != file {
		t.Fatalf("error is not a *ConfigError for %s wrapping ErrInvalidConfig: %T %v", file, err, err)
	}
}

func FuzzParseBootConfig(f *testing.F) {
	f.Add([]byte(contractBoot))
	f.Add(demoConfigs(f)["boot_config.json"])
	f.Add([]byte(`{"components": [{"name": "a", "command": ["./a"], "health_check": ["./p"], "start_grace": 1.5, "approval": "manual"}]}`))
	f.Add([]byte(`{"components": [{"name": "a", "command": ["./a"], "health_check": {"tcp": "h:1", "timeout": "1s"}}, {"name": "a", "command": ["x"]}]}`))
	f.Add([]byte(`{"components": [{"name": "Web", "command": []}]}`))
	f.Add([]byte(`{"components": [{"name": "a", "command": ["./a"], "protect": ["secrets/**", "*.key", "a//b", "[x", "/etc"]}]}`))
	f.Add([]byte(`{"components": null}`))
	// Found by the fuzzer: an accepted empty list wrote back as null, which
	// the parser then rejected.
	f.Add([]byte(`{"Components":[]}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseBootConfig("fuzz.json", data)
		if err != nil {
			checkParseError(t, err, "fuzz.json")
			return
		}
		checkBootConfig(t, cfg)
		reparse(t, cfg, ParseBootConfig)
	})
}

func FuzzParseRoster(f *testing.F) {
	f.Add([]byte(contractRoster))
	f.Add(demoConfigs(f)["razar_ai_agents.json"])
	f.Add([]byte(`{"agents": [{"name": "Local", "backend": "exec", "command": ["./fix.sh"], "timeout": 90, "redact": ["x"]}, {"name": "k2", "backend": "http", "candidates": 3, "takeover": true}]}`))
	f.Add([]byte(`{"agents": [{"name": "k2", "backend": "builtin"}, {"name": "K2", "backend": "builtin"}]}`))
	f.Add([]byte(`{"agents": [{"name": "a", "backend": "builtin", "takeover": true}, {"name": "b", "backend": "builtin", "takeover": true}]}`))
	f.Add([]byte(`{"agents": []}`))
	f.Add([]byte(`{"agents": [{"name": "oncall", "backend": "human", "timeout": "5m", "ack_timeout": "30m", "schedule": {"days": "mon-fri,sun", "from": "22:00", "to": "06:00", "tz": "Europe/Berlin"}}]}`))
	f.Add([]byte(`{"agents": [{"name": "k2", "backend": "builtin", "schedule": {"days": "fri-mon", "from": "09:00", "to": "24:00"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRoster("fuzz.json", data)
		if err != nil {
			checkParseError(t, err, "fuzz.json")
			return
		}
		checkRoster(t, r)
		reparse(t, r, ParseRoster)
		for _, a := range r.Agents {
			if a.Schedule != nil {
				if err := a.Schedule.Check(); err != nil {
					t.Errorf("%s: accepted schedule %+v: %v", a.Name, *a.Schedule, err)
				}
				_ = a.Schedule.Active(time.Now()) // never panics
			}
			if a.AckTimeout != 0 && !a.Human() {
				t.Errorf("%s: accepted ack_timeout on backend %s", a.Name, a.Backend)
			}
		}
	})
}
