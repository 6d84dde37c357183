package runas

import (
	"errors"
	"os"
	"os/user"
	"slices"
	"strings"
	"testing"
)

// A user is found by name or id, its primary group is the default, a
// group overrides it, and unknown names and ids are errors that name them.
func TestResolveFindsUsersAndGroupsByNameOrID(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this system")
	}
	if os.Geteuid() != 0 {
		if _, err := Resolve("nobody", ""); !errors.Is(err, ErrNotRoot) {
			t.Fatalf("a switch without root: %v, want ErrNotRoot", err)
		}
		return
	}
	for _, name := range []string{"nobody", nobody.Uid} {
		id, err := Resolve(name, "")
		if err != nil {
			t.Fatalf("Resolve(%q): %v", name, err)
		}
		if id.Cred.Uid != 65534 || id.Cred.Gid != 65534 || len(id.Cred.Groups) == 0 || id.Self() {
			t.Errorf("Resolve(%q) = %+v", name, id.Cred)
		}
		if env := id.Env(); !slices.Contains(env, "USER=nobody") || !slices.Contains(env, "HOME="+nobody.HomeDir) {
			t.Errorf("Resolve(%q).Env() = %v", name, env)
		}
	}
	if id, err := Resolve("nobody", "0"); err != nil || id.Cred.Gid != 0 {
		t.Errorf("a group overrides the user's: %+v, %v", id, err)
	}
	if id, err := Resolve("", ""); err != nil || id != nil || !id.Self() || id.Credential() != nil || id.Env() != nil {
		t.Errorf("no user: %+v, %v; want nil, running as RAZAR", id, err)
	}
	if id, err := Resolve("root", ""); err != nil || !id.Self() {
		t.Errorf("RAZAR's own user is not Self: %+v, %v", id, err)
	}
	for _, tt := range []struct{ user, group, want string }{
		{"no-such-user-razar", "", `user "no-such-user-razar": no such user`},
		{"4000000000", "", "user id 4000000000: no such user"},
		{"nobody", "no-such-group-razar", `group "no-such-group-razar": no such group`},
	} {
		if _, err := Resolve(tt.user, tt.group); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Resolve(%q, %q) = %v, want %q", tt.user, tt.group, err, tt.want)
		}
	}
}
