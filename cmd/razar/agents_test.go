package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// runRazar runs one razar command to completion with extra env.
func runRazar(t *testing.T, h string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(razarBin, append([]string{"--home", h}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func treeBytes(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(p)
		b.WriteString(p + "\x00" + string(data) + "\x00")
		return nil
	})
	return b.String()
}

const rotRoster = `{"agents": [
  {"name": "crown", "backend": "builtin"},
  {"name": "k2", "display": "K2 Coder", "backend": "exec", "command": ["sh", "agents/fix.sh"],
   "auth": {"type": "bearer", "token": "${KIMI2_API_KEY}"}}
]}
`

// TestAgentsCheckWithRazarStoppedSaysItIsTheShellsView: with nothing to
// ask, agents check judges in its own environment and says so.
func TestAgentsCheckWithRazarStoppedSaysItIsTheShellsView(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"},
		{"name": "k2", "backend": "openai", "endpoint": "http://127.0.0.1:9/v1"}]}`, nil)
	out, code := runRazar(t, h, []string{"KIMI2_API_KEY="}, "agents", "check")
	if code != 1 || !strings.Contains(out, "KIMI2_API_KEY is empty") || !strings.Contains(out, "crown") ||
		!strings.Contains(out, "running rungs could not be asked") {
		t.Fatalf("agents check without key: exit %d\n%s", code, out)
	}
}

// TestAgentsCheckShowsTheRunningRungsView: the key is exported in the
// operator's shell but not in RAZAR's; agents check reports what the
// running rung process sees (unset, exit 1), where the shell's own view
// (--local) would have said ready.
func TestAgentsCheckShowsTheRunningRungsView(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"},
		{"name": "k2", "backend": "openai", "endpoint": "http://127.0.0.1:9/v1"}]}`, nil)
	p, _ := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	shell := []string{"KIMI2_API_KEY=sk-only-in-the-shell-3131"}
	process := fmt.Sprintf(":%d", p.cmd.Process.Pid)
	var out string
	var code int
	bustest.Eventually(t, 20*time.Second, func() bool {
		out, code = runRazar(t, h, shell, "agents", "check")
		return strings.Count(out, process) == 2 // crown and k2 both answered
	}, "the rungs in razar boot did not answer the probe")
	if code != 1 || !strings.Contains(out, "running rungs' view") {
		t.Fatalf("agents check with RAZAR running: exit %d, want 1 from the running view\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "k2 ") && (!strings.Contains(line, process) || !strings.Contains(line, "credential variable KIMI2_API_KEY is unset")) {
			t.Errorf("k2's line does not give the process and why it cannot run: %q", line)
		}
		if strings.HasPrefix(line, "crown ") && !strings.Contains(line, "ready") {
			t.Errorf("crown's line: %q", line)
		}
	}
	if strings.Contains(out, "sk-only-in-the-shell") {
		t.Fatalf("agents check printed a key:\n%s", out)
	}
	if local, code := runRazar(t, h, shell, "agents", "check", "--local"); code != 0 || !strings.Contains(local, "this shell's environment") {
		t.Fatalf("agents check --local: exit %d\n%s", code, local)
	}
}

// TestSecretsNeverLeak plants a credential value in every channel it could
// leak through (the component's output, a rung's answer, the operator's
// failure text) and greps every output RAZAR writes for it.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const secret = "sk-planted-c0ffee-9911"
	h := home(t, `{"agents": [
		{"name": "crown", "backend": "builtin"},
		{"name": "k2", "backend": "exec", "command": ["sh", "agents/leak.sh"], "redact": ["token=[a-z0-9]+"]}]}`, map[string]string{
		"agents/leak.sh": "#!/bin/sh\ncat >/dev/null\necho \"{\\\"status\\\": \\\"no_fix\\\", \\\"summary\\\": \\\"saw $KIMI2_API_KEY and token=abc123\\\"}\"\n",
		"config/boot_config.json": `{"components": [{"name": "web", "priority": 1, "workdir": "web", "start_grace": "100ms",
			"command": ["sh", "-c", "echo connecting with $KIMI2_API_KEY; exit 1"]}]}`,
	})
	env := []string{"KIMI2_API_KEY=" + secret, "RAZAR_RSTAR_THRESHOLD=0"}
	p := start(t, h, env, "boot", "--once", "--retries", "0", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("boot exit %d:\n%s", code, p.out)
	}
	if strings.Contains(p.out.String(), secret) {
		t.Fatal("secret on razar's own output")
	}
	// Every file RAZAR wrote, except the component's own output log.
	_ = filepath.Walk(h, func(path string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(h, path)
		if err != nil || info.IsDir() || strings.HasPrefix(rel, "logs/components") || strings.HasPrefix(rel, "state") || strings.HasPrefix(rel, "agents") {
			return nil
		}
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte("token=abc123")) {
			t.Errorf("secret in %s", path)
		}
		return nil
	})
	if data, _ := os.ReadFile(filepath.Join(h, "logs/razar_ai_invocations.json")); !bytes.Contains(data, []byte("[REDACTED]")) {
		t.Errorf("no redaction marker in the invocation log:\n%s", data)
	}
	// The audit stream and the incident state, read back from the store.
	js := bustest.OpenHome(t, h)
	// Stream RAZAR (razar.>) and the rungs' answers in RAZAR_RESULTS.
	for _, filter := range []string{"razar.>", bus.ResultAll} {
		n := 0
		err := js.Store.Scan(context.Background(), filter, time.Time{}, false, func(_ uint64, subj string, data []byte) error {
			n++
			if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte("token=abc123")) {
				t.Errorf("secret on the stream in %s: %s", subj, data)
			}
			return nil
		})
		if err != nil || n == 0 {
			t.Fatalf("scan %s: %d messages, %v", filter, n, err)
		}
	}
	recs, err := js.Store.Incidents(context.Background(), nil)
	if err != nil || len(recs) != 1 {
		t.Fatalf("incidents: %d %v", len(recs), err)
	}
	if b, _ := json.Marshal(recs[0]); bytes.Contains(b, []byte(secret)) {
		t.Errorf("secret in the incident state: %s", b)
	}
}
