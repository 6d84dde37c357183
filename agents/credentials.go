package agents

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
)

// Resolved is a roster entry with its ${VAR} references expanded: what a
// backend needs to run. Token and Env are secrets: never log them.
type Resolved struct {
	Entry    config.AgentEntry
	Endpoint string
	Token    string
	Command  []string
	// CredentialVars are the variables the entry's credential comes from.
	CredentialVars []string
	// Env is what an exec rung's script gets besides the base environment:
	// its own credential variables as "V=key" (the key read from V or
	// V_FILE), and no other rung's.
	Env []string
}

// Remote reports whether a backend calls a service over the network.
func Remote(backend string) bool {
	return backend == config.BackendOpenAI || backend == config.BackendHTTP
}

// CredentialVars lists the variables a roster entry's credential is read
// from: the ${VAR}s its auth names, else the rung's own variable (k2
// KIMI2_API_KEY, airstar AIRSTAR_API_KEY, rstar RSTAR_API_KEY) for a remote
// backend. A rotated roster names the new variable in its auth, so the
// old one is no longer needed.
func CredentialVars(r Rung, e config.AgentEntry) []string {
	if e.Auth != nil && e.Auth.Token != "" {
		return config.VarsIn(e.Auth.Token)
	}
	if Remote(e.Backend) && r.CredentialEnv != "" {
		return []string{r.CredentialEnv}
	}
	return nil
}

// FileSuffix makes the name of the variable that may name a credential's
// file: KIMI2_API_KEY_FILE for KIMI2_API_KEY.
const FileSuffix = "_FILE"

// maxCredentialFile bounds what a credential file may hold.
const maxCredentialFile = 64 << 10

// FileRef starts a ${...} reference in a roster's auth.token that names a
// file holding the key instead of a variable: "${file:secrets/k2.key}". The
// path is relative to the RAZAR home and must stay inside it; the file is
// read like a V_FILE's, at every load. `razar rotate-keys` writes one for a
// manifest entry with "file".
const FileRef = "file:"

// FileRefToken is the auth.token that reads the key from path, relative to the home.
func FileRefToken(path string) string { return "${" + FileRef + path + "}" }

// fileRefField names a file reference in errors: it lives in the roster, not the environment.
const fileRefField = "auth.token"

