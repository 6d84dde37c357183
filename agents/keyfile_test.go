package agents

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar/config"
)

// k2FileEntry is k2 reading its key from the file reference path.
func k2FileEntry(path string) config.AgentEntry {
	return config.AgentEntry{Name: "k2", Backend: "openai", Endpoint: "http://k2/v1",
		Auth: &config.AgentAuth{Type: "bearer", Token: FileRefToken(path)}}
}

// keyAt writes key to dir/name with mode, returning the path.
func keyAt(t *testing.T, dir, name, key string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// unchanged asserts the key file at p still has mode and content: a
// refusal fixes nothing behind the operator's back.
func unchanged(t *testing.T, p string, mode os.FileMode, key string) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if st.Mode().Perm() != mode || string(data) != key {
		t.Fatalf("%s changed: mode %04o, content changed %v", p, st.Mode().Perm(), string(data) != key)
	}
}

func TestAbsoluteKeyFileOwnedByRazarAndPrivateIsAccepted(t *testing.T) {
	p := keyAt(t, t.TempDir(), "k2", "sk-abs-key-1111\n", 0o600)
	res, err := Resolve(k2Rung, k2FileEntry(p), t.TempDir(), lookupOf(nil))
	if err != nil {
		t.Fatalf("a private key file owned by RAZAR's user at %s: %v", p, err)
	}
	if res.Token != "sk-abs-key-1111" {
		t.Fatalf("token %q, want the file's key", res.Token)
	}
	p = keyAt(t, t.TempDir(), "k2-ro", "sk-abs-key-2222", 0o400)
	if _, err := Resolve(k2Rung, k2FileEntry(p), t.TempDir(), lookupOf(nil)); err != nil {
		t.Fatalf("mode 400, as systemd writes credentials: %v", err)
	}
}

func TestAbsoluteKeyFileOpenToGroupOrOthersIsRefusedWithTheFix(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602} {
		key := "sk-open-key-3333"
		p := keyAt(t, t.TempDir(), "k2", key, mode)
		_, err := Resolve(k2Rung, k2FileEntry(p), t.TempDir(), lookupOf(nil))
		credErr(t, err, "auth.token", key)
		if msg := err.Error(); !strings.Contains(msg, p) || !strings.Contains(msg, "open to group or others") || !strings.Contains(msg, "chmod 600 "+p) {
			t.Errorf("mode %04o: %v, want the file, why and chmod 600", mode, err)
		}
		unchanged(t, p, mode, key)
	}
}

func TestAbsoluteKeyFileOwnedBySomeoneElseIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	key := "sk-foreign-key-4444"
	p := keyAt(t, t.TempDir(), "k2", key, 0o600)
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := Resolve(k2Rung, k2FileEntry(p), t.TempDir(), lookupOf(nil))
	credErr(t, err, "auth.token", key)
	if msg := err.Error(); !strings.Contains(msg, p) || !strings.Contains(msg, "owned by uid 65534") || !strings.Contains(msg, "chown 0 "+p) {
		t.Fatalf("%v, want the file, its owner and the chown fix", err)
	}
	unchanged(t, p, 0o600, key)
}

func TestAbsoluteKeyPathThatIsADirectoryOrMissingOrUncleanIsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ path, want string }{
		{dir, "not a regular file"},
		{filepath.Join(dir, "none"), "no such file"},
		{dir + "/./k2", "not a clean absolute path"},
	} {
		_, err := Resolve(k2Rung, k2FileEntry(tt.path), t.TempDir(), lookupOf(nil))
		credErr(t, err, "auth.token")
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.path, err, tt.want)
		}
	}
}

