package patch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"

	"github.com/razar/razar"
)

// plantedSeed stands for the account seed a hostile validator goes after.
const plantedSeed = "SAAPLANTEDACCOUNTSEEDDONOTLEAK7Q4VXJ2M3LSEED"

// fakeHome lays out a RAZAR home and a component's workdir beside it, as a
// host has them: config/, state/identities/ with the account seed under
// .trust/ and the operator's creds, state/staging/ (0700).
func fakeHome(t *testing.T) (home, workdir string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	home, workdir = filepath.Join(base, "razar"), filepath.Join(base, "app")
	files := map[string]string{
		home + "/config/razar.env":                         "KIMI2_API_KEY=sk-kimi2-planted-in-config\n",
		home + "/config/boot_config.json":                  `{"components": []}` + "\n",
		home + "/state/identities/.trust/account-razar.nk": plantedSeed + "\n",
		home + "/state/identities/operator.creds":          "-----BEGIN NATS USER JWT-----\neyJPLANTEDOPERATORJWT\n------END NATS USER JWT------\n" + plantedSeed + "\n",
		workdir + "/app.conf":                              "port=8080\n",
		workdir + "/health.sh":                             "#!/bin/sh\ngrep -q '^port=8080$' app.conf\n",
		workdir + "/check.sh":                              "#!/bin/sh\nfor f in tests/*.sh; do sh \"$f\" || exit 1; done\n",
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		perm := os.FileMode(0o600)
		if strings.HasSuffix(p, ".sh") {
			perm = 0o755
		}
		if err := os.WriteFile(p, []byte(body), perm); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(razar.Home(home).Staging(), 0o700); err != nil {
		t.Fatal(err)
	}
	return home, workdir
}

// snapshot is every path under root with its mode, owner and content hash.
func snapshot(t *testing.T, root string, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if skip != "" && (p == skip || strings.HasPrefix(p, skip+"/")) {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		sum := ""
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			sum = hex.EncodeToString(h[:])
		}
		out[p] = fmt.Sprintf("%v %d:%d %s", fi.Mode(), st.Uid, st.Gid, sum)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, b := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s: %s is gone", what, p)
		} else if a != b {
			t.Errorf("%s: %s changed: %s, was %s", what, p, a, b)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: new file %s", what, p)
		}
	}
}

// hostileTest is the test file a rung's diff adds: run by the validator,
// it tries everything issue 18 found, by absolute path and by climbing
// out of its copy, and prints what it got.
func hostileTest(home, workdir string) string {
	return fmt.Sprintf(`#!/bin/sh
H=%s
W=%s
try() { if "$@" 2>/dev/null; then echo "GOT: $*"; else echo "denied: $*"; fi; }
try sh -c "echo pwned > $W/pwned.txt"
try sh -c "printf '#!/bin/sh\nexit 0\n' > $W/health.sh"
try sh -c "echo RAZAR_SANDBOX=weak >> $H/config/razar.env"
try sh -c "echo x > $H/config/evil.json"
try sh -c "echo x > $H/state/identities/evil.creds"
try sh -c "echo x > ../../identities/evil.creds"
try sh -c "echo x > /etc/evil"
try sh -c "echo x > /usr/evil"
try mkdir /evil
for f in $H/state/identities/.trust/*.nk $H/state/identities/operator.creds ../../identities/.trust/account-razar.nk ../../identities/operator.creds; do
  cat "$f" 2>/dev/null && echo "GOT: read $f"
done
ls -a $H $W .. ../.. 2>/dev/null | sed 's/^/listing: /'
echo "uid=$(id -u) gid=$(id -g)"
grep '^Cap\(Eff\|Prm\|Bnd\|Amb\)' /proc/self/status
echo ok > wrote-copy && echo "wrote its copy"
echo ok > /tmp/wrote-tmp && echo "wrote /tmp"
exit 0
`, home, workdir)
}

