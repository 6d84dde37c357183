// Package auth holds the NATS identities of a RAZAR home and what each may
// do on the bus.
//
// The embedded server runs in NATS operator mode (decentralised JWT auth).
// The trust root, state/trust/ (TrustDir: 0700, its files 0600, beside
// state/identities/ and never under it, since identities are handed out),
// keeps the signing seeds: a NATS operator, the system account, account
// RAZAR (the stream, the bucket and every role's user) and account
// CONTROL, where only the orchestrator's lifecycle listener lives; and the
// revocation list (revoked.json). Seeds are read with os.ReadFile, which
// opens them close-on-exec: no child process inherits them, and they are
// never put in an environment variable. CONTROL exports the lifecycle service razar.lifecycle.>
// and RAZAR imports it with share, so the server stamps every lifecycle
// request with the requester's own signed user JWT (header
// Nats-Request-Info). The orchestrator verifies that JWT against account
// RAZAR's key: the actor of a command is the identity the server
// authenticated, never a name typed in the request.
//
// Each identity is a .creds file (user JWT and nkey seed) the nats CLI
// takes with --creds, 0600 in the 0700 directory state/identities/. Its
// permissions (Permissions) are signed into its JWT, so the server enforces
// them; minting one more needs no server restart. People's identities
// expire (DefaultExpiry); any identity can be revoked (Revoke), which the
// account JWT's revocation list carries to the server.
package auth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/razar/razar/internal/homedir"
)

// Role is what an identity may do; see Permissions.
type Role string

// The roles. Control is internal: the orchestrator's lifecycle listener in
// account CONTROL; it is never minted under state/identities/<name>.creds.
const (
	Orchestrator Role = "orchestrator"
	Operator     Role = "operator"
	Observer     Role = "observer"
	Rung         Role = "rung"
	Control      Role = "control"
)

// ParseRole reads a role an operator may mint with `razar identity add`.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case Operator, Observer, Rung:
		return r, nil
	case Orchestrator:
		return "", errors.New("--role orchestrator: there is one orchestrator identity, minted at first boot (state/identities/orchestrator.creds)")
	default:
		return "", fmt.Errorf("--role %q: want operator, observer or rung", s)
	}
}

// Account names, as the JWTs carry them.
const (
	AccountRAZAR   = "RAZAR"
	AccountControl = "CONTROL"
	AccountSystem  = "SYS"
)

// TrustRoot is the trust root's directory under the home's state/,
// beside the identities (razar.Home.Identities).
const TrustRoot = "trust"

// legacyTrustDir is where homes before the trust root kept the seeds:
// inside the identities directory, which operators hand out.
const legacyTrustDir = ".trust"

// TrustDir is the trust root of the identities directory dir:
// state/trust/ for state/identities/.
func TrustDir(dir string) string { return filepath.Join(filepath.Dir(filepath.Clean(dir)), TrustRoot) }

// roleTag is the JWT tag carrying an identity's role.
const roleTag = "razar-role:"

// Identity is an authenticated user of the bus.
type Identity struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	Key  string `json:"key"` // the user's nkey public key
}

// String is how audit records and logs name the identity: "alice (operator)".
func (id Identity) String() string { return id.Name + " (" + string(id.Role) + ")" }

// Trust is the signing material of one RAZAR home.
type Trust struct {
	dir, root                string
	operator, sys, acc, ctrl nkeys.KeyPair
	accPub                   string
	moved                    []string
}

// Open loads the trust of the identities directory dir, creating the
// directory and the trust root (TrustDir, 0700) and the seeds on first
// use. A trust root still inside dir (state/identities/.trust/, before
// this version) is moved to TrustDir first, losing nothing (Moved says
// what). It refuses a directory, seed or creds file that others can read,
// naming it and the chmod that fixes it.
func Open(dir string) (*Trust, error) {
	if err := ensurePrivateDir(dir); err != nil {
		return nil, err
	}
	t := &Trust{dir: dir, root: TrustDir(dir)}
	if err := t.moveLegacy(); err != nil {
		return nil, err
	}
	if err := ensurePrivateDir(t.root); err != nil {
		return nil, err
	}
	if err := checkCredsPrivate(dir); err != nil {
		return nil, err
	}
	var err error
	for _, k := range []struct {
		name   string
		prefix nkeys.PrefixByte
		kp     *nkeys.KeyPair
	}{
		{"nats-operator", nkeys.PrefixByteOperator, &t.operator},
		{"account-sys", nkeys.PrefixByteAccount, &t.sys},
		{"account-razar", nkeys.PrefixByteAccount, &t.acc},
		{"account-control", nkeys.PrefixByteAccount, &t.ctrl},
	} {
		if *k.kp, err = loadOrCreateSeed(filepath.Join(t.root, k.name+".nk"), k.prefix); err != nil {
			return nil, err
		}
	}
	if t.accPub, err = t.acc.PublicKey(); err != nil {
		return nil, err
	}
	return t, nil
}

