package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// The identity attacks of issue 18 (items 3, 4 and 7), from outside: a
// client with creds files, a process of another user, a boot.

// copyCreds keeps a copy of identity ident's creds file, as whoever was
// handed it would, and returns its path.
func copyCreds(t *testing.T, h, ident string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h, "state/identities", ident+".creds"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), ident+".creds")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// refusedAuth reports whether a connect was refused for its identity
// (the server says authorization violation, expired or revoked), not for
// any other reason.
func refusedAuth(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) ||
		strings.Contains(msg, "authentication expired") || strings.Contains(msg, "authentication revoked")
}

// TestIdentitiesEndFromOutside boots a home whose trust root is still
// where homes before this version kept it, then attacks its identities.
func TestIdentitiesEndFromOutside(t *testing.T) {
	h := home(t, attackRoster, nil)
	// A home from before: carol minted, the seeds in state/identities/.trust.
	if out, code := runRazar(t, h, nil, "identity", "add", "carol", "--role", "operator"); code != 0 {
		t.Fatalf("identity add carol: exit %d\n%s", code, out)
	}
	if err := os.Rename(filepath.Join(h, "state/trust"), filepath.Join(h, "state/identities/.trust")); err != nil {
		t.Fatal(err)
	}
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0", "--agents", "external")
	bustest.Eventually(t, 20*time.Second, func() bool { return componentStatus(t, h, "web") == bus.StatusHealthy }, "web never became healthy")
	owner := mustDial(t, h, url, "orchestrator")
	js, err := natsjs.New(owner.nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		name string
		run  func(t *testing.T, h, url string, js natsjs.JetStream)
	}{
		{"TrustRootMovedOutOfTheIdentitiesLosingNothing", trustRootMovedOutOfTheIdentitiesLosingNothing},
		{"AnotherUserCannotReadTheTrustRoot", anotherUserCannotReadTheTrustRoot},
		{"ComponentInheritsNoSeed", componentInheritsNoSeed},
		{"ForgedIssuerJWTIsRefusedAtConnect", forgedIssuerJWTIsRefusedAtConnect},
		{"ExpiredIdentityIsRefusedAtConnect", expiredIdentityIsRefusedAtConnect},
		{"RevokedIdentityIsCutOffWhileRunning", revokedIdentityIsCutOffWhileRunning},
	} {
		t.Run(a.name, func(t *testing.T) { a.run(t, h, url, js) })
	}
}

