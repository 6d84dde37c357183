package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/razar/razar/internal/homedir"
)

// DefaultExpiry is how long a person's identity (operator, observer, or
// one minted with `razar identity add`) is accepted unless told otherwise.
const DefaultExpiry = 90 * 24 * time.Hour

// RenewBefore is how close to its expiry a standard person's identity on
// the host is re-signed at boot (Ensure).
const RenewBefore = 30 * 24 * time.Hour

// MaxExpiry bounds --expires: an identity that lives longer is one that
// never ends.
const MaxExpiry = 2 * 365 * 24 * time.Hour

// Person reports whether role is a person's (operator, observer), whose
// identities expire by default.
func (r Role) Person() bool { return r == Operator || r == Observer }

// revokedFile is the revocation list in the trust root.
const revokedFile = "revoked.json"

// Revocation is one revoked identity: its key, and the name and role it had.
type Revocation struct {
	Name string    `json:"name"`
	Role Role      `json:"role"`
	Key  string    `json:"key"`
	At   time.Time `json:"at"`
}

// Revoked reads the revocation list (empty when there is none).
func (t *Trust) Revoked() ([]Revocation, error) {
	path := filepath.Join(t.root, revokedFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []Revocation
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: %w (fix: restore it from a backup; every revoked identity is in it)", path, err)
	}
	return list, nil
}

// ErrUnknownIdentity is wrapped by Revoke's error when no identity has the name.
var ErrUnknownIdentity = errors.New("no such identity")

// Revoke adds identity name (or the identity whose public key name is) to
// the revocation list and removes its creds file, so the name can be
// minted again with a new key. Every JWT of the key issued up to now is
// refused from the next account update on (AccountJWT; the server takes it
// without a restart, see docs/SECURITY.md). Revoking a revoked key again
// is not an error.
func (t *Trust) Revoke(name string, now time.Time) (Revocation, error) {
	list, err := t.Revoked()
	if err != nil {
		return Revocation{}, err
	}
	var r Revocation
	path := ""
	if nkeys.IsValidPublicUserKey(name) {
		r, path = t.revocationByKey(name)
	} else {
		var already bool
		r, path, already, err = t.revocationByName(name, list)
		if err != nil {
			return Revocation{}, err
		}
		if already {
			return r, nil // already revoked, file gone
		}
	}
	r.At = now.UTC().Truncate(time.Second)
	if err := t.recordRevocation(list, r); err != nil {
		return Revocation{}, err
	}
	if path != "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return r, fmt.Errorf("revoked, but %s could not be removed: %w", path, err)
		}
	}
	return r, nil
}

// revocationByKey revokes a public user key: named after the identity file
// holding it, if one does ("?" and no file otherwise).
func (t *Trust) revocationByKey(key string) (Revocation, string) {
	r := Revocation{Name: "?", Key: key}
	path := ""
	for _, e := range t.entries() {
		if e.Key == key {
			r.Name, r.Role, path = e.Name, e.Role, e.Path
		}
	}
	return r, path
}

