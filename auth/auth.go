// Package auth holds the NATS identities of a RAZAR home and what each may
// do on the bus.
//
// The embedded server runs in NATS operator mode (decentralised JWT auth).
// state/identities/.trust/ keeps the signing seeds: a NATS operator, the
// system account, account RAZAR (the stream, the bucket and every role's
// user) and account CONTROL, where only the orchestrator's lifecycle
// listener lives. CONTROL exports the lifecycle service razar.lifecycle.>
// and RAZAR imports it with share, so the server stamps every lifecycle
// request with the requester's own signed user JWT (header
// Nats-Request-Info). The orchestrator verifies that JWT against account
// RAZAR's key: the actor of a command is the identity the server
// authenticated, never a name typed in the request.
//
// Each identity is a .creds file (user JWT and nkey seed) the nats CLI
// takes with --creds, 0600 in the 0700 directory state/identities/. Its
// permissions (Permissions) are signed into its JWT, so the server enforces
// them; minting one more needs no server restart.
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

// Dir is the identities directory under the home's state/.
const Dir = "identities"

// trustDir holds the signing seeds, beside the identities.
const trustDir = ".trust"

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
	dir                      string
	operator, sys, acc, ctrl nkeys.KeyPair
	accPub                   string
}

// Open loads the trust of the identities directory dir, creating the
// directory (0700) and the seeds on first use. It refuses a directory or
// seed that others can read.
func Open(dir string) (*Trust, error) {
	if err := ensurePrivateDir(dir); err != nil {
		return nil, err
	}
	if err := ensurePrivateDir(filepath.Join(dir, trustDir)); err != nil {
		return nil, err
	}
	t := &Trust{dir: dir}
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
		if *k.kp, err = loadOrCreateSeed(filepath.Join(dir, trustDir, k.name+".nk"), k.prefix); err != nil {
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
// are signed afresh at every start from the seeds: nothing to keep in sync.
func (t *Trust) Server() (*ServerTrust, error) {
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

// ControlPath is where the lifecycle listener's creds file is in the
// identities directory dir (for an external bus, the operator puts it there).
func ControlPath(dir string) string { return filepath.Join(dir, trustDir, "control.creds") }

// HasTrust reports whether dir holds a home's signing seeds, without
// creating them as Open would.
func HasTrust(dir string) bool {
	st, err := os.Lstat(filepath.Join(dir, trustDir))
	return err == nil && st.IsDir()
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
// An existing file is an error wrapping ErrExists: minting never replaces a
// key someone holds. rungs are the rung names the ladder has, so a
// reader's permissions keep it off their consumers.
func (t *Trust) Mint(name string, role Role, rungs []string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	path := t.Path(name)
	if role == Control {
		path = t.ControlPath()
	}
	if _, err := os.Lstat(path); err == nil {
		return path, fmt.Errorf("%s: %w (remove the file first to replace it; whoever holds the old one keeps access until the server restarts)", path, ErrExists)
	}
	data, err := t.creds(name, role, rungs)
	if err != nil {
		return "", err
	}
	if err := homedir.WriteAtomic(path, data, 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// Ensure mints whichever of the standard identities are missing: the
// orchestrator, the operator, the observer, the control listener, and one
// per rung. It returns the names it minted.
func (t *Trust) Ensure(rungs []string) ([]string, error) {
	type want struct {
		name string
		role Role
	}
	all := []want{{string(Orchestrator), Orchestrator}, {string(Operator), Operator}, {string(Observer), Observer}, {"control", Control}}
	for _, r := range rungs {
		all = append(all, want{r, Rung})
	}
	var minted []string
	for _, w := range all {
		_, err := t.Mint(w.name, w.role, rungs)
		switch {
		case errors.Is(err, ErrExists):
		case err != nil:
			return minted, err
		default:
			minted = append(minted, w.name)
		}
	}
	return minted, nil
}

func (t *Trust) creds(name string, role Role, rungs []string) ([]byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.Tags.Add(roleTag + string(role))
	uc.Permissions = Permissions(role, name, rungs)
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
// and returns its identity. The JWT must be signed by account RAZAR and
// name a role; userKey, when set, must be its subject.
func (t *Trust) Identify(userJWT, userKey string) (Identity, error) {
	return IdentifyJWT(userJWT, userKey, t.accPub)
}

// IdentifyJWT is Identify against the given account keys: for an external
// server, whose accounts RAZAR does not sign.
func IdentifyJWT(userJWT, userKey string, accounts ...string) (Identity, error) {
	if userJWT == "" {
		return Identity{}, errors.New("the request carries no authenticated identity")
	}
	uc, err := jwt.DecodeUserClaims(userJWT)
	if err != nil {
		return Identity{}, fmt.Errorf("the requester's JWT does not verify: %w", err)
	}
	issuer := uc.Issuer
	if uc.IssuerAccount != "" {
		issuer = uc.IssuerAccount
	}
	if len(accounts) > 0 && !slices.Contains(accounts, issuer) {
		return Identity{}, errors.New("the requester's JWT is not signed by a RAZAR account")
	}
	if userKey != "" && uc.Subject != userKey {
		return Identity{}, errors.New("the requester's JWT is not its connection's")
	}
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

// AccountOf is the account that signed a creds file's identity.
func AccountOf(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return "", fmt.Errorf("%s is not a NATS creds file: %w", path, err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if uc.IssuerAccount != "" {
		return uc.IssuerAccount, nil
	}
	return uc.Issuer, nil
}