// ValidKeyPath reports why path cannot name a key file of a roster or a
// manifest, or nil: relative to the home and staying inside it, or
// absolute and clean (where a secrets manager or systemd's LoadCredential=
// puts keys; see ReadKeyFile for the rule such a file must meet); and
// holding nothing a ${...} reference cannot carry.
func ValidKeyPath(path string) error {
	switch {
	case path == "":
		return errors.New("is empty")
	case strings.ContainsAny(path, "${}"):
		return errors.New("holds '$', '{' or '}'")
	case strings.ContainsFunc(path, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		return errors.New("holds a control character")
	case filepath.IsAbs(path):
		if filepath.Clean(path) != path {
			return fmt.Errorf("is not a clean absolute path (write %s)", filepath.Clean(path))
		}
	case !filepath.IsLocal(path):
		return errors.New("is neither absolute nor a path inside the RAZAR home (write it relative to the home, without .., or as an absolute path)")
	}
	return nil
}

// CredentialsDirectoryEnv is the variable systemd sets for a service with
// LoadCredential= or SetCredential=: the directory holding its
// credentials, one file each, readable by the service's user alone. A
// relative key file name not found in the home is read from there.
const CredentialsDirectoryEnv = "CREDENTIALS_DIRECTORY"

// Credential reads credential variable v for agent through lookup. When
// V_FILE (v + FileSuffix) is set and not blank, the key is the content of
// the file it names (a relative path is relative to home), read afresh on
// every call so a rewritten file reaches running rungs on reload;
// otherwise the key is V itself. Surrounding whitespace is trimmed, and a
// blank or whitespace-only key counts as empty. When both V and V_FILE are
// set, the key they give must be the same: an operator moving a key to a
// file must not be left guessing which one a rung uses.
//
// Every error is a *razar.AgentCredentialError: V unset, V empty, V_FILE's
// file unreadable or empty (naming V_FILE and the path), or V and V_FILE
// disagreeing (naming both). No error holds a key or a file's content.
//
// v may also be a file reference (FileRef + path, from "${file:PATH}" in
// auth.token): the key is then the content of that file inside home, with
// the same checks, and errors name auth.token and the file.
func Credential(agent, v, home string, lookup config.Lookup) (string, error) {
	if rel, ok := strings.CutPrefix(v, FileRef); ok {
		return fileCredential(agent, rel, home, lookup)
	}
	fileVar := v + FileSuffix
	val, ok := lookup(v)
	val = strings.TrimSpace(val)
	if name, fok := lookup(fileVar); fok && strings.TrimSpace(name) != "" {
		key, path, err := readCredentialFile(home, name)
		if err != nil {
			return "", &razar.AgentCredentialError{Agent: agent, EnvVar: fileVar, Path: path, Reason: err.Error(),
				Fix: "make the file readable by RAZAR's user and write the key in it, or unset " + fileVar}
		}
		if key == "" {
			return "", &razar.AgentCredentialError{Agent: agent, EnvVar: fileVar, Path: path, Empty: true}
		}
		if ok && val != "" && val != key {
			return "", &razar.AgentCredentialError{Agent: agent, EnvVar: v,
				Reason: "is set and so is " + fileVar + ", with a different key",
				Fix:    "unset " + v + " or " + fileVar + ", so the key has one source"}
		}
		return key, nil
	}
	if !ok || val == "" {
		return "", &razar.AgentCredentialError{Agent: agent, EnvVar: v, Empty: ok}
	}
	return val, nil
}

// fileCredential reads the key of a file reference of agent's auth.token:
// a path inside home; else, when $CREDENTIALS_DIRECTORY is set and the
// home has no such file, the credential of that name systemd loaded; or
// an absolute path. A file outside the home must meet the rule sshd
// applies to a private key (ReadKeyFile).
func fileCredential(agent, ref, home string, lookup config.Lookup) (string, error) {
	if err := ValidKeyPath(ref); err != nil {
		return "", &razar.AgentCredentialError{Agent: agent, EnvVar: fileRefField, Path: ref, Reason: "the path " + err.Error(),
			Fix: "name a file inside the home, e.g. " + FileRefToken("secrets/"+agent+".key") + ", or an absolute path"}
	}
	key, path, err := keyFileOf(ref, home, lookup)
	if err != nil {
		fix := "make the file readable by the rung's user and write the key in it"
		var kp *keyFileProblem
		if errors.As(err, &kp) {
			fix = kp.fix
		}
		return "", &razar.AgentCredentialError{Agent: agent, EnvVar: fileRefField, Path: path, Reason: err.Error(), Fix: fix}
	}
	if key == "" {
		return "", &razar.AgentCredentialError{Agent: agent, EnvVar: fileRefField, Path: path, Empty: true}
	}
	return key, nil
}

// keyFileOf reads the key file a roster or manifest names by ref (valid by
// ValidKeyPath): see fileCredential for where it is looked up.
func keyFileOf(ref, home string, lookup config.Lookup) (key, path string, err error) {
	if filepath.IsAbs(ref) {
		key, err = ReadKeyFile(ref)
		return key, ref, err
	}
	if dir := credentialsDirectory(lookup); dir != "" {
		if _, serr := os.Lstat(filepath.Join(home, ref)); errors.Is(serr, fs.ErrNotExist) {
			path = filepath.Join(dir, ref)
			key, err = ReadKeyFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				err = &keyFileProblem{msg: fmt.Sprintf("neither in the home (%s) nor in $%s (%s)", filepath.Join(home, ref), CredentialsDirectoryEnv, path),
					fix: "write the key to one of them, or name the file by its absolute path", err: err}
			}
			return key, path, err
		}
	}
	return readCredentialFile(home, ref)
}

// credentialsDirectory is $CREDENTIALS_DIRECTORY when it is set to an
// absolute path, else "".
func credentialsDirectory(lookup config.Lookup) string {
	if lookup == nil {
		return ""
	}
	dir, _ := lookup(CredentialsDirectoryEnv)
	if dir = strings.TrimSpace(dir); !filepath.IsAbs(dir) {
		return ""
	}
	return filepath.Clean(dir)
}

// keyFileProblem is why a key file outside the home may not be used, and
// what to do about it. It never holds the file's content.
type keyFileProblem struct {
	msg, fix string
	err      error // the os error behind it, if any
}

func (e *keyFileProblem) Error() string { return e.msg }
func (e *keyFileProblem) Unwrap() error { return e.err }

