package auth_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/mirror"
)

func openTrust(t *testing.T) (*auth.Trust, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "identities")
	tr, err := auth.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tr, dir
}

func userJWT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOpenCreatesPrivateFilesAndKeepsTheKeys: the directory is 0700, every
// creds file 0600, and a second Open signs with the same account key.
func TestOpenCreatesPrivateFilesAndKeepsTheKeys(t *testing.T) {
	tr, dir := openTrust(t)
	done, err := tr.Ensure([]string{"k2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"orchestrator", "operator", "observer", "control", "k2"}; !slices.Equal(done.Minted, want) {
		t.Fatalf("minted %v, want %v", done.Minted, want)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v %v, want 0700", dir, st.Mode(), err)
	}
	for _, n := range []string{"orchestrator", "operator", "observer", "k2"} {
		st, err := os.Stat(tr.Path(n))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, want 0600", tr.Path(n), err)
		}
	}
	again, err := auth.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Identify(userJWT(t, tr.Path("operator")), ""); err != nil {
		t.Fatalf("an identity minted before a reopen does not verify after it: %v", err)
	}
	if done, err := again.Ensure([]string{"k2"}); err != nil || len(done.Minted)+len(done.Renewed) != 0 {
		t.Fatalf("a second Ensure did %+v (%v), want nothing", done, err)
	}
}

// TestMintNeverReplacesAnIdentity: minting a name that exists fails with
// ErrExists and leaves the file as it was.
func TestMintNeverReplacesAnIdentity(t *testing.T) {
	tr, _ := openTrust(t)
	p, err := tr.Mint("alice", auth.Operator, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	if _, err := tr.Mint("alice", auth.Observer, nil, time.Time{}); !errors.Is(err, auth.ErrExists) {
		t.Fatalf("second mint: %v, want ErrExists", err)
	}
	if after, _ := os.ReadFile(p); string(after) != string(before) {
		t.Fatal("the second mint changed alice's creds")
	}
}

// TestOpenRefusesADirectoryOthersCanRead: identities others can read are
// keys to the bus; Open says which directory and how to fix it.
func TestOpenRefusesADirectoryOthersCanRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "identities")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Open(dir); err == nil {
		t.Fatal("Open accepted a 0755 identities directory")
	}
}

// TestIdentifyTrustsOnlyItsOwnAccount: an identity's JWT verifies to its
// name and role; one minted by another home's trust, or a tampered one,
// does not verify.
func TestIdentifyTrustsOnlyItsOwnAccount(t *testing.T) {
	tr, _ := openTrust(t)
	other, _ := openTrust(t)
	p, _ := tr.Mint("alice", auth.Operator, nil, time.Time{})
	q, _ := other.Mint("alice", auth.Operator, nil, time.Time{})
	id, err := tr.Identify(userJWT(t, p), "")
	if err != nil || id.Name != "alice" || id.Role != auth.Operator {
		t.Fatalf("Identify = %+v, %v", id, err)
	}
	if _, err := tr.Identify(userJWT(t, q), ""); err == nil {
		t.Fatal("an identity of another home verified")
	}
	tok := userJWT(t, p)
	if _, err := tr.Identify(tok[:len(tok)-4]+"AAAA", ""); err == nil {
		t.Fatal("a tampered JWT verified")
	}
	if _, err := tr.Identify(tok, "UNOTTHEKEY"); err == nil {
		t.Fatal("a JWT verified for a connection whose key is not its subject")
	}
}

// TestPermissionSubjectsMatchBus: the subjects the permissions name are the
// ones package bus uses, so a renamed subject cannot silently open a hole
// or lock a rung out.
func TestPermissionSubjectsMatchBus(t *testing.T) {
	p := auth.Permissions(auth.Rung, "k2", nil)
	for _, want := range []string{
		"$JS.API.CONSUMER.MSG.NEXT." + bus.StreamName + "." + bus.ConsumerName("k2"),
		bus.ResultSubject("*", "k2"),
		bus.HeartbeatSubject("k2"),
		bus.ContextOf("k2"),
	} {
		if !slices.Contains(p.Pub.Allow, want) {
			t.Errorf("rung k2 may not publish %s", want)
		}
	}
	for _, want := range []string{bus.ProbeSubject("k2"), bus.AgentsReload, bus.HandshakeSubject("k2")} {
		if !slices.Contains(p.Sub.Allow, want) {
			t.Errorf("rung k2 may not subscribe to %s", want)
		}
	}
	if slices.Contains(p.Pub.Allow, ">") || slices.Contains(p.Sub.Allow, ">") || len(p.Pub.Deny)+len(p.Sub.Deny) != 0 {
		t.Errorf("rung permissions are not an allow list: %+v", p)
	}
	if c := auth.Permissions(auth.Control, "control", nil); !slices.Contains(c.Sub.Allow, bus.ContextAll) {
		t.Errorf("the lifecycle listener may not serve %s", bus.ContextAll)
	}
	r := auth.Permissions(auth.Observer, "observer", []string{"extra"})
	for _, want := range []string{"$JS.API.CONSUMER.MSG.NEXT.RAZAR." + bus.ConsumerName("extra"), "$JS.API.CONSUMER.MSG.NEXT.RAZAR." + mirror.Consumer} {
		if !slices.Contains(r.Pub.Deny, want) {
			t.Errorf("the observer is not kept off %s", want)
		}
	}
	if slices.Contains(r.Pub.Allow, "razar.lifecycle.>") {
		t.Error("the observer may send lifecycle commands")
	}
}
