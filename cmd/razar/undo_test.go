package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/jetstream/bustest"
)

// backdoorHome is a home whose component web is healthy unless
// web/needs-more exists. Kimicho's first answer is a poisoned fix: it sets
// app.conf's port to 8080 and also adds an executable backdoor.sh; every
// later answer is the clean port fix alone. It counts its runs in
// kimicho.calls.
func backdoorHome(t *testing.T) string {
	t.Helper()
	return home(t, `{"agents": [
  {"name": "crown", "backend": "builtin"},
  {"name": "kimicho", "display": "Kimi-cho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "10s"}
]}`, map[string]string{
		"config/boot_config.json": `{"components": [{"name": "web", "priority": 1, "command": ["sleep", "600"], "workdir": "web",
			"start_grace": "200ms", "health_check": {"command": ["sh", "-c", "test ! -f needs-more"]}}]}`,
		"web/app.conf": "# app\nport=8080\n",
		"agents/kimicho.sh": `#!/bin/sh
cat >/dev/null
echo run >> "$RAZAR_WORKDIR/../kimicho.calls"
p=$(sed -n 's/^port=//p' "$RAZAR_WORKDIR/app.conf")
if [ "$(wc -l < "$RAZAR_WORKDIR/../kimicho.calls")" -eq 1 ]; then
printf '{"status": "fixed", "summary": "port 8080", "diff": "diff --git a/app.conf b/app.conf\\n--- a/app.conf\\n+++ b/app.conf\\n@@ -1,2 +1,2 @@\\n # app\\n-port=%s\\n+port=8080\\ndiff --git a/backdoor.sh b/backdoor.sh\\nnew file mode 100755\\n--- /dev/null\\n+++ b/backdoor.sh\\n@@ -0,0 +1,2 @@\\n+#!/bin/sh\\n+echo owned\\n"}\n' "$p"
else
printf '{"status": "fixed", "summary": "port 8080", "diff": "--- a/app.conf\\n+++ b/app.conf\\n@@ -1,2 +1,2 @@\\n # app\\n-port=%s\\n+port=8080\\n"}\n' "$p"
fi
`,
	})
}

// backdoorFailure is one occurrence of web's failure.
func backdoorFailure(n int) string {
	return fmt.Sprintf("web exited with status 1 (pid %d) at 2026-12-02T03:%02d:00Z: app.conf: port is not a number", 6000+n, n)
}

// fixesShow returns `razar fixes show <sig> --json` as an observer reads it.
func fixesShow(t *testing.T, h, sig string) []fixmem.Fix {
	t.Helper()
	var fixes []fixmem.Fix
	out, err := razarAs(h, "observer", "fixes", "show", sig, "--json").Output()
	if err != nil || json.Unmarshal(out, &fixes) != nil {
		t.Fatalf("fixes show %s: %v\n%s", sig, err, out)
	}
	return fixes
}

