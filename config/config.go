package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/razar/razar"
)

// Component is one entry of config/boot_config.json.
type Component struct {
	Name        string             `json:"name"`
	Priority    int                `json:"priority"`
	Command     []string           `json:"command"`
	Workdir     string             `json:"workdir,omitempty"`
	Env         map[string]string  `json:"env,omitempty"`
	HealthCheck *razar.HealthCheck `json:"health_check,omitempty"`
	Validate    []string           `json:"validate,omitempty"`
	Chakra      string             `json:"chakra,omitempty"`
	StartGrace  razar.Duration     `json:"start_grace,omitempty"`
	Approval    string             `json:"approval,omitempty"`
	// Protect lists globs of workdir files no patch may touch, on top of the
	// validate and health-check programs, which are always protected. See
	// ValidProtectGlob for the syntax.
	Protect []string `json:"protect,omitempty"`
	// Context narrows or widens what the component's rungs are shown of
	// its workdir (the deny-list, the byte budget); nil: the defaults.
	Context *ContextConfig `json:"context,omitempty"`
	// User and Group, when set, are who the component's processes (its
	// command and its health check) run as: a name or a numeric id, set
	// before exec like systemd's User= and Group=. Unset, the component
	// runs as RAZAR's own user and can act as RAZAR. Switching needs
	// RAZAR to run as root.
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
}

// ContextConfig is a component's "context" in boot_config.json. Include
// globs lift the default deny-list for the paths they name and put those
// files first; exclude globs hide more; MaxBytes is the byte budget of the
// file texts an escalation carries (0: the host's, RAZAR_CONTEXT_BYTES).
// Globs have ValidProtectGlob's syntax.
type ContextConfig struct {
	Include  []string `json:"include,omitempty"`
	Exclude  []string `json:"exclude,omitempty"`
	MaxBytes int      `json:"max_bytes,omitempty"`
}

// MaxContextBudget is the largest byte budget of a workspace's file texts
// (context.max_bytes, RAZAR_CONTEXT_BYTES): an escalation must stay well
// under the bus's largest message.
const MaxContextBudget = 256 << 10

// EnvList is the component's env from boot_config.json as KEY=VALUE, in key
// order, for every command RAZAR runs for it.
func (c Component) EnvList() []string {
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+c.Env[k])
	}
	return env
}

// BootConfig is config/boot_config.json.
type BootConfig struct {
	Components []Component `json:"components"`
	// Memory lists the memory bundle's layers beyond RAZAR's own stores.
	Memory *MemoryConfig `json:"memory,omitempty"`
}

// MemoryConfig is the optional "memory" section of boot_config.json: the
// layers the memory bundle checks at every boot and in `razar memory init`,
// besides RAZAR's own (stream, state, patches).
type MemoryConfig struct {
	Layers []MemoryLayer `json:"layers"`
}

// MemoryLayer is one memory layer: a name and the probe that says it is
// ready, of the health-check kinds (command, http, tcp).
type MemoryLayer struct {
	Name  string            `json:"name"`
	Probe razar.HealthCheck `json:"probe"`
}

// ReservedMemoryLayers are the names of RAZAR's own memory layers, which a
// configured layer may not take.
var ReservedMemoryLayers = []string{"stream", "state", "patches"}

// Component returns the named component, or razar.ErrNotFound.
func (c *BootConfig) Component(name string) (Component, error) {
	for _, comp := range c.Components {
		if comp.Name == name {
			return comp, nil
		}
	}
	return Component{}, fmt.Errorf("%q: %w (fix: check config/boot_config.json, or `razar status` for the list)", name, razar.ErrUnknownComponent)
}