// stageHostile stages, in a fake home, a rung's diff that adds
// hostileTest as tests/test_evil.sh, which the workdir's protected
// check.sh runs.
func stageHostile(t *testing.T) (home, workdir, stage string) {
	t.Helper()
	home, workdir = fakeHome(t)
	body := hostileTest(home, workdir)
	diff := fmt.Sprintf("--- /dev/null\n+++ b/tests/test_evil.sh\n@@ -0,0 +1,%d @@\n", strings.Count(body, "\n"))
	for line := range strings.Lines(body) {
		diff += "+" + line
	}
	plan, err := Check(diff, workdir, Limits{Protected: []Protection{{Path: "health.sh", Why: "the health check"}, {Path: "check.sh", Why: "the validate program"}}})
	if err != nil {
		t.Fatal(err)
	}
	stage, cleanup, err := Stage(plan, workdir, razar.Home(home).Staging())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return home, workdir, stage
}

// TestHostileTestFileSeesOnlyItsCopy is finding 1 and 2 of issue 18: a
// rung's diff adds a test file the validate command runs, which writes
// into the real workdir, rewrites the health check, writes under config/
// and state/identities/, and reads the account seed and the operator's
// creds. In the sandbox every one of those is denied: the home and the
// workdir are byte for byte what they were, with no new file, the seed is
// in no output, and the command ran as an unprivileged uid with no
// capabilities, while it could still write its copy and /tmp.
func TestHostileTestFileSeesOnlyItsCopy(t *testing.T) {
	home, workdir, stage := stageHostile(t)
	homeBefore := snapshot(t, home, razar.Home(home).Staging())
	workBefore := snapshot(t, workdir, "")

	res, err := Sandbox{}.Validate(context.Background(), []string{"./check.sh"}, stage, nil, 30*time.Second)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, res.Output)
	}
	t.Logf("the hostile test file's report:\n%s", res.Output)
	t.Logf("isolation: %s", res.Isolation)

	sameSnapshot(t, "the RAZAR home", homeBefore, snapshot(t, home, razar.Home(home).Staging()))
	sameSnapshot(t, "the real workdir", workBefore, snapshot(t, workdir, ""))
	for _, leak := range []string{plantedSeed, "PLANTEDOPERATORJWT", "sk-kimi2-planted"} {
		if strings.Contains(res.Output, leak) {
			t.Errorf("the validator's output carries %q", leak)
		}
	}
	if strings.Contains(res.Output, "GOT:") {
		t.Errorf("the validator got something it must not:\n%s", res.Output)
	}
	if strings.Contains(res.Output, "uid=0 ") || !strings.Contains(res.Output, "uid=") {
		t.Errorf("the validator ran as root, or did not say:\n%s", res.Output)
	}
	if !strings.Contains(res.Output, "CapEff:\t0000000000000000") || !strings.Contains(res.Output, "CapBnd:\t0000000000000000") {
		t.Errorf("the validator holds capabilities:\n%s", res.Output)
	}
	// The control: the copy and /tmp were writable, and the copy is
	// RAZAR's again after the run.
	if !strings.Contains(res.Output, "wrote its copy") || !strings.Contains(res.Output, "wrote /tmp") {
		t.Errorf("the validator could not write its copy or /tmp:\n%s", res.Output)
	}
	fi, err := os.Lstat(filepath.Join(stage, "wrote-copy"))
	if err != nil {
		t.Fatalf("the file the validator wrote in its copy: %v", err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() {
		t.Errorf("after the run %s belongs to uid %d, want RAZAR's %d", "wrote-copy", st.Uid, os.Getuid())
	}
	if !res.Isolation.Sandboxed || res.Isolation.UID == 0 {
		t.Errorf("isolation %+v, want the full sandbox as a non-root uid", res.Isolation)
	}
	if v, err := llsys.LandlockGetABIVersion(); err == nil && v > 0 && res.Isolation.Landlock != v {
		t.Errorf("Landlock ABI %d applied, the kernel has %d", res.Isolation.Landlock, v)
	}
}

// TestRefusedSandboxFailsClosed: where the sandbox cannot be built, the
// validate command does not run (the file it would write is not there) and
// the error says why and names the fix; with Weak it runs, and its
// Isolation says it ran weak and why.
func TestRefusedSandboxFailsClosed(t *testing.T) {
	testRefusal = "the kernel refused new namespaces (simulated)"
	t.Cleanup(func() { testRefusal = "" })
	argv := []string{"sh", "-c", "echo ran > ran.txt; echo validator ran"}

	dir := t.TempDir()
	res, err := Sandbox{}.Validate(context.Background(), argv, dir, nil, 10*time.Second)
	if !errors.Is(err, ErrSandboxRefused) {
		t.Fatalf("validate: %v, want ErrSandboxRefused", err)
	}
	var se *SandboxError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "simulated") || !strings.Contains(err.Error(), "RAZAR_SANDBOX=weak") {
		t.Errorf("error %q does not say why and the fix", err)
	}
	if errors.Is(err, ErrValidationFailed) {
		t.Errorf("a refused sandbox is not the patch failing validation: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran.txt")); err == nil || res.Output != "" {
		t.Fatalf("the validate command ran although the sandbox was refused (output %q)", res.Output)
	}

	res, err = Sandbox{Weak: true}.Validate(context.Background(), argv, dir, nil, 10*time.Second)
	if err != nil {
		t.Fatalf("weak validate: %v\n%s", err, res.Output)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran.txt")); err != nil {
		t.Errorf("weak mode did not run the command: %v", err)
	}
	if res.Isolation.Sandboxed || res.Isolation.Weak != testRefusal || !strings.Contains(res.Isolation.String(), "WEAK SANDBOX") {
		t.Errorf("weak isolation %+v (%q), want it to say weak and why", res.Isolation, res.Isolation)
	}
}

