package patch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/internal/wait"
)

// helperEnv makes the test binary run a helper instead of the tests:
// "dial" connects to $PATCH_TEST_ADDR (exit 0 connected, 3 refused);
// "validate" runs Validate on the JSON argv in $PATCH_TEST_ARGV in
// $PATCH_TEST_DIR, standing in for a RAZAR that gets killed meanwhile.
const helperEnv = "PATCH_TEST_HELPER"

func runHelper(name string) int {
	switch name {
	case "dial":
		c, err := net.DialTimeout("tcp", os.Getenv("PATCH_TEST_ADDR"), 5*time.Second)
		if err != nil {
			fmt.Println("dial:", err)
			return 3
		}
		c.Close()
		fmt.Println("connected")
		return 0
	case "validate":
		var argv []string
		if err := json.Unmarshal([]byte(os.Getenv("PATCH_TEST_ARGV")), &argv); err != nil {
			fmt.Println(err)
			return 2
		}
		out, err := Validate(context.Background(), argv, os.Getenv("PATCH_TEST_DIR"), nil, time.Minute)
		fmt.Println(out, err)
		return 0
	}
	return 2
}

// liveProcs lists the live (not zombie) processes with their parent pid and
// working directory, from /proc.
func liveProcs(t *testing.T) map[int]struct {
	ppid int
	cwd  string
} {
	t.Helper()
	out := map[int]struct {
		ppid int
		cwd  string
	}{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		out[pid] = struct {
			ppid int
			cwd  string
		}{ppid, cwd}
	}
	return out
}

// descendants are the live processes under pid.
func descendants(t *testing.T, pid int) []int {
	procs := liveProcs(t)
	var out []int
	frontier := []int{pid}
	for len(frontier) > 0 {
		p := frontier[0]
		frontier = frontier[1:]
		for c, info := range procs {
			if info.ppid == p {
				out = append(out, c)
				frontier = append(frontier, c)
			}
		}
	}
	return out
}

// inDir are the live processes whose working directory is dir.
func inDir(t *testing.T, dir string) []int {
	var out []int
	for pid, info := range liveProcs(t) {
		if info.cwd == dir {
			out = append(out, pid)
		}
	}
	return out
}

func needIsolation(t *testing.T) {
	t.Helper()
	if ok, why := NetworkIsolation(); !ok {
		t.Skipf("network isolation is not available here: %s", why)
	}
}

// TestValidatorCannotReachTheNetwork: a validator that connects to a TCP
// listener the test opens on 127.0.0.1 fails to connect, while the same
// program run outside validation connects.
func TestValidatorCannotReachTheNetwork(t *testing.T) {
	needIsolation(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{helperEnv + "=dial", "PATCH_TEST_ADDR=" + ln.Addr().String()}

	// The control: outside validation the helper reaches the listener.
	ctl := exec.Command(self)
	ctl.Env = env
	if out, err := ctl.CombinedOutput(); err != nil {
		t.Fatalf("the dial helper cannot connect even outside validation: %v\n%s", err, out)
	}
	<-accepted

	// The test binary is shown to the sandbox read-only, as a toolchain
	// outside /usr would be.
	res, err := Sandbox{ReadOnly: []string{self}}.Validate(context.Background(), []string{self}, t.TempDir(), env, 30*time.Second)
	out := res.Output
	var ve *ValidateError
	if !errors.As(err, &ve) || ve.ExitCode != 3 {
		t.Fatalf("validator's dial: %v, output %q; want it refused (exit 3)", err, out)
	}
	t.Logf("validator's dial: %s", strings.TrimSpace(out))
	select {
	case <-accepted:
		t.Fatal("the listener accepted a connection from the validator")
	default:
	}
}

// TestValidatorSeesNoSecrets: a validator that runs `env` sees the child
// base and the component's declared env, none of RAZAR's variables or keys.
func TestValidatorSeesNoSecrets(t *testing.T) {
	t.Setenv("RAZAR_HOME", "/srv/razar")
	t.Setenv("RAZAR_NATS_URL", "nats://127.0.0.1:4222")
	t.Setenv("KIMI2_API_KEY", "sk-kimi2-secret")
	t.Setenv("AIRSTAR_API_KEY_FILE", "/run/secrets/airstar")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
	out, err := Validate(context.Background(), []string{"env"}, t.TempDir(), []string{"APP_MODE=check"}, 10*time.Second)
	if err != nil {
		t.Fatalf("env: %v\n%s", err, out)
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "LANG": true, "TZ": true, "TMPDIR": true, "APP_MODE": true}
	for line := range strings.Lines(out) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		if !allowed[k] {
			t.Errorf("validator sees %s=%s", k, v)
		}
		if strings.Contains(v, "secret") {
			t.Errorf("validator sees a secret in %s", k)
		}
	}
	if !strings.Contains(out, "APP_MODE=check\n") {
		t.Errorf("declared env missing:\n%s", out)
	}
}

// TestValidatorLeavesNothingRunning: what a validator starts in the
// background and leaves behind is killed when it exits.
func TestValidatorLeavesNothingRunning(t *testing.T) {
	if !sandboxSupported {
		t.Skip("the process group is killed after exit on Linux only")
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := Validate(context.Background(), []string{"sh", "-c", "sleep 300 & echo left a sleep behind"}, dir, nil, 10*time.Second)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	wait.Until(t, 10*time.Second, func() bool { return len(inDir(t, dir)) == 0 }, "processes left running in the stage: %v", inDir(t, dir))
}

// TestKilledRazarTakesItsValidatorDown: SIGKILL to the process running
// Validate (RAZAR) kills the validator, and with namespaces what the
// validator forked too.
func TestKilledRazarTakesItsValidatorDown(t *testing.T) {
	if !sandboxSupported {
		t.Skip("the parent-death signal is Linux only")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	argv, _ := json.Marshal([]string{"sh", "-c", "sleep 300 & echo started > started; wait"})
	razar := exec.Command(self)
	razar.Env = append(os.Environ(), helperEnv+"=validate", "PATCH_TEST_ARGV="+string(argv), "PATCH_TEST_DIR="+dir)
	if err := razar.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, pid := range inDir(t, dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	wait.Until(t, 20*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil
	}, "the validator never started")
	var tree []int
	wait.Until(t, 10*time.Second, func() bool { tree = descendants(t, razar.Process.Pid); return len(tree) >= 2 }, "want the validator and its sleep under RAZAR, got %v", tree)
	validator := -1
	for _, pid := range tree {
		if liveProcs(t)[pid].ppid == razar.Process.Pid {
			validator = pid
		}
	}

	if err := razar.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = razar.Wait()
	isolated, why := NetworkIsolation()
	wait.Until(t, 10*time.Second, func() bool {
		for _, pid := range tree {
			if _, alive := liveProcs(t)[pid]; alive && (isolated || pid == validator) {
				return false
			}
		}
		return true
	}, "still running after RAZAR was killed: %v (isolated %v)", tree, isolated)
	if !isolated {
		t.Logf("without namespaces (%s) only the validator itself dies with RAZAR; what it forked is cleaned up by this test", why)
	}
}
