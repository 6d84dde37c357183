package auth_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/razar/razar/auth"
)

// TestTrustRootLivesOutsideTheIdentitiesPrivately: the seeds are in
// state/trust/ (0700, files 0600), nothing of them under state/identities/,
// which operators hand out.
func TestTrustRootLivesOutsideTheIdentitiesPrivately(t *testing.T) {
	tr, dir := openTrust(t)
	if _, err := tr.Ensure(nil); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(filepath.Dir(dir), "trust")
	if tr.Root() != root {
		t.Fatalf("trust root %s, want %s", tr.Root(), root)
	}
	st, err := os.Stat(root)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v %v, want 0700", root, st, err)
	}
	des, _ := os.ReadDir(root)
	var seeds []string
	for _, de := range des {
		info, _ := de.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", de.Name(), info.Mode().Perm())
		}
		seeds = append(seeds, de.Name())
	}
	if !slices.Contains(seeds, "account-razar.nk") || !slices.Contains(seeds, "control.creds") {
		t.Fatalf("trust root holds %v", seeds)
	}
	// No operator or account seed (SO..., SA...) anywhere under the identities.
	err = filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		b, _ := os.ReadFile(p)
		for line := range strings.Lines(string(b)) {
			if strings.HasPrefix(line, "SO") || strings.HasPrefix(line, "SA") {
				t.Errorf("a signing seed under the identities: %s", p)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenMovesALegacyTrustRootLosingNothing: a home whose seeds are still
// in state/identities/.trust/ keeps its identities valid after Open moves
// them to state/trust/, and .trust is gone.
func TestOpenMovesALegacyTrustRootLosingNothing(t *testing.T) {
	tr, dir := openTrust(t)
	if _, err := tr.Ensure(nil); err != nil {
		t.Fatal(err)
	}
	// Put the trust root back where homes before this version had it.
	legacy := filepath.Join(dir, ".trust")
	if err := os.Rename(tr.Root(), legacy); err != nil {
		t.Fatal(err)
	}
	seed, _ := os.ReadFile(filepath.Join(legacy, "account-razar.nk"))
	again, err := auth.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Moved()) == 0 {
		t.Fatal("Open moved nothing")
	}
	if _, err := os.Lstat(legacy); !os.IsNotExist(err) {
		t.Fatalf("%s still there: %v", legacy, err)
	}
	if now, _ := os.ReadFile(filepath.Join(again.Root(), "account-razar.nk")); string(now) != string(seed) {
		t.Fatal("the account seed changed in the move")
	}
	if _, err := again.Identify(userJWT(t, again.Path("operator")), ""); err != nil {
		t.Fatalf("an identity minted before the move does not verify after it: %v", err)
	}
}

// TestOpenRefusesATrustRootOrCredsOthersCanRead: a group- or
// world-readable trust root, seed or creds file is refused with the chmod
// that fixes it, and nothing is minted.
func TestOpenRefusesATrustRootOrCredsOthersCanRead(t *testing.T) {
	for _, c := range []struct {
		name string
		path func(tr *auth.Trust) string
		mode os.FileMode
	}{
		{"root", func(tr *auth.Trust) string { return tr.Root() }, 0o750},
		{"seed", func(tr *auth.Trust) string { return filepath.Join(tr.Root(), "account-razar.nk") }, 0o640},
		{"operator", func(tr *auth.Trust) string { return tr.Path("operator") }, 0o644},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, dir := openTrust(t)
			if _, err := tr.Ensure(nil); err != nil {
				t.Fatal(err)
			}
			p := c.path(tr)
			if err := os.Chmod(p, c.mode); err != nil {
				t.Fatal(err)
			}
			_, err := auth.Open(dir)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "chmod") {
				t.Fatalf("Open = %v, want a refusal naming %s and chmod", err, p)
			}
		})
	}
}

// TestPeoplesIdentitiesExpireAndRenewOnlyTheHostsOwn: the standard
// operator gets an expiry, machine identities none; near its end Ensure
// re-signs the operator for the same key, and never a revoked one.
func TestPeoplesIdentitiesExpireAndRenewOnlyTheHostsOwn(t *testing.T) {
	tr, _ := openTrust(t)
	if _, err := tr.Ensure([]string{"k2"}); err != nil {
		t.Fatal(err)
	}
	list, err := tr.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		want := e.Role == auth.Operator || e.Role == auth.Observer
		if got := !e.Expires.IsZero(); got != want {
			t.Errorf("%s (%s): expires %v, want expiry %v", e.Name, e.Role, e.Expires, want)
		}
		if want && e.Expires.Sub(time.Now()) < auth.DefaultExpiry-time.Hour {
			t.Errorf("%s expires %v, want in %v", e.Name, e.Expires, auth.DefaultExpiry)
		}
	}
	// An operator whose JWT expires tomorrow is renewed, same key.
	p := tr.Path("operator")
	before := claims(t, p)
	resign(t, tr, p, time.Now().Add(24*time.Hour))
	done, err := tr.Ensure([]string{"k2"})
	if err != nil || !slices.Equal(done.Renewed, []string{"operator"}) {
		t.Fatalf("Ensure = %+v, %v; want operator renewed", done, err)
	}
	after := claims(t, p)
	if after.Subject != before.Subject || time.Until(time.Unix(after.Expires, 0)) < auth.DefaultExpiry-time.Hour {
		t.Fatalf("renewed operator: key %s (was %s), expires %v", after.Subject, before.Subject, time.Unix(after.Expires, 0))
	}
}