// ServerTrust is what the embedded server needs to run in operator mode.
type ServerTrust struct {
	Operator      *jwt.OperatorClaims
	Accounts      map[string]string // account public key -> account JWT
	SystemAccount string
	RAZAR         string // account RAZAR's public key, the one with JetStream
}

// Server signs the operator and account JWTs for the embedded server. They
// are signed afresh at every start from the seeds and the revocation list:
// nothing to keep in sync.
func (t *Trust) Server() (*ServerTrust, error) {
	revoked, err := t.Revoked()
	if err != nil {
		return nil, err
	}
	opPub, _ := t.operator.PublicKey()
	sysPub, _ := t.sys.PublicKey()
	ctrlPub, _ := t.ctrl.PublicKey()

	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "razar"
	oc.SystemAccount = sysPub
	if _, err := oc.Encode(t.operator); err != nil {
		return nil, fmt.Errorf("sign the NATS operator: %w", err)
	}

	sys := jwt.NewAccountClaims(sysPub)
	sys.Name = AccountSystem

	razar := jwt.NewAccountClaims(t.accPub)
	razar.Name = AccountRAZAR
	razar.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1, MaxAckPending: -1}
	razar.Imports.Add(&jwt.Import{
		Name: "lifecycle", Subject: "razar.lifecycle.>", Account: ctrlPub, Type: jwt.Service,
		Share: true, // the server puts the requester's JWT in Nats-Request-Info
	})
	for _, r := range revoked {
		razar.RevokeAt(r.Key, r.At) // every JWT of the key issued up to then
	}
	// A rung's context tools are served by the same listener, so each
	// request carries the rung's identity as the server authenticated it.
	razar.Imports.Add(&jwt.Import{
		Name: "context", Subject: "razar.context.*.*", Account: ctrlPub, Type: jwt.Service, Share: true,
	})

	ctrl := jwt.NewAccountClaims(ctrlPub)
	ctrl.Name = AccountControl
	ctrl.Exports.Add(&jwt.Export{
		Name: "lifecycle", Subject: "razar.lifecycle.>", Type: jwt.Service, ResponseType: jwt.ResponseTypeSingleton,
	})
	ctrl.Exports.Add(&jwt.Export{
		Name: "context", Subject: "razar.context.*.*", Type: jwt.Service, ResponseType: jwt.ResponseTypeSingleton,
	})

	st := &ServerTrust{Operator: oc, Accounts: map[string]string{}, SystemAccount: sysPub, RAZAR: t.accPub}
	for _, a := range []*jwt.AccountClaims{sys, razar, ctrl} {
		tok, err := a.Encode(t.operator)
		if err != nil {
			return nil, fmt.Errorf("sign account %s: %w", a.Name, err)
		}
		st.Accounts[a.Subject] = tok
	}
	return st, nil
}

// Path is where identity name's creds file is.
func (t *Trust) Path(name string) string { return filepath.Join(t.dir, name+".creds") }

// ControlPath is the creds file of the orchestrator's lifecycle listener.
func (t *Trust) ControlPath() string { return ControlPath(t.dir) }

// ControlPath is where the lifecycle listener's creds file is for the
// identities directory dir: in the trust root (for an external bus, the
// operator puts it there).
func ControlPath(dir string) string { return filepath.Join(TrustDir(dir), "control.creds") }

// LegacyControlPath is where homes before the trust root kept the
// lifecycle listener's creds: inside the identities directory dir.
func LegacyControlPath(dir string) string { return filepath.Join(dir, legacyTrustDir, "control.creds") }

// Root is the trust root's directory.
func (t *Trust) Root() string { return t.root }

// Moved lists the files Open moved from a trust root inside the
// identities directory into the trust root, for the log; nil when none.
func (t *Trust) Moved() []string { return t.moved }

// HasTrust reports whether the identities directory dir has a home's
// signing seeds (in its trust root, or still inside dir from before it),
// without creating them as Open would.
func HasTrust(dir string) bool {
	for _, d := range []string{TrustDir(dir), filepath.Join(dir, legacyTrustDir)} {
		if _, err := os.Lstat(filepath.Join(d, "account-razar.nk")); err == nil {
			return true
		}
	}
	return false
}

// ValidName reports whether name can name an identity: a letter or digit,
// then letters, digits, '-', '_' or '@' (alice@ops-1), at most 64.
func ValidName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("identity name %q: want 1 to 64 characters", name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && (r == '-' || r == '_' || r == '@')
		if !ok {
			return fmt.Errorf("identity name %q: use letters, digits, '-', '_' and '@', starting with a letter or digit", name)
		}
	}
	return nil
}