// trustRootMovedOutOfTheIdentitiesLosingNothing: after the boot the seeds
// are in state/trust/ (0700, 0600), state/identities/ holds none, and
// carol, minted before the move, still connects and is listed.
func trustRootMovedOutOfTheIdentitiesLosingNothing(t *testing.T, h, url string, _ natsjs.JetStream) {
	if _, err := os.Lstat(filepath.Join(h, "state/identities/.trust")); !os.IsNotExist(err) {
		t.Fatalf("state/identities/.trust is still there: %v", err)
	}
	root := filepath.Join(h, "state/trust")
	st, err := os.Stat(root)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v, want 0700", root, err)
	}
	for _, f := range []string{"account-razar.nk", "account-sys.nk", "nats-operator.nk", "account-control.nk", "control.creds"} {
		st, err := os.Stat(filepath.Join(root, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want 0600", f, err)
		}
	}
	for _, f := range []string{"operator.creds", "carol.creds"} {
		if st, err := os.Stat(filepath.Join(h, "state/identities", f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want 0600", f, err)
		}
	}
	carol := mustDial(t, h, url, "carol", nats.NoReconnect())
	if _, err := carol.nc.Request(bus.LifecycleSubject(bus.VerbStatus, "web"), []byte(`{"v":1}`), 5*time.Second); err != nil {
		t.Fatalf("carol, minted before the move, cannot ask status: %v", err)
	}
}

// anotherUserCannotReadTheTrustRoot: a process of another user (what a
// component should run as) reads a world-readable file of the home but
// not the account seed.
func anotherUserCannotReadTheTrustRoot(t *testing.T, h, _ string, _ natsjs.JetStream) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	// Let the other user reach state/: only the trust root's own mode
	// stands between it and the seed.
	for _, d := range []string{filepath.Dir(h), h, filepath.Join(h, "state")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = os.Chmod(h, 0o700); _ = os.Chmod(filepath.Dir(h), 0o700) })
	control := filepath.Join(h, "state", "readable.txt")
	if err := os.WriteFile(control, []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(h, "state/trust/account-razar.nk")
	before, _ := os.ReadFile(seed)
	asNobody := func(path string) (string, error) {
		cmd := exec.Command("cat", path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := asNobody(control); err != nil || out != "ok\n" {
		t.Fatalf("the other user cannot read a readable file (%v): %s", err, out)
	}
	if out, err := asNobody(seed); err == nil || strings.Contains(out, strings.TrimSpace(string(before))) {
		t.Fatalf("the other user read the account seed: %s", out)
	}
	if after, _ := os.ReadFile(seed); string(after) != string(before) {
		t.Fatal("the seed changed")
	}
}

// componentInheritsNoSeed: the component RAZAR started holds no open
// descriptor into the trust root and no seed in its environment.
func componentInheritsNoSeed(t *testing.T, h, _ string, _ natsjs.JetStream) {
	out, _, _ := runCLI(t, "--home", h, "status", "--json")
	var v bus.StatusView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	pid := 0
	for _, c := range v.Mission.Components {
		if c.Name == "web" {
			pid = c.PID
		}
	}
	if pid == 0 {
		t.Fatalf("no pid for web:\n%s", out)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot read web's descriptors: %v", err)
	}
	for _, fd := range fds {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); strings.Contains(target, "state/trust") || strings.Contains(target, "identities") {
			t.Errorf("web holds fd %s open on %s", fd.Name(), target)
		}
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := os.ReadFile(filepath.Join(h, "state/trust/account-razar.nk"))
	for _, kv := range strings.Split(string(env), "\x00") {
		_, val, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(val, "SA") || strings.HasPrefix(val, "SO") || strings.HasPrefix(val, "SU") || strings.Contains(kv, strings.TrimSpace(string(seed))) || strings.Contains(kv, ".creds") {
			t.Errorf("web's environment holds %q", kv)
		}
	}
}

// forgedIssuerJWTIsRefusedAtConnect: a user JWT signed by a key of the
// attacker's own that claims issuer_account RAZAR is refused by the
// server; web is as it was.
func forgedIssuerJWTIsRefusedAtConnect(t *testing.T, h, url string, _ natsjs.JetStream) {
	b, _ := os.ReadFile(filepath.Join(h, "state/identities/operator.creds"))
	tok, _ := jwt.ParseDecoratedJWT(b)
	real, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := nkeys.CreateAccount()
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name, uc.IssuerAccount = "operator", real.Issuer
	uc.Tags.Add("razar-role:operator")
	uc.Permissions = real.Permissions
	forged, err := uc.Encode(foreign)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	_, err = nats.Connect(url, nats.UserJWTAndSeed(forged, string(seed)), nats.NoReconnect())
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connect with a forged-issuer JWT: %v, want an authorization violation", err)
	}
	if st := componentStatus(t, h, "web"); st != bus.StatusHealthy {
		t.Fatalf("web is %q, want healthy", st)
	}
}

// expiredIdentityIsRefusedAtConnect: an operator identity past its
// expiry, and one minted with --expires 2s once its time is up, cannot
// connect; the stop it would send never happens.
func expiredIdentityIsRefusedAtConnect(t *testing.T, h, url string, _ natsjs.JetStream) {
	tr, err := auth.Open(razar.Home(h).Identities())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Mint("erin", auth.Operator, nil, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := dialAs(t, h, url, "erin", nats.NoReconnect()); !refusedAuth(err) {
		t.Fatalf("connect as an expired identity: %v, want refused", err)
	}
	if out, code := runRazar(t, h, nil, "identity", "add", "frank", "--role", "operator", "--expires", "2s"); code != 0 {
		t.Fatalf("identity add frank --expires 2s: exit %d\n%s", code, out)
	}
	var last error
	bustest.Eventually(t, 15*time.Second, func() bool {
		a, err := dialAs(t, h, url, "frank", nats.NoReconnect())
		if err == nil {
			a.nc.Close()
		}
		last = err
		return err != nil
	}, "frank still connects after his identity expired")
	if !refusedAuth(last) {
		t.Fatalf("frank refused with %v, want an authorization refusal", last)
	}
	out, code := runRazar(t, h, nil, "--creds", filepath.Join(h, "state/identities/frank.creds"), "stop", "web")
	if code == 0 || componentStatus(t, h, "web") != bus.StatusHealthy {
		t.Fatalf("stop as an expired identity: exit %d, web %s\n%s", code, componentStatus(t, h, "web"), out)
	}
	list, _ := runRazar(t, h, nil, "identity", "list")
	if !strings.Contains(list, "(expired)") {
		t.Fatalf("identity list does not show the expiry:\n%s", list)
	}
}

// revokedIdentityIsCutOffWhileRunning: `razar identity revoke` closes the
// connection the identity holds, with no restart; a copy of its creds
// file no longer connects, so its stop never happens; the list shows it
// revoked with its key; other identities are untouched.
func revokedIdentityIsCutOffWhileRunning(t *testing.T, h, url string, _ natsjs.JetStream) {
	if out, code := runRazar(t, h, nil, "identity", "add", "mallory", "--role", "operator"); code != 0 {
		t.Fatalf("identity add: exit %d\n%s", code, out)
	}
	kept := copyCreds(t, h, "mallory")
	key := credsKey(t, h, "mallory")
	closed := make(chan struct{})
	nc, err := nats.Connect(url, nats.UserCredentials(kept), nats.NoReconnect(), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatalf("mallory cannot connect before the revocation: %v", err)
	}
	defer nc.Close()
	out, code := runRazar(t, h, nil, "identity", "revoke", "mallory")
	if code != 0 || !strings.Contains(out, "closed its connections") {
		t.Fatalf("identity revoke: exit %d\n%s", code, out)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked identity's connection is still open")
	}
	if _, err := nats.Connect(url, nats.UserCredentials(kept), nats.NoReconnect()); !refusedAuth(err) {
		t.Fatalf("a kept copy of the revoked creds: %v, want refused", err)
	}
	out, code = runRazar(t, h, nil, "--creds", kept, "stop", "web")
	if code == 0 || componentStatus(t, h, "web") != bus.StatusHealthy {
		t.Fatalf("stop with revoked creds: exit %d\n%s", code, out)
	}
	list, _ := runRazar(t, h, nil, "identity", "list")
	var line string
	for l := range strings.Lines(list) {
		if strings.HasPrefix(l, "mallory ") {
			line = l
		}
	}
	if !strings.Contains(line, key) || strings.HasSuffix(strings.TrimSpace(line), " -") {
		t.Fatalf("identity list does not show mallory revoked with her key:\n%s", list)
	}
	mustDial(t, h, url, "operator", nats.NoReconnect()) // the others are untouched
}

// TestBootRefusesATrustRootOrOperatorCredsOthersCanRead: a trust root
// its group can read, or an operator creds file others can read, stops
// `razar boot` with one line naming it and the chmod that fixes it;
// nothing was minted or changed in the identities and the trust root.
func TestBootRefusesATrustRootOrOperatorCredsOthersCanRead(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		path, fix string
		mode      os.FileMode
	}{
		{"state/trust", "chmod 700", 0o750},
		{"state/trust/account-razar.nk", "chmod 600", 0o640},
		{"state/identities/operator.creds", "chmod 600", 0o644},
	} {
		h := home(t, crownRoster, nil)
		if out, code := runRazar(t, h, nil, "identity", "add", "carol", "--role", "operator"); code != 0 {
			t.Fatalf("identity add: exit %d\n%s", code, out)
		}
		if c.path == "state/identities/operator.creds" {
			if err := os.WriteFile(filepath.Join(h, c.path), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(h, c.path)
		if err := os.Chmod(p, c.mode); err != nil {
			t.Fatal(err)
		}
		ids := func() string {
			return strings.Join(entries(t, filepath.Join(h, "state/identities")), " ") + " | " + strings.Join(entries(t, filepath.Join(h, "state/trust")), " ")
		}
		before := ids()
		out, code := runRazar(t, h, nil, "boot", "--once", "--nats-listen", "127.0.0.1:0")
		if code == 0 || !strings.Contains(out, p) || !strings.Contains(out, c.fix+" "+p) {
			t.Fatalf("%s %v: exit %d, want a refusal naming it and %q\n%s", c.path, c.mode, code, c.fix, out)
		}
		if after := ids(); after != before {
			t.Fatalf("%s: a refused boot changed the identities:\nbefore %q\nafter  %q", c.path, before, after)
		}
	}
}

// TestIdentityAddRefusesAnExpiryThatIsNotOne: --expires must be a positive
// age of at most 730d; anything else is exit 2 naming the flag and what
// it wants, and nothing is minted. The default is 90 days.
func TestIdentityAddRefusesAnExpiryThatIsNotOne(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	for _, bad := range []string{"0", "-1", "never", "731d", "-5h"} {
		out, code := runRazar(t, h, nil, "identity", "add", "alice", "--role", "operator", "--expires", bad)
		if code != 2 || !strings.Contains(out, "--expires") || !strings.Contains(out, "730d") {
			t.Fatalf("--expires %s: exit %d, want 2 naming the flag\n%s", bad, code, out)
		}
		if _, err := os.Stat(filepath.Join(h, "state/identities/alice.creds")); !os.IsNotExist(err) {
			t.Fatalf("--expires %s minted alice: %v", bad, err)
		}
	}
	out, code := runRazar(t, h, nil, "identity", "add", "alice", "--role", "observer")
	if code != 0 {
		t.Fatalf("identity add: exit %d\n%s", code, out)
	}
	want := time.Now().Add(auth.DefaultExpiry).UTC().Format("2006-01-02")
	if !strings.Contains(out, "expires "+want) {
		t.Fatalf("identity add without --expires does not expire in 90 days (%s):\n%s", want, out)
	}
}