// ReadKeyFile reads the key in the file at the absolute path abs, which
// must be what sshd demands of a private key: a regular file (a symlink
// is followed: secrets managers mount keys through them), owned by
// RAZAR's user or root, with no access for group or others. Anyone else
// who can write it could hand the rungs their key, and anyone else who
// can read it has the key. The error (a problem with its fix) names the
// file and never what it holds.
func ReadKeyFile(abs string) (string, error) {
	f, err := os.Open(abs)
	if err != nil {
		return "", &keyFileProblem{msg: osErrText(err), fix: "write the key to " + abs + " as RAZAR's user, mode 600, or name the file that holds it", err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", &keyFileProblem{msg: osErrText(err), fix: "make " + abs + " readable by RAZAR's user", err: err}
	}
	if !st.Mode().IsRegular() {
		return "", &keyFileProblem{msg: "not a regular file", fix: "name the file that holds the key itself"}
	}
	if uid, ok := fileOwner(st); ok && uid != os.Geteuid() && uid != 0 {
		return "", &keyFileProblem{msg: fmt.Sprintf("owned by uid %d, neither RAZAR's user (uid %d) nor root: whoever owns it can hand the rungs a key", uid, os.Geteuid()),
			fix: fmt.Sprintf("chown %d %s (or root), as sshd demands of a private key", os.Geteuid(), abs)}
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", &keyFileProblem{msg: fmt.Sprintf("open to group or others (mode %04o): they could read the key", perm),
			fix: "chmod 600 " + abs + ", as sshd demands of a private key"}
	}
	return readKey(f)
}

// readKey reads one key from f: at most 64 KiB, one line, trimmed.
func readKey(f io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(f, maxCredentialFile+1))
	if err != nil {
		return "", errors.New(osErrText(err))
	}
	if len(data) > maxCredentialFile {
		return "", errors.New("over 64 KiB, too large for a key")
	}
	key := strings.TrimSpace(string(data))
	if strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return "", errors.New("a line break or control character inside the key (write one key on one line)")
	}
	return key, nil
}

