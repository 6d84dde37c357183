package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogsPrintsTheLastLinesOfAComponentSafely: `razar logs web -n 2` prints
// the last two lines of logs/components/web.log, control characters
// stripped; an unknown component is exit 2.
func TestLogsPrintsTheLastLinesOfAComponentSafely(t *testing.T) {
	h := home(t, crownRoster, map[string]string{
		"logs/components/web.log": "one\ntwo\nthree \x1b[2Jcleared\nfour\n",
	})
	out, stderr, code := runCLI(t, "--home", h, "logs", "web", "-n", "2")
	// The ESC byte goes; what followed it is plain text then.
	if code != 0 || out != "three [2Jcleared\nfour\n" || strings.ContainsRune(out, 0x1b) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the last two lines, the escape byte stripped", code, out, stderr)
	}
	if _, _, code := runCLI(t, "--home", h, "logs", "nosuch"); code != 2 {
		t.Fatalf("logs of an unknown component: exit %d, want 2", code)
	}
}

// TestAuditSinceTakesDays: --since 2d is two days, like the other ages of
// RAZAR's settings; a bad one is exit 2 naming the forms.
func TestAuditSinceTakesDays(t *testing.T) {
	h := home(t, crownRoster, nil)
	if _, stderr, code := runCLI(t, "--home", h, "audit", "--since", "2d"); code == 2 {
		t.Fatalf("--since 2d refused: %s", stderr)
	}
	if _, stderr, code := runCLI(t, "--home", h, "audit", "--since", "two days"); code != 2 || !strings.Contains(stderr, "2d") {
		t.Fatalf("--since 'two days': exit %d, %q; want 2 naming the forms", code, stderr)
	}
}

// TestBootRefusesAComponentNamedLikeARung: the two would share
// razar.heartbeat.<name>, which the rung may publish; boot exits 2 naming
// the component and the fix.
func TestBootRefusesAComponentNamedLikeARung(t *testing.T) {
	h := home(t, crownRoster, map[string]string{
		"config/boot_config.json": `{"components": [{"name": "crown", "priority": 1, "command": ["sleep", "600"]}]}`,
	})
	_, stderr, code := runCLI(t, "--home", h, "boot", "--once", "--nats-listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "components[0].name") || !strings.Contains(stderr, "rename the component") {
		t.Fatalf("exit %d, %q: want 2 naming components[0].name and the fix", code, stderr)
	}
}

// TestReplicasOnTheEmbeddedServerIsAUsageError: the embedded server is one
// node; --replicas 3 without --nats is exit 2 naming the fix, before
// anything starts.
func TestReplicasOnTheEmbeddedServerIsAUsageError(t *testing.T) {
	h := home(t, crownRoster, nil)
	_, stderr, code := runCLI(t, "--home", h, "boot", "--replicas", "3", "--nats-listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "--nats URL of a NATS cluster") {
		t.Fatalf("exit %d, %q: want 2 naming --nats and a cluster", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(h, "state/nats.url")); !os.IsNotExist(err) {
		t.Fatalf("a refused boot wrote state/nats.url: %v", err)
	}
}
