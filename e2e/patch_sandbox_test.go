package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
	"github.com/razar/razar/supervisor"
)

// plantedSeed stands for the account seed under state/identities/.trust/.
const plantedSeed = "SAAPLANTEDACCOUNTSEEDE2EDONOTLEAKQ4VXJ2M3L"

// evilPython is the test file of issue 18's finding 1 and 2, as a rung's
// diff adds it beside the component's own tests: run by `python3 -m
// unittest discover -s tests`, it writes into the real workdir, rewrites
// the protected health check, writes under config/ and state/identities/,
// reads the seed and the operator's creds and prints them; then it fails,
// so nothing is promoted and every file must be as it was.
const evilPython = `import glob, os, unittest

H = %q
W = %q


def attempt(what, fn):
    try:
        fn()
        print("GOT:", what)
    except Exception as e:
        print("denied:", what, type(e).__name__)


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)


def show(path):
    with open(path) as f:
        print(f.read())


class TestEvil(unittest.TestCase):
    def test_evil(self):
        attempt("write the workdir", lambda: write(W + "/pwned.txt", "pwned"))
        attempt("rewrite the health check", lambda: write(W + "/health.sh", "#!/bin/sh\nexit 0\n"))
        attempt("write config", lambda: write(H + "/config/razar.env", "RAZAR_SANDBOX=weak\n", "a"))
        attempt("write identities", lambda: write(H + "/state/identities/evil.creds", "x"))
        for f in [H + "/state/identities/.trust/account-razar.nk", H + "/state/identities/operator.creds"] + glob.glob(H + "/state/identities/.trust/*"):
            attempt("read " + f, lambda f=f: show(f))
        print("the workdir path shows the copy:", os.path.exists(W) and os.stat(W).st_ino == os.stat(".").st_ino)
        print("uid=%%d" %% os.getuid())
        self.fail("failing on purpose: nothing may be promoted")
`

// evilShell is evilPython for a host without python3.
const evilShell = `#!/bin/sh
H=%q
W=%q
try() { if sh -c "$1" 2>/dev/null; then echo "GOT: $2"; else echo "denied: $2"; fi; }
try "echo pwned > $W/pwned.txt" "write the workdir"
try "printf '#!/bin/sh\nexit 0\n' > $W/health.sh" "rewrite the health check"
try "echo RAZAR_SANDBOX=weak >> $H/config/razar.env" "write config"
try "echo x > $H/state/identities/evil.creds" "write identities"
try "cat $H/state/identities/.trust/account-razar.nk $H/state/identities/operator.creds" "read the seed"
[ -d "$W" ] && [ "$(stat -c %%i "$W")" = "$(stat -c %%i .)" ] && echo "the workdir path shows the copy: True"
echo "uid=$(id -u)"
exit 1
`