// ErrExists is wrapped by Mint's error when the identity already exists.
var ErrExists = errors.New("identity exists")

// Mint creates identity name with role and writes its creds file (0600).
// expires is when its JWT stops being accepted (the server refuses it at
// connect and closes a connection it holds then); zero never expires. An
// existing file is an error wrapping ErrExists: minting never replaces a
// key someone holds. rungs are the rung names the ladder has, so a
// reader's permissions keep it off their consumers.
func (t *Trust) Mint(name string, role Role, rungs []string, expires time.Time) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	path := t.Path(name)
	if role == Control {
		path = t.ControlPath()
	}
	if _, err := os.Lstat(path); err == nil {
		return path, fmt.Errorf("%s: %w (to replace it: `razar identity revoke %s`, then add it again)", path, ErrExists, name)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", err
	}
	if err := t.write(path, kp, name, role, rungs, expires); err != nil {
		return "", err
	}
	return path, nil
}

// write signs identity name for kp and writes its creds file at path.
func (t *Trust) write(path string, kp nkeys.KeyPair, name string, role Role, rungs []string, expires time.Time) error {
	data, err := t.creds(kp, name, role, rungs, expires)
	if err != nil {
		return err
	}
	if err := homedir.WriteAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Ensured is what Ensure did.
type Ensured struct {
	Minted  []string // standard identities that were missing
	Renewed []string // people's standard identities re-signed, same key, with a new expiry
}

// Ensure mints whichever of the standard identities are missing: the
// orchestrator, the operator, the observer, the control listener, and one
// per rung. The operator and observer (people's) expire after
// DefaultExpiry; one that expires within RenewBefore, and is not revoked,
// is re-signed for its own key with a new expiry, so the host's file
// stays usable while a copy taken from it ends. The machine identities
// (orchestrator, control, the rungs on this host) do not expire: RAZAR's
// own connections must outlive any date, and they never leave the host;
// revocation ends them.
func (t *Trust) Ensure(rungs []string) (Ensured, error) {
	return t.ensureAt(rungs, time.Now())
}

func (t *Trust) ensureAt(rungs []string, now time.Time) (Ensured, error) {
	type want struct {
		name string
		role Role
	}
	all := []want{{string(Orchestrator), Orchestrator}, {string(Operator), Operator}, {string(Observer), Observer}, {"control", Control}}
	for _, r := range rungs {
		all = append(all, want{r, Rung})
	}
	revoked, err := t.Revoked()
	if err != nil {
		return Ensured{}, err
	}
	var done Ensured
	for _, w := range all {
		var expires time.Time
		if w.role.Person() {
			expires = now.Add(DefaultExpiry)
		}
		path, err := t.Mint(w.name, w.role, rungs, expires)
		switch {
		case errors.Is(err, ErrExists):
			if !w.role.Person() {
				continue
			}
			renewed, err := t.renew(path, rungs, revoked, now)
			if err != nil {
				return done, err
			}
			if renewed {
				done.Renewed = append(done.Renewed, w.name)
			}
		case err != nil:
			return done, err
		default:
			done.Minted = append(done.Minted, w.name)
		}
	}
	return done, nil
}

// renew re-signs the identity at path for its own key when it expires
// within RenewBefore of now and is not revoked, with the permissions of
// its role for the rungs of the roster.
func (t *Trust) renew(path string, rungs []string, revoked []Revocation, now time.Time) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return false, fmt.Errorf("%s is not a NATS creds file: %w (fix: `razar identity revoke` it and boot again)", path, err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil || uc.Issuer != t.accPub {
		return false, nil // not this home's: left alone, and it does not connect
	}
	if uc.Expires == 0 || time.Unix(uc.Expires, 0).After(now.Add(RenewBefore)) {
		return false, nil
	}
	for _, r := range revoked {
		if r.Key == uc.Subject {
			return false, nil
		}
	}
	kp, err := jwt.ParseDecoratedNKey(b)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	id, err := identityOf(uc)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if err := t.write(path, kp, id.Name, id.Role, rungs, now.Add(DefaultExpiry)); err != nil {
		return false, err
	}
	return true, nil
}

// creds signs a user JWT for kp and formats the creds file.
func (t *Trust) creds(kp nkeys.KeyPair, name string, role Role, rungs []string, expires time.Time) ([]byte, error) {
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.Tags.Add(roleTag + string(role))
	uc.Permissions = Permissions(role, name, rungs)
	if !expires.IsZero() {
		uc.Expires = expires.Unix()
	}
	signer := t.acc
	if role == Control {
		signer = t.ctrl
	}
	tok, err := uc.Encode(signer)
	if err != nil {
		return nil, fmt.Errorf("sign identity %s: %w", name, err)
	}
	return jwt.FormatUserConfig(tok, seed)
}

// Identify verifies a user JWT the server vouched for (Nats-Request-Info)
// and returns its identity. The JWT must be signed by account RAZAR's own
// key, name a role, be unexpired and not revoked; userKey, when set, must
// be its subject.
func (t *Trust) Identify(userJWT, userKey string) (Identity, error) {
	id, err := IdentifyJWT(userJWT, userKey, t.accPub)
	if err != nil {
		return id, err
	}
	revoked, err := t.Revoked()
	if err != nil {
		return Identity{}, err
	}
	for _, r := range revoked {
		if r.Key == id.Key {
			return Identity{}, fmt.Errorf("identity %s was revoked %s", id, r.At.UTC().Format(time.RFC3339))
		}
	}
	return id, nil
}

// IdentifyJWT is Identify against the given signing keys, for an external
// server, whose accounts RAZAR does not sign. The key that signed the JWT
// (its issuer) must be one of signers: a JWT that merely claims an
// account (issuer_account) is not trusted for it, since anyone can sign
// such a claim with a key of their own. With no signers, any signer is
// taken (ReadCreds, for display only).
func IdentifyJWT(userJWT, userKey string, signers ...string) (Identity, error) {
	if userJWT == "" {
		return Identity{}, errors.New("the request carries no authenticated identity")
	}
	uc, err := jwt.DecodeUserClaims(userJWT)
	if err != nil {
		return Identity{}, fmt.Errorf("the requester's JWT does not verify: %w", err)
	}
	if len(signers) > 0 {
		if !slices.Contains(signers, uc.Issuer) {
			return Identity{}, errors.New("the requester's JWT is not signed by a RAZAR account's key")
		}
		if uc.IssuerAccount != "" && uc.IssuerAccount != uc.Issuer && !slices.Contains(signers, uc.IssuerAccount) {
			return Identity{}, errors.New("the requester's JWT names an account that is not RAZAR's")
		}
		if uc.Expires != 0 && time.Now().Unix() >= uc.Expires {
			return Identity{}, fmt.Errorf("identity %q expired %s", uc.Name, time.Unix(uc.Expires, 0).UTC().Format(time.RFC3339))
		}
	}
	if userKey != "" && uc.Subject != userKey {
		return Identity{}, errors.New("the requester's JWT is not its connection's")
	}
	return identityOf(uc)
}

// identityOf reads the name, role and key of a decoded user JWT.
func identityOf(uc *jwt.UserClaims) (Identity, error) {
	id := Identity{Name: uc.Name, Key: uc.Subject}
	for _, tag := range uc.Tags {
		if r, ok := strings.CutPrefix(tag, roleTag); ok {
			id.Role = Role(r)
		}
	}
	if id.Name == "" || id.Role == "" {
		return Identity{}, errors.New("the requester's JWT names no RAZAR identity and role")
	}
	return id, nil
}

// ReadCreds reads a creds file's identity (name, role, key) without
// checking who signed it: for messages such as "connected as alice".
func ReadCreds(path string) (Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Identity{}, err
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return Identity{}, fmt.Errorf("%s is not a NATS creds file: %w", path, err)
	}
	return IdentifyJWT(tok, "")
}