// TestSandboxSettingsThatWouldExposeTheHomeAreRefused: a read-only path
// holding the copy (and so the home) is refused in either mode, and
// nothing runs.
func TestSandboxSettingsThatWouldExposeTheHomeAreRefused(t *testing.T) {
	home, _ := fakeHome(t)
	dir := filepath.Join(razar.Home(home).Staging(), "p-1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	argv := []string{"sh", "-c", "echo ran > ran.txt"}
	for _, weak := range []bool{false, true} {
		_, err := Sandbox{Weak: weak, ReadOnly: []string{home}}.Validate(context.Background(), argv, dir, nil, 10*time.Second)
		if !errors.Is(err, ErrSandboxRefused) || !strings.Contains(err.Error(), home) {
			t.Errorf("weak %v: %v, want a refusal naming %s", weak, err, home)
		}
		if _, err := os.Stat(filepath.Join(dir, "ran.txt")); err == nil {
			t.Fatalf("weak %v: the command ran", weak)
		}
	}
}

// TestWeakSandboxLetsTheHostileTestFileOut is the control for
// TestHostileTestFileSeesOnlyItsCopy, and what RAZAR_SANDBOX=weak costs:
// run weak (the sandbox refused), the same test file rewrites the real
// health check and reads the seed, so the assertions above can fail.
func TestWeakSandboxLetsTheHostileTestFileOut(t *testing.T) {
	_, workdir, stage := stageHostile(t)
	testRefusal = "the kernel refused new namespaces (simulated)"
	t.Cleanup(func() { testRefusal = "" })
	res, err := Sandbox{Weak: true}.Validate(context.Background(), []string{"./check.sh"}, stage, nil, 30*time.Second)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, res.Output)
	}
	if !strings.Contains(res.Output, plantedSeed) || !strings.Contains(res.Output, "GOT: sh -c printf") {
		t.Errorf("weak: the test file neither read the seed nor rewrote the health check:\n%s", res.Output)
	}
	if b, _ := os.ReadFile(filepath.Join(workdir, "health.sh")); !strings.Contains(string(b), "exit 0") {
		t.Errorf("weak: health.sh is %q, want it rewritten", b)
	}
}