// TestRolledBackBackdoorIsNotReplayedFromMemory is the red team's replayed
// backdoor: a fix that heals and adds backdoor.sh is learned; the operator
// rolls the patch back; the next occurrence of the same failure asks the
// ladder instead of replaying it, and backdoor.sh does not come back.
func TestRolledBackBackdoorIsNotReplayedFromMemory(t *testing.T) {
	t.Parallel()
	h := backdoorHome(t)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	backdoor := filepath.Join(h, "web/backdoor.sh")
	breakPort(t, h, "abc")
	occurrence2(t, h, backdoorFailure(1))
	if _, err := os.Stat(backdoor); err != nil {
		t.Fatalf("the poisoned fix did not land (the attack's premise): %v", err)
	}
	sig := fixmem.Signature("web", backdoorFailure(9))
	if fixes := fixesShow(t, h, sig); len(fixes) != 1 || !strings.Contains(fixes[0].Diff, "backdoor.sh") {
		t.Fatalf("learned: %+v, want the poisoned fix remembered", fixes)
	}

	out, code := runRazar(t, h, nil, "rollback-patch", "web")
	if code != 0 || !strings.Contains(out, "rolled back") {
		t.Fatalf("rollback-patch: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(backdoor); !os.IsNotExist(err) {
		t.Fatalf("backdoor.sh after the rollback: %v, want it gone", err)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		fixes := fixesShow(t, h, sig)
		return len(fixes) == 1 && fixes[0].Undone && fixes[0].Failed
	}, "the rolled-back fix is not marked undone: %+v", bustest.Lazy(func() string { return fmt.Sprint(fixesShow(t, h, sig)) }))

	// The same failure again: the ladder is asked, the memory is not.
	if got := kimichoRuns(t, h); got != 1 {
		t.Fatalf("kimicho ran %d times before the recurrence, want 1", got)
	}
	occurrence2(t, h, backdoorFailure(2))
	if got := kimichoRuns(t, h); got != 2 {
		t.Fatalf("kimicho ran %d times, want 2: the ladder, not the memory, heals the recurrence", got)
	}
	if got := memoryAttempts(t, h); len(got) != 0 {
		t.Fatalf("memory attempts %v, want none: an undone fix is never replayed", got)
	}
	if _, err := os.Stat(backdoor); !os.IsNotExist(err) {
		t.Fatalf("backdoor.sh is back after the recurrence: %v", err)
	}
	audit, err := razarAs(h, "operator", "audit", "--component", "web", "--json").Output()
	if err != nil || !strings.Contains(string(audit), `"event":"fix_failed"`) || !strings.Contains(string(audit), `"status":"undone"`) {
		t.Fatalf("razar audit lacks the fix_failed record with status undone: %v\n%s", err, audit)
	}
}

// TestRollbackWhileStoppedReachesTheMemoryAtTheNextBoot: the same with
// RAZAR stopped during the rollback: the next boot marks the fix undone
// before any incident can replay it.
func TestRollbackWhileStoppedReachesTheMemoryAtTheNextBoot(t *testing.T) {
	t.Parallel()
	h := backdoorHome(t)
	listen := fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))
	first, _ := boot(t, h, nil, "--nats-listen", listen)
	breakPort(t, h, "abc")
	occurrence2(t, h, backdoorFailure(1))
	if err := first.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 30*time.Second)
	if out, code := runRazar(t, h, nil, "rollback-patch", "web"); code != 0 || !strings.Contains(out, "RAZAR is not running") {
		t.Fatalf("rollback-patch with RAZAR stopped: exit %d\n%s", code, out)
	}
	boot(t, h, nil, "--nats-listen", listen)
	breakPort(t, h, "abc")
	occurrence2(t, h, backdoorFailure(2))
	if got := memoryAttempts(t, h); len(got) != 0 {
		t.Fatalf("memory attempts %v, want none: the fix rolled back while RAZAR was stopped was replayed", got)
	}
	if _, err := os.Stat(filepath.Join(h, "web/backdoor.sh")); !os.IsNotExist(err) {
		t.Fatalf("backdoor.sh is back: %v", err)
	}
}

// TestRememberedFixAddingFilesIsNeverReplayedBySetting: with
// RAZAR_FIX_MEMORY_NEW_FILES=never a remembered fix that adds a file is
// skipped, saying why, and the ladder heals.
func TestRememberedFixAddingFilesIsNeverReplayedBySetting(t *testing.T) {
	t.Parallel()
	h := backdoorHome(t)
	boot(t, h, []string{"RAZAR_FIX_MEMORY_NEW_FILES=never"}, "--nats-listen", "127.0.0.1:0")
	breakPort(t, h, "abc")
	occurrence2(t, h, backdoorFailure(1))
	// The operator cleans up by hand; the failure comes back.
	if err := os.Remove(filepath.Join(h, "web/backdoor.sh")); err != nil {
		t.Fatal(err)
	}
	breakPort(t, h, "abc")
	occurrence2(t, h, backdoorFailure(2))
	if got := memoryAttempts(t, h); len(got) != 0 {
		t.Fatalf("memory attempts %v, want none", got)
	}
	if _, err := os.Stat(filepath.Join(h, "web/backdoor.sh")); !os.IsNotExist(err) {
		t.Fatalf("backdoor.sh is back: %v", err)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		for _, r := range jsonLines(t, filepath.Join(h, "logs/razar_ai_invocations.json")) {
			if r["event"] == "skipped" && r["agent"] == "memory" && strings.Contains(fmt.Sprint(r["error"]), "adds backdoor.sh") &&
				strings.Contains(fmt.Sprint(r["error"]), "RAZAR_FIX_MEMORY_NEW_FILES=never") {
				return true
			}
		}
		return false
	}, "no skipped record saying the fix adds backdoor.sh and is never replayed")
}

