// Package pgcmd builds the commands RAZAR runs for operators' scripts
// (components, health probes, validate commands, exec agents): each in its
// own process group, so ending it ends everything it forked.
//
// # Environment
//
// A child never inherits RAZAR's environment, which holds the rungs' keys
// (KIMI2_API_KEY, AIRSTAR_API_KEY, ...) and anything else the operator
// exported for RAZAR. It gets BaseEnv (PATH, HOME, LANG, TZ and TMPDIR, each
// taken from RAZAR's own environment when set there and not empty; PATH is
// DefaultPath otherwise) plus exactly the "KEY=value" entries its caller
// declares: a component's `env` from boot_config.json, and for an exec rung
// its own credential and RAZAR_* task variables. A declared entry wins over
// a base one of the same name.
package pgcmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultPath is a child's PATH when RAZAR's own environment has none.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// BaseVars are the variables of RAZAR's environment every child inherits.
var BaseVars = []string{"PATH", "HOME", "LANG", "TZ", "TMPDIR"}

// BaseEnv is the environment every child starts from: each of BaseVars that
// is set and not empty in RAZAR's environment, as "KEY=value", and PATH set
// to DefaultPath when RAZAR has none. It is read afresh on every call.
func BaseEnv() []string {
	env := make([]string, 0, len(BaseVars))
	for _, k := range BaseVars {
		v, ok := os.LookupEnv(k)
		if !ok || v == "" {
			if k != "PATH" {
				continue
			}
			v = DefaultPath
		}
		env = append(env, k+"="+v)
	}
	return env
}

// Command returns a command for argv that runs in dir (when not empty) with
// BaseEnv plus env (see the package doc: nothing else of RAZAR's environment
// reaches it), in its own process group. When ctx ends the whole group gets
// SIGKILL, and Wait gives up on its output pipes waitDelay later. A relative
// path with a slash ("./check.sh") resolves against dir, as an operator
// writing the config means it; a bare name ("sh") is looked up in the PATH
// the child gets.
func Command(ctx context.Context, argv []string, dir string, env []string, waitDelay time.Duration) (*exec.Cmd, error) {
	path := argv[0]
	if dir != "" && strings.Contains(path, "/") && !filepath.IsAbs(path) {
		// The child chdirs into dir before exec: make the path absolute so
		// a relative dir is not applied twice.
		abs, err := filepath.Abs(filepath.Join(dir, path))
		if err != nil {
			return nil, err
		}
		path = abs
	}
	// os/exec keeps the last of duplicate keys: a declared entry wins.
	env = append(BaseEnv(), env...)
	var cmd *exec.Cmd
	if childPath := lastValue(env, "PATH"); !strings.Contains(path, "/") && childPath != os.Getenv("PATH") {
		// A bare name is looked up in the PATH the child gets, not RAZAR's.
		if found, ok := lookPathIn(path, childPath); ok {
			cmd = exec.CommandContext(ctx, found, argv[1:]...)
			cmd.Args[0] = argv[0]
		} else {
			cmd = exec.CommandContext(ctx, path, argv[1:]...)
			cmd.Path, cmd.Err = path, &exec.Error{Name: path, Err: exec.ErrNotFound}
		}
	} else {
		cmd = exec.CommandContext(ctx, path, argv[1:]...)
	}
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the leader's pid: the script and its children.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	return cmd, nil
}

// lastValue is the value of the last key= entry of env, or "".
func lastValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// lookPathIn finds the executable file named file in the directories of
// pathList. Relative directories are skipped, as os/exec refuses them.
func lookPathIn(file, pathList string) (string, bool) {
	for _, dir := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}
