package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/jetstream/bustest"
)

// fixMemoryHome is a home whose component web is healthy when web/app.conf
// says port=8080 and web/needs-more is absent. Kimicho's exec script
// appends a line to web/../kimicho.calls at every run, removes needs-more,
// and answers with the diff from the port app.conf has now to 8080.
func fixMemoryHome(t *testing.T) string {
	t.Helper()
	return home(t, `{"agents": [
  {"name": "crown", "backend": "builtin"},
  {"name": "kimicho", "display": "Kimi-cho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "10s"}
]}`, map[string]string{
		"config/boot_config.json": `{"components": [{"name": "web", "priority": 1, "command": ["sleep", "600"], "workdir": "web",
			"start_grace": "200ms", "health_check": {"command": ["sh", "-c", "grep -q '^port=8080$' app.conf && test ! -f needs-more"]}}]}`,
		"web/app.conf": "# app\nport=8080\n",
		"agents/kimicho.sh": `#!/bin/sh
cat >/dev/null
echo run >> "$RAZAR_WORKDIR/../kimicho.calls"
rm -f "$RAZAR_WORKDIR/needs-more"
p=$(sed -n 's/^port=//p' "$RAZAR_WORKDIR/app.conf")
printf '{"status": "fixed", "summary": "port 8080", "diff": "--- a/app.conf\\n+++ b/app.conf\\n@@ -1,2 +1,2 @@\\n # app\\n-port=%s\\n+port=8080\\n"}\n' "$p"
`,
	})
}

// breakPort writes app.conf with a bad port.
func breakPort(t *testing.T, h, port string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h, "web/app.conf"), []byte("# app\nport="+port+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// kimichoRuns is how many times kimicho's script ran.
func kimichoRuns(t *testing.T, h string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h, "kimicho.calls"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "run\n")
}

// occurrence escalates web with one occurrence of the port failure (its pid
// and time differ each time, as a real one's would) and returns the
// escalate output; it must heal.
func occurrence(t *testing.T, h string, n int) string {
	t.Helper()
	failure := fmt.Sprintf("web exited with status 1 (pid %d) at 2026-12-02T03:%02d:00Z: app.conf: port is not a number", 5000+n, n)
	esc := start(t, h, nil, "escalate", "web", "--error", failure)
	if code := esc.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("occurrence %d: escalate exit %d:\n%s", n, code, esc.out)
	}
	return esc.out.String()
}

// memoryAttempts are the rung memory's attempt records, by outcome.
func memoryAttempts(t *testing.T, h string) []string {
	var out []string
	for _, r := range jsonLines(t, filepath.Join(h, "logs/razar_ai_invocations.json")) {
		if r["event"] == "attempt" && r["agent"] == "memory" {
			out = append(out, fmt.Sprint(r["outcome"]))
		}
	}
	return out
}

func razarAs(h, ident string, args ...string) *exec.Cmd {
	return exec.Command(razarBin, append(append([]string{"--home", h}, args...), "--creds", filepath.Join(h, "state/identities", ident+".creds"))...)
}

