package agents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/cut"
)

// RotationEntry is one agent of a credential-rotation manifest: Env names
// the variable holding the new key, or File a file holding it (relative to
// the home), one of the two; the other fields override the roster.
type RotationEntry struct {
	Name     string         `json:"name"`
	Env      string         `json:"env,omitempty"`
	File     string         `json:"file,omitempty"`
	Endpoint string         `json:"endpoint,omitempty"`
	Model    string         `json:"model,omitempty"`
	Display  string         `json:"display,omitempty"`
	Timeout  razar.Duration `json:"timeout,omitempty"`
	// SharedKey says the new key's variable or file may be another rung's
	// too; without it a manifest that hands one rung another's key
	// variable is refused (PlanRotation).
	SharedKey bool `json:"shared_key,omitempty"`
}

// Manifest is one file of the secrets directory.
type Manifest struct {
	File   string          `json:"-"`
	Agents []RotationEntry `json:"agents"`
}

// LoadManifests reads every *.json, *.yaml and *.yml file in dir, in name
// order. Errors are *razar.ConfigError naming the file and field.
func LoadManifests(dir string) ([]Manifest, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &razar.ConfigError{File: dir, Msg: err.Error(), Fix: "pass the directory holding the rotation manifests"}
	}
	var out []Manifest
	for _, de := range entries {
		name := de.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if de.IsDir() || (ext != ".json" && ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, &razar.ConfigError{File: path, Msg: err.Error()}
		}
		if ext != ".json" {
			if data, err = yaml.YAMLToJSON(data); err != nil {
				return nil, &razar.ConfigError{File: path, Msg: "not valid YAML: " + cut.FirstLine(err.Error()), Fix: "check the indentation and quoting"}
			}
		}
		m, err := ParseManifest(path, data)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	if len(out) == 0 {
		return nil, &razar.ConfigError{File: dir, Msg: "no manifest (*.json, *.yaml)", Fix: `write one: {"agents": [{"name": "k2", "env": "KIMI2_API_KEY_2026_12"}]}`}
	}
	return out, nil
}

// ParseManifest decodes one manifest strictly.
func ParseManifest(file string, data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, &razar.ConfigError{File: file, Msg: razar.JSONError(data, err).Error(), Fix: `a manifest is {"agents": [{"name": ..., "env": ...}]} ("file": ... instead of "env" for a key in a file)`}
	}
	m.File = file
	for i, a := range m.Agents {
		field := fmt.Sprintf("agents[%d]", i)
		if a.Name == "" {
			return nil, &razar.ConfigError{File: file, Field: field + ".name", Msg: "missing"}
		}
		m.Agents[i].Name = strings.ToLower(a.Name)
		field += " (" + a.Name + ")"
		switch {
		case a.Env != "" && a.File != "":
			return nil, &razar.ConfigError{File: file, Field: field, Msg: `has both "env" and "file"`, Fix: "give the new key one source: the variable or the file"}
		case a.File != "":
			if err := ValidKeyPath(a.File); err != nil {
				return nil, &razar.ConfigError{File: file, Field: field + ".file", Msg: fmt.Sprintf("%q %v", a.File, err), Fix: "name the file that holds the new key, relative to the home (e.g. secrets/k2-2026-12.key; a name the home lacks is read from $CREDENTIALS_DIRECTORY), or by its absolute path"}
			}
		case a.Env == "" || strings.ContainsAny(a.Env, "${} =:") || strings.ContainsFunc(a.Env, func(c rune) bool { return c < 0x20 || c == 0x7f }):
			return nil, &razar.ConfigError{File: file, Field: field + ".env", Msg: fmt.Sprintf("%q is not a variable name", a.Env), Fix: `name the variable that holds the new key, e.g. KIMI2_API_KEY_2026_12, or a file with "file"`}
		}
	}
	return &m, nil
}

// RotationItem is one agent's part of a rotation plan.
type RotationItem struct {
	Agent string
	Env   string // the variable of the new key, or ""
	File  string // the file of the new key, relative to the home, or ""
	Set   bool   // the variable is set and not empty, or the file holds a key
	Err   error  // the new credential fails to load here, or nil
	From  string
}

// To names where the new key comes from: the variable, or "file PATH".
func (it RotationItem) To() string {
	if it.File != "" {
		return "file " + it.File
	}
	return it.Env
}

// PlanRotation returns the roster as it would be after applying the
// manifests, and one item per rotated agent. It fails (wrapping
// razar.ErrInvalidConfig) when the manifests name an unknown agent twice
// or the new roster would not be valid, or an entry hands its rung another
// rung's key variable or file (k2 given RSTAR_API_KEY) without
// "shared_key": true; credential problems are in the items.
// A new key may come from its variable's V_FILE, relative to home, or, for
// an entry with "file", from that file: the rotated auth.token is then
// ${file:PATH} (FileRef), which every process of the rung reads itself.
// The items say how the new credentials load here, in lookup's
// environment; a running rung's own environment is asked with a probe.
func PlanRotation(roster *config.Roster, mans []Manifest, rungFor func(string) Rung, home string, lookup config.Lookup) (*config.Roster, []RotationItem, error) {
	next := &config.Roster{Agents: append([]config.AgentEntry(nil), roster.Agents...)}
	seen := map[string]string{}
	var items []RotationItem
	for _, m := range mans {
		for i, a := range m.Agents {
			if prev, dup := seen[a.Name]; dup {
				return nil, nil, &razar.ConfigError{File: m.File, Field: a.Name, Msg: "also rotated in " + prev, Fix: "rotate each agent in one manifest"}
			}
			seen[a.Name] = m.File
			item, err := rotateOne(roster, next, mans, m.File, i, a, rungFor, home, lookup)
			if err != nil {
				return nil, nil, err
			}
			items = append(items, item)
		}
	}
	// The new roster must read back as a valid roster.
	data, err := MarshalRoster(next)
	if err != nil {
		return nil, nil, err
	}
	if _, err := config.ParseRoster("rotated roster", data); err != nil {
		return nil, nil, err
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Agent < items[j].Agent })
	return next, items, nil
}