// Issued is when a creds file's JWT was signed, for listings.
func Issued(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return time.Time{}, err
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(uc.IssuedAt, 0), nil
}

func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("identities: %w", err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("identities: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory (fix: remove it; RAZAR creates it 0700)", dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is open to other users (%v): its keys let anyone on the bus (fix: chmod 700 %s)", dir, st.Mode().Perm(), dir)
	}
	return nil
}

func loadOrCreateSeed(path string, prefix nkeys.PrefixByte) (nkeys.KeyPair, error) {
	st, err := os.Lstat(path)
	if err == nil {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file (fix: remove it)", path)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%s is readable by other users (%v) (fix: chmod 600 %s)", path, st.Mode().Perm(), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
		if err != nil {
			return nil, fmt.Errorf("%s is not an nkey seed: %w (fix: restore it from a backup; without it no identity of this home verifies)", path, err)
		}
		return kp, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	kp, err := nkeys.CreatePair(prefix)
	if err != nil {
		return nil, err
	}
	seed, _ := kp.Seed()
	if err := homedir.WriteAtomic(path, append(seed, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return kp, nil
}

// SignerOf returns the keys to trust for identities like the one in a
// creds file, on an external bus: the key that signed it and, when that
// is a signing key of an account, the account. An identity signed by
// another signing key of the account is not trusted.
func SignerOf(path string) ([]string, error) {
	uc, err := readClaims(path)
	if err != nil {
		return nil, err
	}
	keys := []string{uc.Issuer}
	if uc.IssuerAccount != "" && uc.IssuerAccount != uc.Issuer {
		keys = append(keys, uc.IssuerAccount)
	}
	return keys, nil
}