// revocationByName reads the identity file name and returns its
// revocation and path. An identity whose file is gone but that list holds
// is already revoked: that entry, with already true.
func (t *Trust) revocationByName(name string, list []Revocation) (r Revocation, path string, already bool, err error) {
	if err := ValidName(name); err != nil {
		return Revocation{}, "", false, err
	}
	path = t.Path(name)
	if name == "control" {
		path = t.ControlPath()
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		for _, e := range list {
			if e.Name == name {
				return e, "", true, nil
			}
		}
		return Revocation{}, "", false, fmt.Errorf("%w %q: %s does not exist (`razar identity list` shows them; a public key U... revokes an identity whose file is gone)", ErrUnknownIdentity, name, path)
	}
	if err != nil {
		return Revocation{}, "", false, err
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return Revocation{}, "", false, fmt.Errorf("%s is not a NATS creds file: %w", path, err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return Revocation{}, "", false, fmt.Errorf("%s: %w", path, err)
	}
	id, _ := identityOf(uc)
	return Revocation{Name: name, Role: id.Role, Key: uc.Subject}, path, false, nil
}

// recordRevocation adds r to the revocation list on disk unless its key is
// there already.
func (t *Trust) recordRevocation(list []Revocation, r Revocation) error {
	for _, e := range list {
		if e.Key == r.Key {
			return nil
		}
	}
	list = append(list, r)
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := homedir.WriteAtomic(filepath.Join(t.root, revokedFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the revocation list: %w", err)
	}
	return nil
}

// Entry is one identity as `razar identity list` shows it.
type Entry struct {
	Identity
	Path    string    // its creds file; "" for a revoked one whose file is gone
	Expires time.Time // zero: never
	Revoked time.Time // zero: not revoked
	Err     error     // the file does not read as an identity
}

// List returns every identity of the home, the revoked ones too, by name.
func (t *Trust) List() ([]Entry, error) {
	out := t.entries()
	revoked, err := t.Revoked()
	if err != nil {
		return nil, err
	}
	for _, r := range revoked {
		found := false
		for i := range out {
			if out[i].Key == r.Key {
				out[i].Revoked, found = r.At, true
			}
		}
		if !found {
			out = append(out, Entry{Identity: Identity{Name: r.Name, Role: r.Role, Key: r.Key}, Revoked: r.At})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// entries reads the creds files of the identities directory and the
// control listener's.
func (t *Trust) entries() []Entry {
	des, _ := os.ReadDir(t.dir)
	paths := []string{}
	for _, e := range des {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".creds") {
			paths = append(paths, filepath.Join(t.dir, e.Name()))
		}
	}
	if _, err := os.Lstat(t.ControlPath()); err == nil {
		paths = append(paths, t.ControlPath())
	}
	var out []Entry
	for _, p := range paths {
		e := Entry{Identity: Identity{Name: strings.TrimSuffix(filepath.Base(p), ".creds")}, Path: p}
		uc, err := readClaims(p)
		if err == nil {
			var id Identity
			if id, err = identityOf(uc); err == nil {
				e.Identity = id
				if uc.Expires != 0 {
					e.Expires = time.Unix(uc.Expires, 0).UTC()
				}
			}
		}
		e.Err = err
		out = append(out, e)
	}
	return out
}

func readClaims(path string) (*jwt.UserClaims, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tok, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return nil, fmt.Errorf("%s is not a NATS creds file: %w", path, err)
	}
	return jwt.DecodeUserClaims(tok)
}

// AccountJWT is account RAZAR's JWT as Server signs it now (with the
// revocation list), for a running server to take as an update.
func (t *Trust) AccountJWT() (pub, token string, err error) {
	st, err := t.Server()
	if err != nil {
		return "", "", err
	}
	return st.RAZAR, st.Accounts[st.RAZAR], nil
}

// SystemUser signs a short-lived user of the system account, held in
// memory only: what sends an account update to the running server.
func (t *Trust) SystemUser(ttl time.Duration) (userJWT, seed string, err error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", "", err
	}
	pub, _ := kp.PublicKey()
	s, _ := kp.Seed()
	uc := jwt.NewUserClaims(pub)
	uc.Name = "razar-identity"
	uc.Expires = time.Now().Add(ttl).Unix()
	tok, err := uc.Encode(t.sys)
	if err != nil {
		return "", "", err
	}
	return tok, string(s), nil
}

// moveLegacy moves a trust root still inside the identities directory
// (state/identities/.trust/) to the trust root, file by file with rename
// (one filesystem: both are under state/), and removes the emptied
// directory. A file already in the trust root with other content is a
// conflict: nothing is overwritten, and the error says so.
func (t *Trust) moveLegacy() error {
	old := filepath.Join(t.dir, legacyTrustDir)
	des, err := os.ReadDir(old)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("trust root: %w", err)
	}
	if err := ensurePrivateDir(t.root); err != nil {
		return err
	}
	for _, de := range des {
		if err := t.moveLegacyFile(old, de); err != nil {
			return err
		}
	}
	if err := os.Remove(old); err != nil {
		return fmt.Errorf("trust root moved to %s, but %s stays: %w", t.root, old, err)
	}
	return nil
}

// moveLegacyFile moves one file of the old trust directory into the trust
// root. A copy already there must be the same: the old one is then removed.
func (t *Trust) moveLegacyFile(old string, de os.DirEntry) error {
	from, to := filepath.Join(old, de.Name()), filepath.Join(t.root, de.Name())
	if !de.Type().IsRegular() {
		return fmt.Errorf("%s is not a regular file (fix: remove it, then boot again)", from)
	}
	if cur, err := os.ReadFile(to); err == nil {
		prev, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if string(prev) != string(cur) {
			return fmt.Errorf("%s and %s differ: two trust roots (fix: keep the one this home's identities were signed with, remove the other)", from, to)
		}
		return os.Remove(from)
	}
	if err := os.Chmod(from, 0o600); err != nil {
		return err
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("move %s to the trust root %s: %w", from, t.root, err)
	}
	t.moved = append(t.moved, de.Name())
	return nil
}

// checkCredsPrivate refuses a creds file of dir that its group or others
// can read: whoever reads one is that identity.
func checkCredsPrivate(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("identities: %w", err)
	}
	for _, de := range des {
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".creds") {
			continue
		}
		p := filepath.Join(dir, de.Name())
		st, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("identities: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("%s is readable by other users (%v): whoever reads it acts as that identity (fix: chmod 600 %s)", p, st.Mode().Perm(), p)
		}
	}
	return nil
}