// TestHostileTestFileCannotEscapeValidation is issue 18's finding 1 and 2
// end to end: a rung's diff adds a test file that the component's
// unremarkable validate command runs before any approval. Every write it
// tries outside its copy is denied (at the workdir's path it finds its
// copy), the real workdir (with its protected health check), config/ and
// state/identities/ are byte for byte as they were with no new file, the account seed and the operator's creds appear
// in no record, and the record says the validator ran in the sandbox as a
// non-root uid.
func TestHostileTestFileCannotEscapeValidation(t *testing.T) {
	workdir := t.TempDir()
	validate, name, evil := sh(`for f in tests/*.sh; do sh "$f" || exit 1; done`), "tests/test_evil.sh", evilShell
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		validate, name, evil = []string{"python3", "-m", "unittest", "discover", "-s", "tests"}, "tests/test_evil.py", evilPython
	}
	files := map[string]string{
		"app.conf":               "port=bad\n",
		"health.sh":              "#!/bin/sh\ngrep -q '^port=ok$' app.conf\n",
		"tests/test_app.py":      "import unittest\n\n\nclass TestApp(unittest.TestCase):\n    def test_conf(self):\n        self.assertIn('port=', open('app.conf').read())\n",
		"tests/test_app_conf.sh": "#!/bin/sh\ngrep -q port= app.conf\n",
	}
	for n, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(workdir, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(workdir, n), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var home string // known once the mesh is made; the rung answers after that
	kimicho := razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
		body := fmt.Sprintf(evil, home, workdir)
		diff := fmt.Sprintf("--- /dev/null\n+++ b/%s\n@@ -0,0 +1,%d @@\n", name, strings.Count(body, "\n"))
		for line := range strings.Lines(body) {
			diff += "+" + line
		}
		return razar.Fix{Status: razar.StatusFixed, Summary: "add a test", Diff: diff}, nil
	})
	b := newBootMesh(t, []config.Component{{
		Name: "app", Priority: 1, Workdir: workdir,
		Command:     sh("grep -q '^port=ok$' app.conf || { echo bad port >&2; exit 1; }; exec sleep 600"),
		HealthCheck: &razar.HealthCheck{Command: []string{"sh", "./health.sh"}},
		Validate:    validate,
	}}, fiveRungs(map[string]rung{"kimicho": {backend: kimicho}}), orchestrator.Config{Threshold: 0}, supervisor.Config{})
	home = b.home
	for p, body := range map[string]string{
		"config/razar.env":                         "RAZAR_LOG_LEVEL=info\n",
		"state/identities/.trust/account-razar.nk": plantedSeed + "\n",
		"state/identities/operator.creds":          "-----BEGIN NATS USER JWT-----\neyJPLANTEDOPERATORJWT\n------END NATS USER JWT------\n" + plantedSeed + "\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(home, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, p), []byte(p+body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The roster snapshot RAZAR itself writes at boot lives in config/
	// too: it is made first, so that config/ is then RAZAR's alone to change.
	if err := os.WriteFile(razar.Home(home).RosterSnapshot(), []byte(rosterJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	watched := []string{workdir, filepath.Join(home, "config"), filepath.Join(home, "state", "identities")}
	before := map[string]string{}
	for _, d := range watched {
		before[d] = treeHash(t, d)
	}

	if err := b.sup.Boot(context.Background()); !errors.Is(err, supervisor.ErrBootHalted) {
		t.Fatalf("boot: %v, want it halted (the only fix fails its own test)", err)
	}
	for _, d := range watched {
		if treeHash(t, d) != before[d] {
			ents, _ := os.ReadDir(d)
			t.Errorf("%s changed while a rung's test file ran (now %v)", d, ents)
		}
	}
	if _, err := os.Stat(filepath.Join(workdir, "pwned.txt")); err == nil {
		t.Error("the test file wrote pwned.txt into the real workdir")
	}
	recs := incidentRecords(b)
	all, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{plantedSeed, "PLANTEDOPERATORJWT"} {
		if strings.Contains(string(all), leak) {
			t.Errorf("a record carries %q", leak)
		}
	}
	var proposal *bus.AuditRecord
	for i := range recs {
		if recs[i].Event == bus.EventPatch {
			proposal = &recs[i]
		}
	}
	if proposal == nil {
		t.Fatalf("no patch record: %v", events(recs, bus.EventPatch, bus.EventRejected))
	}
	t.Logf("the test file's report (output_tail):\n%s", proposal.OutputTail)
	if proposal.Validation != "failed" {
		t.Errorf("validation %q, want failed (the test file fails on purpose)", proposal.Validation)
	}
	for _, want := range []string{"write the workdir", "rewrite the health check", "denied: write config", "denied: write identities", "uid="} {
		if !strings.Contains(proposal.OutputTail, want) {
			t.Errorf("output_tail lacks %q: did the test file run?", want)
		}
	}
	// At the workdir's path the validator finds its own copy (so that a
	// validate command naming the workdir judges the patch): writes there
	// land in the copy, as the unchanged workdir above shows.
	if strings.Contains(proposal.OutputTail, "GOT: write the workdir") && !strings.Contains(proposal.OutputTail, "the workdir path shows the copy: True") {
		t.Errorf("the test file wrote at the workdir's path, which is not its copy:\n%s", proposal.OutputTail)
	}
	for _, got := range []string{"GOT: write config", "GOT: write identities", "GOT: read", "uid=0\n"} {
		if strings.Contains(proposal.OutputTail, got) {
			t.Errorf("the test file got out (%q), or ran as root:\n%s", got, proposal.OutputTail)
		}
	}
	if !strings.HasPrefix(proposal.Sandbox, "sandbox: ") || strings.Contains(proposal.Sandbox, "uid 0,") || proposal.Message != "" {
		t.Errorf("patch record sandbox %q, message %q: want the sandbox, a non-root uid, no weak note", proposal.Sandbox, proposal.Message)
	}
}

// TestPatchIsRefusedWhenTheSandboxCannotBeBuilt: when the validation
// sandbox cannot be built (here a sandbox uid that is no uid), the rung's
// diff is refused unvalidated: its validator never runs (no output), the
// rejection says why, and the workdir is unchanged.
func TestPatchIsRefusedWhenTheSandboxCannotBeBuilt(t *testing.T) {
	workdir := t.TempDir()
	conf := "port=bad\n"
	if err := os.WriteFile(filepath.Join(workdir, "app.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	fix := razar.Fix{Status: razar.StatusFixed, Summary: "right value", Diff: rewrite("app.conf", conf, "port=ok\n")}
	b := newBootMesh(t, []config.Component{{
		Name: "app", Priority: 1, Workdir: workdir,
		Command:  sh("grep -q '^port=ok$' app.conf || { echo bad port >&2; exit 1; }; exec sleep 600"),
		Validate: sh("echo validator ran; grep -q port=ok app.conf"),
	}}, fiveRungs(map[string]rung{"kimicho": {backend: answer(fix)}}), orchestrator.Config{Threshold: 0, Sandbox: patch.Sandbox{UID: -1}}, supervisor.Config{})
	before := treeHash(t, workdir)

	if err := b.sup.Boot(context.Background()); !errors.Is(err, supervisor.ErrBootHalted) {
		t.Fatalf("boot: %v, want it halted (the only fix could not be validated)", err)
	}
	if treeHash(t, workdir) != before {
		t.Error("the workdir changed although the patch was never validated")
	}
	recs := incidentRecords(b)
	if got := strings.Join(events(recs, bus.EventApplied, bus.EventRejected), " "); got != "rejected:rejected" {
		t.Fatalf("patch history: %s", got)
	}
	for _, r := range recs {
		if r.Event == bus.EventRejected && !strings.Contains(r.Reason, "validation refused") {
			t.Errorf("rejection reason %q, want it to say validation was refused", r.Reason)
		}
		if r.Event == bus.EventPatch && (r.OutputTail != "" || r.Sandbox != "") {
			t.Errorf("patch record output %q, sandbox %q: the validator ran", r.OutputTail, r.Sandbox)
		}
	}
}