// rotateOne applies entry a (the i-th of manifest file) to its agent in
// next and reports the result: whether the new key is set and whether the
// rotated agent builds. It refuses an agent not in the roster and a key
// another rung holds unless the entry says the key is shared.
func rotateOne(roster, next *config.Roster, mans []Manifest, file string, i int, a RotationEntry, rungFor func(string) Rung, home string, lookup config.Lookup) (RotationItem, error) {
	idx := agentIndex(next, a.Name)
	if idx < 0 {
		return RotationItem{}, &razar.ConfigError{File: file, Field: a.Name, Msg: "not in the roster", Fix: "rotate only agents listed in config/razar_ai_agents.json"}
	}
	e := next.Agents[idx]
	source := a.Env
	if a.File != "" {
		source = FileRef + a.File
	}
	if !a.SharedKey {
		if other, ok := keyOwner(roster, mans, rungFor, e.Name, source); ok {
			return RotationItem{}, keyClash(file, i, a, e.Name, source, other)
		}
	}
	from := strings.Join(CredentialVars(rungFor(e.Name), e), ",")
	e = rotated(e, a, source)
	next.Agents[idx] = e
	_, kerr := Credential(e.Name, source, home, lookup)
	item := RotationItem{Agent: e.Name, Env: a.Env, File: a.File, Set: kerr == nil, From: from}
	if _, err := Build(rungFor(e.Name), e, home, lookup); err != nil && !errors.Is(err, errNotBuilt) {
		item.Err = err
	}
	return item, nil
}

// agentIndex is the index of the (last) roster entry named name, or -1.
func agentIndex(r *config.Roster, name string) int {
	idx := -1
	for i, e := range r.Agents {
		if e.Name == name {
			idx = i
		}
	}
	return idx
}

// keyClash is the error for entry a (the i-th of manifest file) handing
// agent the key source that rung other already holds.
func keyClash(file string, i int, a RotationEntry, agent, source, other string) error {
	return &razar.ConfigError{File: file, Field: fmt.Sprintf("agents[%d] (%s).%s", i, a.Name, map[bool]string{true: "file", false: "env"}[a.File != ""]),
		Msg: fmt.Sprintf("%s holds rung %s's key: %s would be handed %s's key", strings.TrimPrefix(source, FileRef), other, agent, other),
		Fix: fmt.Sprintf(`give %s a key of its own (a variable or file only it uses), or, if the two rungs really share one key, say so with "shared_key": true in this entry`, agent)}
}

// rotated is roster entry e with entry a applied: a bearer token (or the
// entry's own auth type) read from source, and what a overrides.
func rotated(e config.AgentEntry, a RotationEntry, source string) config.AgentEntry {
	auth := config.AgentAuth{Type: "bearer", Token: "${" + source + "}"}
	if e.Auth != nil && e.Auth.Type != "" {
		auth.Type = e.Auth.Type
	}
	e.Auth = &auth
	if a.Endpoint != "" {
		e.Endpoint = a.Endpoint
	}
	if a.Model != "" {
		e.Model = a.Model
	}
	if a.Display != "" {
		e.Display = a.Display
	}
	if a.Timeout > 0 {
		e.Timeout = a.Timeout
	}
	return e
}

// keyOwner returns another rung whose key source is: the variable or file
// its roster entry reads, its rung's own variable (RSTAR_API_KEY for
// rstar, whatever the roster says), or the one a manifest rotates it to.
// A variable's V_FILE counts as the variable.
func keyOwner(roster *config.Roster, mans []Manifest, rungFor func(string) Rung, rung, source string) (string, bool) {
	norm := func(v string) string { return strings.TrimSuffix(v, FileSuffix) }
	want := norm(source)
	for _, e := range roster.Agents {
		if e.Name == rung {
			continue
		}
		vars := CredentialVars(rungFor(e.Name), e)
		if env := rungFor(e.Name).CredentialEnv; env != "" {
			vars = append(vars, env)
		}
		for _, m := range mans {
			for _, a := range m.Agents {
				if a.Name == e.Name && a.Env != "" {
					vars = append(vars, a.Env)
				} else if a.Name == e.Name && a.File != "" {
					vars = append(vars, FileRef+a.File)
				}
			}
		}
		for _, v := range vars {
			if norm(v) == want {
				return e.Name, true
			}
		}
	}
	return "", false
}

// MarshalRoster writes a roster as config/razar_ai_agents.json does.
func MarshalRoster(r *config.Roster) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
