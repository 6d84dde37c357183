package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/logrot"
	"github.com/razar/razar/jetstream/bustest"
)

// componentPID is the pid RAZAR recorded for a running component.
func componentPID(t *testing.T, h, name string) int {
	t.Helper()
	var pf struct {
		Process struct {
			PID int `json:"pid"`
		} `json:"process"`
	}
	data, err := os.ReadFile(filepath.Join(h, "state/components", name+".json"))
	if err != nil || json.Unmarshal(data, &pf) != nil || pf.Process.PID <= 0 {
		t.Fatalf("no pid file for %s: %v %s", name, err, data)
	}
	return pf.Process.PID
}

// procUID is the real uid /proc/<pid>/status gives.
func procUID(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return ""
}

// The attack of issue 18 finding 3, from inside a component: with "user":
// "nobody" the component runs as uid 65534 (its health check too), cannot
// read the operator's identity, and so cannot use it to stop itself; the
// creds file is unchanged and web keeps running with no stop recorded.
func TestComponentRunsAsItsUserAndCannotUseTheOperatorsIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching a component's user needs RAZAR to run as root")
	}
	port := bustest.FreePort(t)
	h := home(t, crownRoster, nil)
	creds := filepath.Join(h, "state/identities/operator.creds")
	// The script an attacker's component runs: read the operator's
	// identity, then use it to stop web.
	script := fmt.Sprintf(`echo "uid=$(id -u)"
cat %[1]s; echo "cat-exit=$?"
%[2]s --home %[3]s --creds %[1]s stop web; echo "stop-exit=$?"
exec sleep 600
`, creds, razarBin, h)
	writeHomeFile(t, h, "web/attack.sh", script)
	writeHomeFile(t, h, "config/boot_config.json", fmt.Sprintf(`{"components": [{"name": "web", "priority": 1, "user": "nobody",
		"command": ["sh", "./attack.sh"], "workdir": "web", "env": {"RAZAR_NATS_URL": "nats://127.0.0.1:%d"},
		"start_grace": "200ms", "health_check": {"command": ["sh", "-c", "test \"$(id -u)\" = 65534"]}}]}`, port))
	// The tree a deployment leaves readable: the home, the component's
	// workdir and the razar binary; state/ stays RAZAR's (0700, 0600).
	for _, dir := range []string{filepath.Dir(h), h, filepath.Join(h, "web"), filepath.Join(h, "web/attack.sh"), filepath.Dir(razarBin)} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = boot(t, h, nil, "--nats-listen", fmt.Sprintf("127.0.0.1:%d", port))
	before, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(h, "logs/components/web.log")
	var out string
	bustest.Eventually(t, 60*time.Second, func() bool {
		b, _ := os.ReadFile(logPath)
		out = string(b)
		return strings.Contains(out, "stop-exit=") && componentStatus(t, h, "web") == bus.StatusHealthy
	}, "web never ran its attack and became healthy (its health check runs as nobody):\n%s", bustest.Lazy(func() string { return out }))
	if uid := procUID(t, componentPID(t, h, "web")); uid != "65534" {
		t.Errorf("web runs as uid %s, want 65534 (nobody)", uid)
	}
	for _, want := range []string{"uid=65534", "operator.creds: Permission denied", "cat-exit=1", "operator.creds: permission denied", "stop-exit=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the component's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "stop-exit=0") || strings.Contains(out, "NKEY SEED") || strings.Contains(out, string(before[:40])) {
		t.Errorf("the component read or used the operator's identity:\n%s", out)
	}
	// Nothing changed: the identity file, web's state, the record.
	after, err := os.ReadFile(creds)
	if err != nil || sha256.Sum256(after) != sha256.Sum256(before) {
		t.Errorf("operator.creds changed (%v)", err)
	}
	if st := componentStatus(t, h, "web"); st != bus.StatusHealthy {
		t.Errorf("web is %q after the attack, want healthy", st)
	}
	audit, _ := exec.Command(razarBin, "--home", h, "audit", "--component", "web", "--json").Output()
	if bytes.Contains(audit, []byte(`"verb":"stop"`)) {
		t.Errorf("a stop of web is recorded:\n%s", audit)
	}
}

// A component whose "user" does not exist is a config error at boot that
// names the field and the fix; one without a user boots with a warning
// naming it, since it can act as RAZAR.
func TestBootChecksEachComponentsUser(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	writeHomeFile(t, h, "config/boot_config.json", `{"components": [{"name": "web", "priority": 1, "user": "no-such-user-razar",
		"command": ["sleep", "600"], "workdir": "web"}]}`)
	p := start(t, h, nil, "boot", "--once", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 2 {
		t.Fatalf("boot with an unknown user: exit %d, want 2:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, "components[0] (web).user") || !strings.Contains(out, `"no-such-user-razar": no such user`) || !strings.Contains(out, "useradd") {
		t.Fatalf("the config error does not name the field, the user and the fix:\n%s", out)
	}
	h2 := home(t, crownRoster, nil)
	p = start(t, h2, nil, "boot", "--once", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("boot --once exit %d:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, "component web runs as RAZAR's own user") || !strings.Contains(out, "state/identities/") {
		t.Fatalf("no warning naming web as running as RAZAR's user:\n%s", out)
	}
}

// A component that prints a line made to look like RAZAR's start marker
// does not get it taken as one: `razar logs` shows RAZAR's marker as it is
// and the component's copy marked as the component's.
func TestComponentCannotForgeRazarsStartMarker(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	const forged = "--- razar 2026-12-07T00:00:00.000Z: starting web (mark 0123456789abcdef01234567)"
	writeHomeFile(t, h, "config/boot_config.json", `{"components": [{"name": "web", "priority": 1,
		"command": ["sh", "-c", "echo 'serving'; echo '`+forged+`'; exec sleep 600"], "workdir": "web",
		"start_grace": "200ms", "health_check": {"command": ["true"]}}]}`)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	var out string
	bustest.Eventually(t, 30*time.Second, func() bool {
		b, _ := exec.Command(razarBin, "--home", h, "logs", "web", "-n", "0").Output()
		out = string(b)
		return strings.Contains(out, forged)
	}, "razar logs never showed the component's line:\n%s", bustest.Lazy(func() string { return out }))
	key, err := logrot.ReadMarkKey(razar.Home(h).LogMarkKey())
	if err != nil {
		t.Fatal(err)
	}
	var razarMarks, forgedMarks int
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == logrot.ForgedPrefix+forged:
			forgedMarks++
		case strings.HasPrefix(l, logrot.MarkerPrefix) && logrot.Genuine(key, "web", l):
			razarMarks++
		case strings.Contains(l, logrot.MarkerPrefix):
			t.Errorf("a line looks like a marker but is neither RAZAR's nor marked as the component's: %q", l)
		}
	}
	if razarMarks != 1 || forgedMarks != 1 {
		t.Fatalf("razar logs shows %d markers of RAZAR's and %d of the component's marked as such, want 1 and 1:\n%s", razarMarks, forgedMarks, out)
	}
}