// ParseBootConfig decodes and validates a boot config. file names the source in errors.
// Errors are *razar.ConfigError naming the component, the field and the fix.
func ParseBootConfig(file string, data []byte) (*BootConfig, error) {
	var top struct {
		Components []json.RawMessage `json:"components"`
		Memory     json.RawMessage   `json:"memory"`
	}
	if err := strictDecode(data, &top); err != nil {
		return nil, &razar.ConfigError{File: file, Msg: err.Error(), Fix: `the file must be {"components": [...]}, with an optional "memory": {"layers": [...]}`}
	}
	if top.Components == nil {
		return nil, &razar.ConfigError{File: file, Field: "components", Msg: "missing", Fix: `add "components": [...]`}
	}
	// Not nil, so an accepted empty list writes back as [] rather than null.
	cfg := &BootConfig{Components: []Component{}}
	seen := map[string]int{}
	for i, raw := range top.Components {
		c, field, err := decodeComponent(file, i, raw)
		if err != nil {
			return nil, err
		}
		if err := checkComponentName(file, field, c.Name, seen); err != nil {
			return nil, err
		}
		seen[c.Name] = i
		if err := checkComponent(file, field, c); err != nil {
			return nil, err
		}
		cfg.Components = append(cfg.Components, c)
	}
	if len(top.Memory) > 0 && string(bytes.TrimSpace(top.Memory)) != "null" {
		mem, err := parseMemory(file, top.Memory)
		if err != nil {
			return nil, err
		}
		cfg.Memory = mem
	}
	return cfg, nil
}

// decodeComponent decodes components[i] and returns the field label errors
// about it carry: "components[i] (name)".
func decodeComponent(file string, i int, raw json.RawMessage) (Component, string, error) {
	field := fmt.Sprintf("components[%d]", i)
	var c Component
	if err := strictDecode(raw, &c); err != nil {
		field += nameHint(raw)
		return c, field, &razar.ConfigError{File: file, Field: field, Msg: err.Error(), Fix: "see docs/CONTRACT.md section 2 for the component fields"}
	}
	if c.Name != "" {
		field += " (" + c.Name + ")"
	}
	return c, field, nil
}

// checkComponentName refuses an invalid name or one an earlier component
// already has (seen maps names to their index).
func checkComponentName(file, field, name string, seen map[string]int) error {
	if err := razar.ValidName(name); err != nil {
		return &razar.ConfigError{File: file, Field: field + ".name", Msg: err.Error(), Fix: "rename the component"}
	}
	if j, dup := seen[name]; dup {
		return &razar.ConfigError{File: file, Field: field + ".name", Msg: fmt.Sprintf("duplicate of components[%d]", j), Fix: "give each component a unique name"}
	}
	return nil
}

// checkComponent refuses a component without a command, with an unknown
// approval, a malformed user or group, a bad protect glob or a bad context.
func checkComponent(file, field string, c Component) error {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return &razar.ConfigError{File: file, Field: field + ".command", Msg: "missing", Fix: `set "command": ["./bin/x", "--flag"]`}
	}
	if c.Approval != "" && c.Approval != "auto" && c.Approval != "manual" {
		return &razar.ConfigError{File: file, Field: field + ".approval", Msg: fmt.Sprintf("%q is not auto or manual", c.Approval), Fix: `use "auto" (default) or "manual"`}
	}
	for _, f := range []struct{ name, v string }{{"user", c.User}, {"group", c.Group}} {
		if f.v != "" && (strings.TrimSpace(f.v) != f.v || strings.ContainsAny(f.v, ": \t\n/")) {
			return &razar.ConfigError{File: file, Field: field + "." + f.name, Msg: fmt.Sprintf("%q is not a %s name or id", f.v, f.name),
				Fix: fmt.Sprintf(`set "%s" to an existing %s's name or numeric id, such as "razar-web" or "1001"`, f.name, f.name)}
		}
	}
	for j, g := range c.Protect {
		if err := ValidProtectGlob(g); err != nil {
			return &razar.ConfigError{File: file, Field: fmt.Sprintf("%s.protect[%d]", field, j), Msg: err.Error(),
				Fix: `write a path relative to the workdir, "*", "?" and "[...]" within a segment, "**" as a whole segment: "secrets/**", "conf/*.key", "bin"`}
		}
	}
	return checkContext(file, field, c.Context)
}

