package pgcmd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// plantedSecrets are variables RAZAR's own environment may hold that no
// child may see.
var plantedSecrets = map[string]string{
	"KIMI2_API_KEY":      "sk-kimi2-planted-1111",
	"KIMI2_API_KEY_FILE": "/run/secrets/k2",
	"AIRSTAR_API_KEY":    "sk-airstar-planted-2222",
	"RSTAR_API_KEY":      "sk-rstar-planted-3333",
	"OPENAI_API_KEY":     "sk-openai-planted-4444",
	"RAZAR_NATS_URL":     "nats://127.0.0.1:4222",
}

// childEnv runs env(1) through Command and returns what the child saw.
func childEnv(t *testing.T, argv []string, env []string) map[string]string {
	t.Helper()
	cmd, err := Command(context.Background(), argv, t.TempDir(), env, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			seen[k] = v
		}
	}
	return seen
}

func TestChildGetsBaseEnvAndDeclaredEnvOnly(t *testing.T) {
	for k, v := range plantedSecrets {
		t.Setenv(k, v)
	}
	t.Setenv("LANG", "C.UTF-8")
	t.Setenv("TZ", "Europe/Paris")
	t.Setenv("HOME", "/home/razar")
	t.Setenv("TMPDIR", "/var/tmp")

	seen := childEnv(t, []string{"env"}, []string{"LOG_LEVEL=info"})
	want := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": "/home/razar", "LANG": "C.UTF-8", "TZ": "Europe/Paris",
		"TMPDIR": "/var/tmp", "LOG_LEVEL": "info",
	}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("child %s = %q, want %q", k, seen[k], v)
		}
	}
	for k := range seen {
		if _, ok := want[k]; !ok {
			t.Errorf("child inherited %s, which is neither base nor declared", k)
		}
	}
	for k, v := range plantedSecrets {
		if _, ok := seen[k]; ok {
			t.Errorf("child sees RAZAR's %s", k)
		}
		for ck, cv := range seen {
			if strings.Contains(cv, v) {
				t.Errorf("child's %s holds the value of RAZAR's %s", ck, k)
			}
		}
	}
}

func TestDeclaredEnvWinsOverBase(t *testing.T) {
	t.Setenv("TZ", "Europe/Paris")
	seen := childEnv(t, []string{"env"}, []string{"TZ=UTC"})
	if seen["TZ"] != "UTC" {
		t.Fatalf("TZ = %q, want the declared UTC", seen["TZ"])
	}
}

func TestUnsetBaseVariablesStayUnsetAndPathDefaults(t *testing.T) {
	for _, k := range BaseVars {
		t.Setenv(k, "") // restored at cleanup
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	// With no PATH of RAZAR's, "env" is found on the default one.
	seen := childEnv(t, []string{"env"}, nil)
	if seen["PATH"] != DefaultPath {
		t.Errorf("PATH = %q, want %q", seen["PATH"], DefaultPath)
	}
	if len(seen) != 1 {
		t.Errorf("child environment %v, want PATH alone", seen)
	}
}

func TestBareNameIsLookedUpInTheChildsPath(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "razar-test-tool"), []byte("#!/bin/sh\necho tool ran with PATH=$PATH\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := bin + ":" + DefaultPath
	cmd, err := Command(context.Background(), []string{"razar-test-tool"}, "", []string{"PATH=" + path}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "tool ran with PATH="+path {
		t.Fatalf("output %q", got)
	}
	if cmd.Args[0] != "razar-test-tool" {
		t.Errorf("argv[0] = %q, want the name as configured", cmd.Args[0])
	}

	// Not on the child's PATH: the error os/exec gives for a missing command.
	cmd, err = Command(context.Background(), []string{"razar-test-tool"}, "", []string{"PATH=/nonexistent"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("Start = %v, want exec.ErrNotFound", err)
	}
}