// TestUnprivilegedRazarGetsTheSandboxToo: a RAZAR that is not root builds
// the same sandbox in a user namespace of its own. Run as root, the test
// starts the test binary as uid 65534 standing in for such a RAZAR; its
// validator runs as that uid, without capabilities, writes its copy, and
// does not see the files beside its copy.
func TestUnprivilegedRazarGetsTheSandboxToo(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("run as root to stand in for an unprivileged RAZAR; as that RAZAR every other test here already is one")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("", "razar-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	bin, dir := filepath.Join(base, "patch.test"), filepath.Join(base, "stage")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		os.WriteFile(bin, b, 0o755), os.Mkdir(dir, 0o700), os.WriteFile(filepath.Join(base, "beside"), []byte("not yours\n"), 0o644),
		os.Chmod(base, 0o755), os.Chown(dir, DefaultSandboxID, DefaultSandboxID),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	argv := `["sh", "-c", "echo uid=$(id -u); grep CapEff /proc/self/status; echo ok > wrote && echo wrote its copy; cat ../beside || echo cannot see beside"]`
	razar := exec.Command(bin)
	razar.Env = []string{helperEnv + "=validate", "PATCH_TEST_ARGV=" + argv, "PATCH_TEST_DIR=" + dir, "PATH=" + os.Getenv("PATH")}
	razar.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: DefaultSandboxID, Gid: DefaultSandboxID}}
	out, err := razar.CombinedOutput()
	if err != nil {
		t.Fatalf("the unprivileged RAZAR: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{fmt.Sprintf("uid=%d\n", DefaultSandboxID), "CapEff:\t0000000000000000", "wrote its copy", "cannot see beside", "<nil>"} {
		if !strings.Contains(got, want) {
			t.Errorf("validation by an unprivileged RAZAR: no %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "not yours") {
		t.Errorf("the validator read the file beside its copy:\n%s", got)
	}
}

// TestWhatAValidatorLeavesInItsCopyCannotHangPromote: a validator that
// replaces a staged file with a FIFO or a symlink to /dev/zero (named, not
// reached, from inside) gets the patch refused at Promote at once, instead
// of RAZAR blocking on the FIFO or reading /dev/zero for ever; the workdir
// is unchanged.
func TestWhatAValidatorLeavesInItsCopyCannotHangPromote(t *testing.T) {
	for name, trick := range map[string]string{
		"fifo":              "rm app.conf && mkfifo app.conf",
		"symlink /dev/zero": "rm app.conf && ln -s /dev/zero app.conf",
	} {
		t.Run(name, func(t *testing.T) {
			workdir := newWorkdir(t)
			before := digest(t, workdir)
			plan, err := Check(diffModify, workdir, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			stage, cleanup, err := Stage(plan, workdir, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			if res, err := (Sandbox{}).Validate(context.Background(), []string{"sh", "-c", trick}, stage, nil, 10*time.Second); err != nil {
				t.Fatalf("validate: %v\n%s", err, res.Output)
			}
			done := make(chan error, 1)
			go func() { done <- Promote(plan, stage, workdir, filepath.Join(t.TempDir(), "backup")) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file") && !errors.Is(err, syscall.ELOOP) {
					t.Errorf("promote: %v, want the staged app.conf refused", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Promote hung on what the validator left in its copy")
			}
			if digest(t, workdir) != before {
				t.Errorf("workdir changed")
			}
		})
	}
}

// TestValidatorNamingTheWorkdirByAbsolutePathJudgesTheCopy: with Workdir
// set, a validate command given by absolute path into the real workdir
// runs the copy's program, reads the copy's patched files there, and what
// it writes there lands in the copy; the real workdir is unchanged.
func TestValidatorNamingTheWorkdirByAbsolutePathJudgesTheCopy(t *testing.T) {
	workdir := newWorkdir(t)
	before := digest(t, workdir)
	plan, err := Check(diffModify, workdir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	stage, cleanup, err := Stage(plan, workdir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	argv := []string{"sh", "-c", "cd " + workdir + " && ./check.sh && grep key17 app.conf && echo wrote > wrote.txt"}
	res, err := Sandbox{Workdir: workdir}.Validate(context.Background(), argv, stage, nil, 10*time.Second)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, res.Output)
	}
	if !strings.Contains(res.Output, "validate ok") || !strings.Contains(res.Output, "key17 = fixed") {
		t.Errorf("the validator did not judge the patched copy at %s:\n%s", workdir, res.Output)
	}
	if _, err := os.Stat(filepath.Join(stage, "wrote.txt")); err != nil {
		t.Errorf("what the validator wrote at the workdir's path is not in the copy: %v", err)
	}
	if digest(t, workdir) != before {
		t.Error("the real workdir changed")
	}
}