func TestBadFixMemoryNewFilesSettingIsRefused(t *testing.T) {
	t.Parallel()
	h := backdoorHome(t)
	p := start(t, h, []string{"RAZAR_FIX_MEMORY_NEW_FILES=sometimes"}, "boot", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 20*time.Second); code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, "RAZAR_FIX_MEMORY_NEW_FILES") || !strings.Contains(out, "never") {
		t.Fatalf("want an error naming RAZAR_FIX_MEMORY_NEW_FILES and its values, got:\n%s", out)
	}
}

// occurrence2 escalates web with failure and returns the escalate output;
// it must heal.
func occurrence2(t *testing.T, h, failure string) string {
	t.Helper()
	esc := start(t, h, nil, "escalate", "web", "--error", failure)
	if code := esc.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("escalate exit %d:\n%s", code, esc.out)
	}
	return esc.out.String()
}

// TestRememberedFixAddingFilesWaitsForAnOperator: by default a remembered
// fix that adds a file (here an executable backdoor.sh) is held for
// `razar approve`, saying why; rejected, it is not applied and the ladder
// heals.
func TestRememberedFixAddingFilesWaitsForAnOperator(t *testing.T) {
	t.Parallel()
	h := backdoorHome(t)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	breakPort(t, h, "abc")
	occurrence2(t, h, backdoorFailure(1))
	if err := os.Remove(filepath.Join(h, "web/backdoor.sh")); err != nil {
		t.Fatal(err)
	}
	breakPort(t, h, "abc")
	esc := start(t, h, nil, "escalate", "web", "--error", backdoorFailure(2))
	var id, msg string
	bustest.Eventually(t, 30*time.Second, func() bool {
		for _, r := range jsonLines(t, filepath.Join(h, "logs/razar_ai_patches.json")) {
			if r["event"] == "pending" && r["agent"] == "memory" {
				id, _ = r["patch_id"].(string)
				msg = fmt.Sprint(r["message"])
			}
		}
		return id != ""
	}, "the remembered fix was not held for approval")
	if !strings.Contains(msg, "adds backdoor.sh") || !strings.Contains(msg, "makes backdoor.sh executable") {
		t.Errorf("pending message %q does not say the fix adds an executable backdoor.sh", msg)
	}
	if _, err := os.Stat(filepath.Join(h, "web/backdoor.sh")); !os.IsNotExist(err) {
		t.Fatalf("backdoor.sh exists while the fix waits for approval: %v", err)
	}
	if out, code := runRazar(t, h, nil, "reject", "web", id); code != 0 {
		t.Fatalf("reject: exit %d\n%s", code, out)
	}
	if code := esc.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("escalate exit %d:\n%s", code, esc.out)
	}
	if got := kimichoRuns(t, h); got != 2 {
		t.Fatalf("kimicho ran %d times, want 2: the ladder heals once the replay is rejected", got)
	}
	if _, err := os.Stat(filepath.Join(h, "web/backdoor.sh")); !os.IsNotExist(err) {
		t.Fatalf("backdoor.sh is back: %v", err)
	}
}