// TestRevokeListsTheKeyAndSignsItIntoTheAccount: a revoked identity's file
// is gone, the list shows it revoked with its key, the account JWT
// revokes its key, and Identify refuses it.
func TestRevokeListsTheKeyAndSignsItIntoTheAccount(t *testing.T) {
	tr, _ := openTrust(t)
	p, err := tr.Mint("alice", auth.Operator, nil, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tok := userJWT(t, p)
	key := claims(t, p).Subject
	r, err := tr.Revoke("alice", time.Now())
	if err != nil || r.Key != key {
		t.Fatalf("Revoke = %+v, %v", r, err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("alice's creds still there: %v", err)
	}
	list, _ := tr.List()
	i := slices.IndexFunc(list, func(e auth.Entry) bool { return e.Name == "alice" })
	if i < 0 || list[i].Revoked.IsZero() || list[i].Key != key {
		t.Fatalf("list: %+v", list)
	}
	_, acc, err := tr.AccountJWT()
	if err != nil {
		t.Fatal(err)
	}
	ac, err := jwt.DecodeAccountClaims(acc)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ac.Revocations[key]; !ok {
		t.Fatalf("account JWT revocations %v lack %s", ac.Revocations, key)
	}
	if _, err := tr.Identify(tok, ""); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("Identify of a revoked identity = %v", err)
	}
}

// TestIdentifyRefusesAForeignSignerClaimingTheAccount: a JWT signed by a
// key of the attacker's own that names account RAZAR as issuer_account
// (what a server that does not stamp the header would pass on) is
// refused; so is an expired one.
func TestIdentifyRefusesAForeignSignerClaimingTheAccount(t *testing.T) {
	tr, _ := openTrust(t)
	p, _ := tr.Mint("alice", auth.Operator, nil, time.Time{})
	real := claims(t, p)
	foreign, _ := nkeys.CreateAccount()
	uc := jwt.NewUserClaims(real.Subject)
	uc.Name = "alice"
	uc.Tags.Add("razar-role:operator")
	uc.IssuerAccount = real.Issuer // account RAZAR's key, claimed
	forged, err := uc.Encode(foreign)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := tr.Identify(forged, real.Subject); err == nil {
		t.Fatalf("a JWT signed by a foreign key claiming account RAZAR verified as %v", id)
	}
	q, _ := tr.Mint("bob", auth.Operator, nil, time.Now().Add(-time.Minute))
	if _, err := tr.Identify(userJWT(t, q), ""); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Identify of an expired identity = %v", err)
	}
}

func claims(t *testing.T, path string) *jwt.UserClaims {
	t.Helper()
	uc, err := jwt.DecodeUserClaims(userJWT(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return uc
}

// resign rewrites the creds at path with its own key and role, expiring
// at exp, signed by the home's account (read from the trust root).
func resign(t *testing.T, tr *auth.Trust, path string, exp time.Time) {
	t.Helper()
	b, _ := os.ReadFile(path)
	kp, err := jwt.ParseDecoratedNKey(b)
	if err != nil {
		t.Fatal(err)
	}
	uc := claims(t, path)
	uc.Expires = exp.Unix()
	seedb, _ := os.ReadFile(filepath.Join(tr.Root(), "account-razar.nk"))
	acc, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seedb))))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := uc.Encode(acc)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	data, _ := jwt.FormatUserConfig(tok, seed)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestExternalSignersAreTheSigningKeyAndItsAccount: on an external bus
// whose account signs with a signing key, identities signed by that key
// verify; one signed by a foreign key claiming the account does not.
func TestExternalSignersAreTheSigningKeyAndItsAccount(t *testing.T) {
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	sk, _ := nkeys.CreateAccount()
	var last nkeys.KeyPair
	mint := func(signer nkeys.KeyPair, name, role string) (string, string) {
		u, _ := nkeys.CreateUser()
		last = u
		pub, _ := u.PublicKey()
		uc := jwt.NewUserClaims(pub)
		uc.Name, uc.IssuerAccount = name, accPub
		uc.Tags.Add("razar-role:" + role)
		tok, err := uc.Encode(signer)
		if err != nil {
			t.Fatal(err)
		}
		return tok, pub
	}
	orch, _ := mint(sk, "orchestrator", "orchestrator")
	s, _ := last.Seed()
	data, err := jwt.FormatUserConfig(orch, s)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "orchestrator.creds")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	signers, err := auth.SignerOf(p)
	if err != nil {
		t.Fatal(err)
	}
	op, opKey := mint(sk, "alice", "operator")
	if id, err := auth.IdentifyJWT(op, opKey, signers...); err != nil || id.Name != "alice" {
		t.Fatalf("an operator signed by the account's signing key: %v, %v", id, err)
	}
	foreign, _ := nkeys.CreateAccount()
	forged, forgedKey := mint(foreign, "alice", "operator")
	if _, err := auth.IdentifyJWT(forged, forgedKey, signers...); err == nil {
		t.Fatal("a JWT signed by a foreign key claiming the account verified")
	}
}