// checkContext validates a component's "context".
func checkContext(file, field string, c *ContextConfig) error {
	if c == nil {
		return nil
	}
	const fix = `write a path relative to the workdir, "*", "?" and "[...]" within a segment, "**" as a whole segment: "conf/*.yaml", "scripts/**"`
	for _, l := range []struct {
		name  string
		globs []string
	}{{"include", c.Include}, {"exclude", c.Exclude}} {
		for j, g := range l.globs {
			if err := ValidProtectGlob(g); err != nil {
				return &razar.ConfigError{File: file, Field: fmt.Sprintf("%s.context.%s[%d]", field, l.name, j), Msg: err.Error(), Fix: fix}
			}
		}
	}
	if c.MaxBytes < 0 || c.MaxBytes > MaxContextBudget {
		return &razar.ConfigError{File: file, Field: field + ".context.max_bytes", Msg: fmt.Sprintf("%d is out of range", c.MaxBytes),
			Fix: fmt.Sprintf("set a byte budget from 1 to %d, or leave it out for the default (32768, RAZAR_CONTEXT_BYTES)", MaxContextBudget)}
	}
	return nil
}

// parseMemory decodes and validates the "memory" section.
func parseMemory(file string, data []byte) (*MemoryConfig, error) {
	const fix = `"memory": {"layers": [{"name": "vector", "probe": {"tcp": "127.0.0.1:6333"}}]}; a probe is {"command": [...]}, {"http": URL} or {"tcp": "host:port"}`
	var top struct {
		Layers []json.RawMessage `json:"layers"`
	}
	if err := strictDecode(data, &top); err != nil {
		return nil, &razar.ConfigError{File: file, Field: "memory", Msg: err.Error(), Fix: fix}
	}
	mem := &MemoryConfig{Layers: []MemoryLayer{}}
	seen := map[string]int{}
	for i, raw := range top.Layers {
		field := fmt.Sprintf("memory.layers[%d]", i)
		var l MemoryLayer
		if err := strictDecode(raw, &l); err != nil {
			return nil, &razar.ConfigError{File: file, Field: field + nameHint(raw), Msg: err.Error(), Fix: fix}
		}
		if l.Name != "" {
			field += " (" + l.Name + ")"
		}
		if err := razar.ValidName(l.Name); err != nil {
			return nil, &razar.ConfigError{File: file, Field: field + ".name", Msg: err.Error(), Fix: "rename the layer"}
		}
		if slices.Contains(ReservedMemoryLayers, l.Name) {
			return nil, &razar.ConfigError{File: file, Field: field + ".name", Msg: fmt.Sprintf("%q is one of RAZAR's own layers (%s)", l.Name, strings.Join(ReservedMemoryLayers, ", ")), Fix: "rename the layer"}
		}
		if j, dup := seen[l.Name]; dup {
			return nil, &razar.ConfigError{File: file, Field: field + ".name", Msg: fmt.Sprintf("duplicate of memory.layers[%d]", j), Fix: "give each layer a unique name"}
		}
		seen[l.Name] = i
		if l.Probe.Kind() == "" {
			return nil, &razar.ConfigError{File: file, Field: field + ".probe", Msg: "missing", Fix: fix}
		}
		mem.Layers = append(mem.Layers, l)
	}
	return mem, nil
}

// ValidProtectGlob checks one "protect" glob of a component. A glob is a
// slash-separated path relative to the workdir; each segment is matched
// against one path segment with path.Match ("*", "?", "[a-z]", "\\"
// escapes), and a segment that is exactly "**" matches any number of
// segments, none included. A glob that matches a directory protects
// everything under it. It must not be empty, absolute, hold "." or ".."
// segments, empty segments or a "**" inside a longer segment.
func ValidProtectGlob(glob string) error {
	switch {
	case glob == "":
		return errors.New("empty glob")
	case strings.HasPrefix(glob, "/"):
		return fmt.Errorf("%q is absolute; globs are relative to the workdir", glob)
	}
	for seg := range strings.SplitSeq(glob, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%q has an empty segment (a leading, trailing or doubled /)", glob)
		case seg == "." || seg == "..":
			return fmt.Errorf("%q has a %q segment; globs name paths inside the workdir", glob, seg)
		case seg != "**" && strings.Contains(seg, "**"):
			return fmt.Errorf("%q: ** must be a whole segment (\"a/**/b\", not \"a**\")", glob)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("%q: segment %q is not a valid pattern (%v)", glob, seg, err)
		}
	}
	return nil
}