func TestRecurrenceHealsFromMemoryWithNoRungRun(t *testing.T) {
	t.Parallel()
	h := fixMemoryHome(t)
	port := bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_METRICS_PORT=%d", port)}, "--nats-listen", "127.0.0.1:0")
	breakPort(t, h, "abc")
	occurrence(t, h, 1)
	if n := kimichoRuns(t, h); n != 1 {
		t.Fatalf("the first occurrence ran kimicho %d times, want 1", n)
	}
	breakPort(t, h, "abc")
	out := occurrence(t, h, 2)
	if n := kimichoRuns(t, h); n != 1 {
		t.Fatalf("the recurrence ran kimicho's script (%d runs in all, want 1):\n%s", n, out)
	}
	if b, _ := os.ReadFile(filepath.Join(h, "web/app.conf")); !strings.Contains(string(b), "port=8080") {
		t.Fatalf("app.conf not healed:\n%s", b)
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return len(memoryAttempts(t, h)) == 1 }, "no memory attempt in the invocations log")
	if got := memoryAttempts(t, h); got[0] != "healed" {
		t.Fatalf("memory attempts %v, want one healed", got)
	}

	sig := fixmem.Signature("web", fmt.Sprintf("web exited with status 1 (pid %d) at 2026-12-02T03:%02d:00Z: app.conf: port is not a number", 9, 9))
	// Every identity reads the memory; only an operator changes it.
	list, err := razarAs(h, "observer", "fixes", "list").CombinedOutput()
	if err != nil || !strings.Contains(string(list), sig) || !strings.Contains(string(list), "1 of 1 usable") {
		t.Fatalf("fixes list as observer: %v\n%s", err, list)
	}
	show, err := razarAs(h, "observer", "fixes", "show", sig).CombinedOutput()
	if err != nil || !strings.Contains(string(show), "written by kimicho") || !strings.Contains(string(show), "+port=8080") {
		t.Fatalf("fixes show as observer: %v\n%s", err, show)
	}
	for _, verb := range []string{"forget", "pin"} {
		out, err := razarAs(h, "observer", "fixes", verb, sig).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "may not fix_"+verb) {
			t.Fatalf("fixes %s as observer: %v, want refused (forbidden):\n%s", verb, err, out)
		}
	}
	if out, err := razarAs(h, "operator", "fixes", "pin", sig).CombinedOutput(); err != nil || !strings.Contains(string(out), "pinned") {
		t.Fatalf("fixes pin as operator: %v\n%s", err, out)
	}
	var fixes []fixmem.Fix
	js, err := razarAs(h, "observer", "fixes", "show", sig, "--json").Output()
	if err != nil || json.Unmarshal(js, &fixes) != nil || len(fixes) != 1 || !fixes[0].Pinned || fixes[0].PinnedBy != "operator" {
		t.Fatalf("after pin: %v %+v\n%s", err, fixes, js)
	}

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"razar_fix_memory_hits_total 1", "razar_fix_memory_heals_total 1", "razar_fix_memory_misses_total 1",
		"razar_fix_memory_learned_total 1", "razar_fix_memory_stale_total 0", "razar_fix_memory_signatures 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	page, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(html), "Fix memory") || !strings.Contains(string(html), sig) {
		t.Errorf("the status page lacks the fix memory and %s", sig)
	}
}

func TestStaleMemoryIsSkippedWhenTheFileChanged(t *testing.T) {
	t.Parallel()
	h := fixMemoryHome(t)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	breakPort(t, h, "abc")
	occurrence(t, h, 1)
	breakPort(t, h, "xyz") // the remembered diff says -port=abc: it no longer applies
	occurrence(t, h, 2)
	if n := kimichoRuns(t, h); n != 2 {
		t.Fatalf("kimicho ran %d times, want 2: the stale memory skipped, the ladder healed it", n)
	}
	if got := memoryAttempts(t, h); len(got) != 0 {
		t.Fatalf("memory attempts %v, want none: a stale fix is skipped, not tried", got)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		for _, r := range jsonLines(t, filepath.Join(h, "logs/razar_ai_invocations.json")) {
			if r["event"] == "skipped" && r["agent"] == "memory" && strings.Contains(fmt.Sprint(r["error"]), "stale") {
				return true
			}
		}
		return false
	}, "no skipped record for the stale memory")
}

func TestFailingMemoryIsMarkedAndTheLadderGoesOn(t *testing.T) {
	t.Parallel()
	h := fixMemoryHome(t)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	breakPort(t, h, "abc")
	occurrence(t, h, 1)
	// The port fix applies but no longer holds: web needs more now.
	breakPort(t, h, "abc")
	if err := os.WriteFile(filepath.Join(h, "web/needs-more"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := occurrence(t, h, 2)
	if n := kimichoRuns(t, h); n != 2 {
		t.Fatalf("kimicho ran %d times, want 2 (the ladder went on after the memory failed):\n%s", n, out)
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return len(memoryAttempts(t, h)) == 1 }, "no memory attempt")
	if got := memoryAttempts(t, h); got[0] != "rejected" {
		t.Fatalf("memory attempts %v, want one rejected", got)
	}
	var failed bool
	for _, r := range jsonLines(t, filepath.Join(h, "logs/patch_history.jsonl")) {
		if r["event"] == "reverted" && r["agent"] == "memory" {
			failed = true
		}
	}
	if !failed {
		t.Errorf("patch history has no revert of the memory's patch")
	}
	audit, err := razarAs(h, "operator", "audit", "--component", "web", "--json").Output()
	if err != nil || !strings.Contains(string(audit), `"event":"fix_failed"`) {
		t.Fatalf("razar audit lacks the fix_failed record: %v\n%s", err, audit)
	}
}

func TestRungNamedMemoryRefused(t *testing.T) {
	t.Parallel()
	h := home(t, `{"agents": [{"name": "memory", "backend": "exec", "command": ["true"]}]}`, nil)
	p := start(t, h, nil, "boot", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 20*time.Second); code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, "agents[0].name") || !strings.Contains(out, "remembered fix") || !strings.Contains(out, "rename the rung") {
		t.Fatalf("want an error naming agents[0].name and the fix, got:\n%s", out)
	}
}