// systemd's LoadCredential= puts the key in $CREDENTIALS_DIRECTORY; a
// relative name the home lacks is read from there.
func TestKeyFileNameIsLookedUpInCredentialsDirectory(t *testing.T) {
	home, creds := t.TempDir(), t.TempDir()
	keyAt(t, creds, "k2.key", "sk-systemd-cred-5555", 0o400)
	lookup := lookupOf(map[string]string{CredentialsDirectoryEnv: creds})
	res, err := Resolve(k2Rung, k2FileEntry("k2.key"), home, lookup)
	if err != nil || res.Token != "sk-systemd-cred-5555" {
		t.Fatalf("token %q, err %v: want the credential systemd loaded", res.Token, err)
	}
	// The home's own file comes first.
	writeFile(t, home, "k2.key", "sk-home-key-6666")
	if res, err := Resolve(k2Rung, k2FileEntry("k2.key"), home, lookup); err != nil || res.Token != "sk-home-key-6666" {
		t.Fatalf("token %q, err %v: want the home's file first", res.Token, err)
	}
	// Without $CREDENTIALS_DIRECTORY, a name the home lacks is missing.
	if _, err := Resolve(k2Rung, k2FileEntry("other.key"), home, lookupOf(nil)); err == nil || !strings.Contains(err.Error(), filepath.Join(home, "other.key")) {
		t.Fatalf("%v, want the home's path named", err)
	}
}

func TestKeyFileMissingFromHomeAndCredentialsDirectoryNamesBoth(t *testing.T) {
	home, creds := t.TempDir(), t.TempDir()
	_, err := Resolve(k2Rung, k2FileEntry("k2.key"), home, lookupOf(map[string]string{CredentialsDirectoryEnv: creds}))
	credErr(t, err, "auth.token")
	if msg := err.Error(); !strings.Contains(msg, filepath.Join(home, "k2.key")) || !strings.Contains(msg, filepath.Join(creds, "k2.key")) || !strings.Contains(msg, "$CREDENTIALS_DIRECTORY") {
		t.Fatalf("%v, want both places named", err)
	}
}

func TestKeyFileInCredentialsDirectoryOpenToOthersIsRefused(t *testing.T) {
	home, creds := t.TempDir(), t.TempDir()
	key := "sk-cred-open-7777"
	p := keyAt(t, creds, "k2.key", key, 0o644)
	_, err := Resolve(k2Rung, k2FileEntry("k2.key"), home, lookupOf(map[string]string{CredentialsDirectoryEnv: creds}))
	credErr(t, err, "auth.token", key)
	if !strings.Contains(err.Error(), "chmod 600 "+p) {
		t.Fatalf("%v, want the chmod fix for %s", err, p)
	}
	unchanged(t, p, 0o644, key)
}

// A rotation manifest may name the new key by absolute path; the plan
// checks the file by the same rule before anything is written.
func TestRotationManifestWithAnAbsoluteKeyFile(t *testing.T) {
	home := t.TempDir()
	roster, err := config.ParseRoster("r.json", []byte(`{"agents": [
		{"name": "k2", "backend": "openai", "endpoint": "http://k2/v1", "auth": {"type": "bearer", "token": "${KIMI2_API_KEY}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	plan := func(p string) ([]RotationItem, *config.Roster, error) {
		m, err := ParseManifest("k2.json", []byte(`{"agents": [{"name": "k2", "file": "`+p+`"}]}`))
		if err != nil {
			return nil, nil, err
		}
		next, items, err := PlanRotation(roster, []Manifest{*m}, func(string) Rung { return k2Rung }, home, lookupOf(nil))
		return items, next, err
	}
	good := keyAt(t, t.TempDir(), "k2-2026-12", "sk-rot-abs-8888", 0o600)
	items, next, err := plan(good)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := next.Agent("k2")
	if k2.Auth.Token != FileRefToken(good) || len(items) != 1 || !items[0].Set || items[0].Err != nil {
		t.Fatalf("token %q, items %+v: want the absolute file, loaded", k2.Auth.Token, items)
	}
	open := keyAt(t, t.TempDir(), "k2-2026-12", "sk-rot-open-9999", 0o644)
	items, _, err = plan(open)
	if err == nil && (len(items) != 1 || items[0].Err == nil) {
		t.Fatalf("a key file open to others was planned without a problem: %+v", items)
	}
	if err == nil {
		err = items[0].Err
	}
	if !strings.Contains(err.Error(), "chmod 600 "+open) || strings.Contains(err.Error(), "sk-rot-open") {
		t.Fatalf("%v, want the chmod fix and no key", err)
	}
	if _, err := ParseManifest("k2.json", []byte(`{"agents": [{"name": "k2", "file": "../k2.key"}]}`)); err == nil {
		t.Fatal("a relative key file leaving the home was accepted")
	}
}