// readCredentialFile reads the key in the file name names, relative to home
// when not absolute. path is the file, absolute when it can be. The error
// says why the file cannot be used, never what it holds.
func readCredentialFile(home, name string) (key, path string, err error) {
	path = strings.TrimSpace(name)
	if !filepath.IsAbs(path) {
		path = filepath.Join(home, path)
	}
	if abs, aerr := filepath.Abs(path); aerr == nil {
		path = abs
	}
	f, err := os.Open(path)
	if err != nil {
		return "", path, errors.New(osErrText(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", path, errors.New(osErrText(err))
	}
	if !st.Mode().IsRegular() {
		return "", path, errors.New("not a regular file")
	}
	key, err = readKey(f)
	return key, path, err
}

// osErrText is an os error without the path it repeats.
func osErrText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// credentialValues is every key credential variable v yields, for the
// redactor: V's and V_FILE's, even when they disagree or the rung cannot
// run for another reason.
func credentialValues(v, home string, lookup config.Lookup) []string {
	var out []string
	if rel, ok := strings.CutPrefix(v, FileRef); ok {
		if ValidKeyPath(rel) == nil {
			if key, _, err := keyFileOf(rel, home, lookup); err == nil {
				out = append(out, key)
			}
		}
		return out
	}
	if val, ok := lookup(v); ok {
		out = append(out, strings.TrimSpace(val))
	}
	if name, ok := lookup(v + FileSuffix); ok && strings.TrimSpace(name) != "" {
		if key, _, err := readCredentialFile(home, name); err == nil {
			out = append(out, key)
		}
	}
	return out
}

// Resolve expands an entry for its rung. Each credential variable is read
// with Credential (V, or the file V_FILE names relative to home): one that
// is unset, empty or unreadable fails with *razar.AgentCredentialError
// naming agent and variable; a remote backend without an endpoint fails
// wrapping razar.ErrRungUnavailable. An exec entry's Env holds its
// credential variables and its rung's own variable when that is set; a key
// from a file reference (${file:PATH}) is passed as the rung's own variable.
// Errors never contain a secret's value.
func Resolve(r Rung, e config.AgentEntry, home string, lookup config.Lookup) (Resolved, error) {
	res := Resolved{Entry: e, CredentialVars: CredentialVars(r, e)}
	keys, err := readKeys(e, res.CredentialVars, home, lookup)
	if err != nil {
		return res, err
	}
	if e.Backend == config.BackendExec {
		env, err := execEnv(r, e, res.CredentialVars, keys, home, lookup)
		if err != nil {
			return res, err
		}
		res.Env = env
	}
	if err := resolveToken(&res, keys, lookup); err != nil {
		return res, err
	}
	if e.Auth != nil && e.Auth.Type != "" && e.Auth.Type != "bearer" {
		return res, fmt.Errorf("%w: agent %s: auth type %q is not supported (fix: use \"bearer\")", razar.ErrRungUnavailable, e.Name, e.Auth.Type)
	}
	if err := resolveEndpoint(&res, r, lookup); err != nil {
		return res, err
	}
	for _, a := range e.Command {
		v, err := config.Expand(e.Name, a, lookup)
		if err != nil {
			return res, err
		}
		res.Command = append(res.Command, v)
	}
	return res, nil
}

// readKeys reads the key behind each credential variable, by variable.
func readKeys(e config.AgentEntry, vars []string, home string, lookup config.Lookup) (map[string]string, error) {
	keys := map[string]string{}
	for _, v := range vars {
		key, err := Credential(e.Name, v, home, lookup)
		if err != nil {
			return nil, err
		}
		keys[v] = key
	}
	return keys, nil
}

// execEnv is the environment, sorted NAME=value lines, an exec rung's
// script sees. A script sees its variables; a key from a file reference
// has no variable, so it travels as the rung's own (KIMI2_API_KEY for k2).
func execEnv(r Rung, e config.AgentEntry, vars []string, keys map[string]string, home string, lookup config.Lookup) ([]string, error) {
	env := map[string]string{}
	fileKey := ""
	for _, v := range vars {
		if strings.HasPrefix(v, FileRef) {
			if fileKey == "" {
				fileKey = keys[v]
			}
			continue
		}
		env[v] = keys[v]
	}
	switch {
	case r.CredentialEnv == "" || env[r.CredentialEnv] != "":
	case fileKey != "":
		env[r.CredentialEnv] = fileKey
	default:
		// The rung's own key, for a script that calls its model itself;
		// optional, but a V_FILE that cannot be read is an error.
		key, err := Credential(e.Name, r.CredentialEnv, home, lookup)
		var ce *razar.AgentCredentialError
		switch {
		case err == nil:
			env[r.CredentialEnv] = key
		case !asCred(err, &ce) || ce.Path != "" || ce.Reason != "":
			return nil, err
		}
	}
	names := make([]string, 0, len(env))
	for v := range env {
		names = append(names, v)
	}
	sort.Strings(names)
	var lines []string
	for _, v := range names {
		lines = append(lines, v+"="+env[v])
	}
	return lines, nil
}

// resolveToken sets the bearer token: the roster's auth token, whose
// ${VAR}s that are credentials expand to the key Credential read, or else
// the rung's only key.
func resolveToken(res *Resolved, keys map[string]string, lookup config.Lookup) error {
	e := res.Entry
	credLookup := func(k string) (string, bool) {
		if key, ok := keys[k]; ok {
			return key, true
		}
		return lookup(k)
	}
	switch {
	case e.Auth != nil && e.Auth.Token != "":
		tok, err := config.Expand(e.Name, e.Auth.Token, credLookup)
		if err != nil {
			return err
		}
		res.Token = tok
	case len(res.CredentialVars) == 1:
		res.Token = keys[res.CredentialVars[0]]
	}
	return nil
}

// resolveEndpoint sets the endpoint, the roster's or the rung's endpoint
// variable for a remote backend, and checks a remote one is an http(s) URL.
func resolveEndpoint(res *Resolved, r Rung, lookup config.Lookup) error {
	e := res.Entry
	endpoint := e.Endpoint
	if endpoint == "" && Remote(e.Backend) && r.EndpointEnv != "" {
		endpoint = "${" + r.EndpointEnv + "}"
	}
	if endpoint != "" {
		ep, err := config.Expand(e.Name, endpoint, lookup)
		if err != nil {
			var ce *razar.AgentCredentialError
			if asCred(err, &ce) {
				state := "unset"
				if ce.Empty {
					state = "empty"
				}
				return fmt.Errorf("%w: agent %s: no endpoint: %s is %s (fix: export %s)", razar.ErrRungUnavailable, e.Name, ce.EnvVar, state, ce.EnvVar)
			}
			return err
		}
		res.Endpoint = ep
	}
	if Remote(e.Backend) {
		if res.Endpoint == "" {
			return fmt.Errorf("%w: agent %s: no endpoint (fix: set \"endpoint\" in the roster)", razar.ErrRungUnavailable, e.Name)
		}
		u, err := url.Parse(res.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: agent %s: endpoint %q is not an http(s) URL", razar.ErrRungUnavailable, e.Name, redactURL(res.Endpoint))
		}
	}
	return nil
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

// SecretValues returns the keys of every credential variable the roster
// uses, for a razar.Redactor: the rungs' own variables and every ${VAR} an
// auth names, each as set and as read from its V_FILE (relative to home),
// read afresh on every call.
func SecretValues(roster *config.Roster, rungFor func(string) Rung, home string, lookup config.Lookup) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if seen[v] {
			return
		}
		seen[v] = true
		for _, key := range credentialValues(v, home, lookup) {
			if key != "" {
				out = append(out, key)
			}
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
func RedactPatterns(roster *config.Roster) []string {
	var out []string
	for _, e := range roster.Agents {
		out = append(out, e.Redact...)
	}
	return out
}