// GlobCovers reports whether glob, of ValidProtectGlob's syntax, matches
// rel (a clean, slash-separated, workdir-relative path) or one of its
// parent directories: what a protect glob protects and a context glob
// names.
func GlobCovers(glob, rel string) bool {
	pat, name := strings.Split(glob, "/"), strings.Split(rel, "/")
	for n := 1; n <= len(name); n++ {
		if matchSegments(pat, name[:n]) {
			return true
		}
	}
	return false
}

// GlobMatches reports whether glob, of ValidProtectGlob's syntax, matches
// rel itself: path.Match per segment, "**" for any number of segments.
func GlobMatches(glob, rel string) bool {
	return matchSegments(strings.Split(glob, "/"), strings.Split(rel, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := len(name); i >= 0; i-- {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// LoadBoot reads and checks the boot config at path and resolves each
// component's relative paths against the RAZAR home.
func LoadBoot(path, home string) (*BootConfig, error) {
	cfg, err := LoadBootConfig(path)
	if err != nil {
		return nil, err
	}
	cfg.ResolvePaths(home)
	return cfg, nil
}

// LoadBootConfig reads and parses a boot config file.
func LoadBootConfig(path string) (*BootConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &razar.ConfigError{File: path, Msg: errText(err), Fix: "create it or pass --config"}
	}
	return ParseBootConfig(path, data)
}

// AgentAuth is a roster entry's credential.
type AgentAuth struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

// AgentEntry is one entry of config/razar_ai_agents.json, as written: ${VAR}
// references are kept unexpanded so the entry can be logged and rewritten.
type AgentEntry struct {
	Name       string         `json:"name"`
	Display    string         `json:"display,omitempty"`
	Backend    string         `json:"backend"`
	Endpoint   string         `json:"endpoint,omitempty"`
	Model      string         `json:"model,omitempty"`
	Auth       *AgentAuth     `json:"auth,omitempty"`
	Command    []string       `json:"command,omitempty"`
	Timeout    razar.Duration `json:"timeout,omitempty"`
	Candidates int            `json:"candidates,omitempty"`
	// MaxTurns bounds an openai rung's tool turns per attempt
	// (agents.DefaultMaxTurns when 0; -1 offers no tools).
	MaxTurns int      `json:"max_turns,omitempty"`
	Redact   []string `json:"redact,omitempty"`
	Takeover bool     `json:"takeover,omitempty"`
	// Schedule, when set, is when the rung may take its turn; outside it
	// the ladder skips it with the schedule as the reason.
	Schedule *Schedule `json:"schedule,omitempty"`
	// AckTimeout is how long an acknowledged page of a human rung holds
	// the ladder (DefaultAckTimeout); only for backend human.
	AckTimeout razar.Duration `json:"ack_timeout,omitempty"`
}

// Human reports whether the entry is a person on call (backend human):
// its turn pages and waits for an operator's answer, no process runs it.
func (e AgentEntry) Human() bool { return e.Backend == BackendHuman }

// DefaultAckTimeout is how long an acknowledged page holds the ladder when
// the roster gives no ack_timeout.
const DefaultAckTimeout = time.Hour

// AckWindow is the entry's ack_timeout, or DefaultAckTimeout.
func (e AgentEntry) AckWindow() time.Duration {
	if e.AckTimeout > 0 {
		return time.Duration(e.AckTimeout)
	}
	return DefaultAckTimeout
}

// DisplayName is Display, else Name.
func (e AgentEntry) DisplayName() string {
	if e.Display != "" {
		return e.Display
	}
	return e.Name
}

// Backends a roster entry may name.
const (
	BackendBuiltin = "builtin"
	BackendExec    = "exec"
	BackendOpenAI  = "openai"
	BackendHTTP    = "http"
	// BackendHuman is a person on call: the orchestrator pages and waits
	// for `razar ack|resolve|pass` (docs/PROTOCOL.md section 6).
	BackendHuman = "human"
)

// DefaultAgentTimeout bounds one attempt when the roster gives no timeout.
const DefaultAgentTimeout = 60 * time.Second

// AttemptTimeout is the entry's timeout, or DefaultAgentTimeout.
func (e AgentEntry) AttemptTimeout() time.Duration {
	if e.Timeout > 0 {
		return time.Duration(e.Timeout)
	}
	return DefaultAgentTimeout
}

// DefaultCandidates is how many alternative patches of one answer RAZAR
// stages and validates when the roster entry sets no "candidates"; the rest
// are refused, so one answer cannot buy unbounded work.
const DefaultCandidates = 3

// MaxCandidates caps an entry's "candidates": a roster asking for more is
// a config error.
const MaxCandidates = 8

// CandidateLimit is how many alternatives of one answer from this rung are
// staged and validated: the entry's candidates, else DefaultCandidates.
func (e AgentEntry) CandidateLimit() int {
	if e.Candidates <= 0 {
		return DefaultCandidates
	}
	return min(e.Candidates, MaxCandidates)
}

// Roster is config/razar_ai_agents.json: the rungs in ladder order.
type Roster struct {
	Agents []AgentEntry `json:"agents"`
}

// Agent returns the entry whose name matches name case-insensitively, or razar.ErrNotFound.
func (r *Roster) Agent(name string) (AgentEntry, error) {
	for _, a := range r.Agents {
		if strings.EqualFold(a.Name, name) {
			return a, nil
		}
	}
	return AgentEntry{}, fmt.Errorf("agent %q: %w in roster", name, razar.ErrNotFound)
}

// Takeover returns the takeover rung, if any.
func (r *Roster) Takeover() (AgentEntry, bool) {
	for _, a := range r.Agents {
		if a.Takeover {
			return a, true
		}
	}
	return AgentEntry{}, false
}

// Local returns the rungs of the local stack, in order.
func (r *Roster) Local() []AgentEntry {
	var out []AgentEntry
	for _, a := range r.Agents {
		if !a.Takeover {
			out = append(out, a)
		}
	}
	return out
}

// ParseRoster decodes and validates a roster. Names are lower-cased; every
// "redact" pattern must compile and must not match empty text. ${VAR}
// references stay as written; see Expand.
func ParseRoster(file string, data []byte) (*Roster, error) {
	var top struct {
		Agents []json.RawMessage `json:"agents"`
	}
	if err := strictDecode(data, &top); err != nil {
		return nil, &razar.ConfigError{File: file, Msg: err.Error(), Fix: `the file must be {"agents": [...]}`}
	}
	if len(top.Agents) == 0 {
		return nil, &razar.ConfigError{File: file, Field: "agents", Msg: "no agents", Fix: "list at least one rung, in ladder order"}
	}
	r := &Roster{}
	seen := map[string]int{}
	takeover := -1
	for i, raw := range top.Agents {
		a, field, err := decodeAgent(file, i, raw)
		if err != nil {
			return nil, err
		}
		if err := checkAgentName(file, field, a.Name, seen); err != nil {
			return nil, err
		}
		seen[a.Name] = i
		if err := checkAgentBackend(file, field, a); err != nil {
			return nil, err
		}
		if err := checkAgentSchedule(file, field, a); err != nil {
			return nil, err
		}
		if a.Takeover {
			if takeover >= 0 {
				return nil, &razar.ConfigError{File: file, Field: field + ".takeover", Msg: fmt.Sprintf("agents[%d] is already the takeover rung", takeover), Fix: "mark one rung only"}
			}
			takeover = i
		}
		if err := checkAgentCounts(file, field, a); err != nil {
			return nil, err
		}
		if err := checkAgentRedact(file, field, a.Redact); err != nil {
			return nil, err
		}
		r.Agents = append(r.Agents, a)
	}
	return r, nil
}

// decodeAgent decodes agents[i], lower-cases its name and returns the
// field label errors about it carry: "agents[i] (name)".
func decodeAgent(file string, i int, raw json.RawMessage) (AgentEntry, string, error) {
	field := fmt.Sprintf("agents[%d]", i)
	var a AgentEntry
	if err := strictDecode(raw, &a); err != nil {
		field += strings.ToLower(nameHint(raw))
		return a, field, &razar.ConfigError{File: file, Field: field, Msg: err.Error(), Fix: "see docs/CONTRACT.md section 2 for the agent fields"}
	}
	a.Name = strings.ToLower(a.Name)
	if a.Name != "" {
		field += " (" + a.Name + ")"
	}
	return a, field, nil
}

// checkAgentName refuses an invalid name or one an earlier rung already
// has (seen maps names to their index).
func checkAgentName(file, field, name string, seen map[string]int) error {
	if err := razar.ValidName(name); err != nil {
		return &razar.ConfigError{File: file, Field: field + ".name", Msg: err.Error(), Fix: "rename the agent"}
	}
	if j, dup := seen[name]; dup {
		return &razar.ConfigError{File: file, Field: field + ".name", Msg: fmt.Sprintf("duplicate of agents[%d]", j), Fix: "list each rung once"}
	}
	return nil
}

// checkAgentBackend refuses a missing or unknown backend, an exec rung
// without a command, a human rung with fields only a running agent uses,
// and ack_timeout on anything but a human rung.
func checkAgentBackend(file, field string, a AgentEntry) error {
	switch a.Backend {
	case BackendBuiltin, BackendOpenAI, BackendHTTP:
	case BackendExec:
		if len(a.Command) == 0 {
			return &razar.ConfigError{File: file, Field: field + ".command", Msg: "missing for the exec backend", Fix: `set "command": ["./agent.sh"]`}
		}
	case BackendHuman:
		if err := checkHumanFields(file, field, a); err != nil {
			return err
		}
	case "":
		return &razar.ConfigError{File: file, Field: field + ".backend", Msg: "missing", Fix: "set backend to builtin, exec, openai, http or human"}
	default:
		return &razar.ConfigError{File: file, Field: field + ".backend", Msg: fmt.Sprintf("unknown backend %q", a.Backend), Fix: "use builtin, exec, openai, http or human"}
	}
	if a.AckTimeout != 0 && a.Backend != BackendHuman {
		return &razar.ConfigError{File: file, Field: field + ".ack_timeout", Msg: fmt.Sprintf("only for the human backend, not %s", a.Backend),
			Fix: "remove it, or set backend to human"}
	}
	return nil
}

// checkHumanFields refuses a human rung that sets a field only a running
// agent uses: the first one set, in a fixed order, is named.
func checkHumanFields(file, field string, a AgentEntry) error {
	for _, f := range []struct {
		name string
		set  bool
	}{{"command", len(a.Command) > 0}, {"endpoint", a.Endpoint != ""}, {"model", a.Model != ""}, {"auth", a.Auth != nil}, {"candidates", a.Candidates != 0}} {
		if f.set {
			return &razar.ConfigError{File: file, Field: field + "." + f.name, Msg: "set for the human backend, which runs nothing: its turn pages an operator",
				Fix: `remove it; a human rung has name, display, backend, timeout (how long the page waits for an answer), ack_timeout, schedule and takeover`}
		}
	}
	return nil
}

// checkAgentSchedule refuses a schedule that does not check out, naming the
// schedule's own field.
func checkAgentSchedule(file, field string, a AgentEntry) error {
	if a.Schedule == nil {
		return nil
	}
	if err := a.Schedule.Check(); err != nil {
		f, msg, _ := strings.Cut(err.Error(), ": ")
		return &razar.ConfigError{File: file, Field: field + ".schedule." + f, Msg: msg,
			Fix: `write "schedule": {"days": "mon-fri", "from": "09:00", "to": "18:00", "tz": "Europe/Berlin"} (days and tz optional: every day, UTC)`}
	}
	return nil
}

// checkAgentCounts refuses max_turns outside an openai or builtin rung or
// below -1, and a candidates count that is negative or over MaxCandidates.
func checkAgentCounts(file, field string, a AgentEntry) error {
	if a.MaxTurns != 0 && a.Backend != BackendOpenAI && a.Backend != BackendBuiltin {
		return &razar.ConfigError{File: file, Field: field + ".max_turns", Msg: fmt.Sprintf("only for the openai backend, not %s", a.Backend),
			Fix: "remove it: only an openai rung takes tool turns"}
	}
	if a.MaxTurns < -1 {
		return &razar.ConfigError{File: file, Field: field + ".max_turns", Msg: fmt.Sprintf("%d is below -1", a.MaxTurns),
			Fix: "use a positive count of tool turns, or -1 to offer the model no tools"}
	}
	if a.Candidates < 0 {
		return &razar.ConfigError{File: file, Field: field + ".candidates", Msg: "negative", Fix: "use a positive count"}
	}
	if a.Candidates > MaxCandidates {
		return &razar.ConfigError{File: file, Field: field + ".candidates", Msg: fmt.Sprintf("%d is over the cap of %d alternatives RAZAR stages and validates per answer", a.Candidates, MaxCandidates),
			Fix: fmt.Sprintf("use 1 to %d", MaxCandidates)}
	}
	return nil
}

// checkAgentRedact refuses a redact pattern that does not compile or that
// matches empty text.
func checkAgentRedact(file, field string, patterns []string) error {
	for j, p := range patterns {
		f := fmt.Sprintf("%s.redact[%d]", field, j)
		re, err := regexp.Compile(p)
		if err != nil {
			return &razar.ConfigError{File: file, Field: f,
				Msg: fmt.Sprintf("pattern %q does not compile: %s", p, strings.TrimPrefix(err.Error(), "error parsing regexp: ")),
				Fix: `write a Go (RE2) regular expression; in JSON a literal ( is "\\(" and \S is "\\S"`}
		}
		if re.MatchString("") {
			return &razar.ConfigError{File: file, Field: f, Msg: fmt.Sprintf("pattern %q matches empty text, so it would redact between every character", p),
				Fix: `make it match the secret itself and never nothing: "token=\\S+", not "\\S*" or "(token)?"`}
		}
	}
	return nil
}

// LoadRoster reads and parses a roster file.
func LoadRoster(path string) (*Roster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &razar.ConfigError{File: path, Msg: errText(err), Fix: "create the roster (see docs/CONTRACT.md section 2)"}
	}
	return ParseRoster(path, data)
}

// Lookup finds an environment variable; os.LookupEnv fits.
type Lookup func(key string) (string, bool)

// Expand replaces every ${VAR} in s. A variable that is unset or empty makes
// it fail with *razar.AgentCredentialError naming agent and variable; the error never
// contains a value.
func Expand(agent, s string, lookup Lookup) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		name := s[i+2 : i+j]
		v, ok := lookup(name)
		if !ok || v == "" {
			return "", &razar.AgentCredentialError{Agent: agent, EnvVar: name, Empty: ok}
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+1:]
	}
}

// VarsIn lists the ${VAR} names in s, sorted and unique.
func VarsIn(s string) []string {
	set := map[string]bool{}
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		set[s[i+2:i+j]] = true
		s = s[i+j+1:]
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return razar.JSONError(data, err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// nameHint is " (name)" for an entry that failed strict decoding but still
// has a string name, so the error says which entry is wrong; else "".
func nameHint(raw json.RawMessage) string {
	var n struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &n) != nil || n.Name == "" {
		return ""
	}
	return " (" + n.Name + ")"
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// ResolvePaths makes every relative workdir absolute against home, where
// CONTRACT section 1 says relative paths live. A component without a
// workdir gets home itself.
func (c *BootConfig) ResolvePaths(home string) {
	abs, err := filepath.Abs(home)
	if err != nil {
		abs = home
	}
	for i := range c.Components {
		w := c.Components[i].Workdir
		switch {
		case w == "":
			c.Components[i].Workdir = abs
		case !filepath.IsAbs(w):
			c.Components[i].Workdir = filepath.Join(abs, w)
		}
	}
}
