package runas

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// Identity is who a component's processes run as.
type Identity struct {
	// Cred is what goes in SysProcAttr.Credential; nil runs as RAZAR.
	Cred *syscall.Credential
	// Name and Home are the user's, for the child's USER, LOGNAME and
	// HOME; empty when only a group is set.
	Name, Home string
}

// ErrNotRoot is the error of a switch RAZAR cannot make.
var ErrNotRoot = errors.New("RAZAR is not root")

// Resolve looks up userName and groupName (either may be empty). Both
// empty gives a nil Identity: the component runs as RAZAR. Errors name
// the unknown user or group, and wrap ErrNotRoot when RAZAR is not root
// and the identity differs from its own.
func Resolve(userName, groupName string) (*Identity, error) {
	if userName == "" && groupName == "" {
		return nil, nil
	}
	id := &Identity{Cred: &syscall.Credential{Uid: uint32(os.Geteuid()), Gid: uint32(os.Getegid())}}
	if userName != "" {
		u, err := lookupUser(userName)
		if err != nil {
			return nil, err
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("user %q has ids %s:%s, not numbers", userName, u.Uid, u.Gid)
		}
		id.Cred.Uid, id.Cred.Gid = uint32(uid), uint32(gid)
		id.Name, id.Home = u.Username, u.HomeDir
		if gids, err := u.GroupIds(); err == nil {
			for _, g := range gids {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil {
					id.Cred.Groups = append(id.Cred.Groups, uint32(n))
				}
			}
		}
	}
	if groupName != "" {
		g, err := lookupGroup(groupName)
		if err != nil {
			return nil, err
		}
		gid, err := strconv.ParseUint(g.Gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("group %q has id %s, not a number", groupName, g.Gid)
		}
		id.Cred.Gid = uint32(gid)
	}
	if id.Cred.Groups == nil {
		id.Cred.Groups = []uint32{id.Cred.Gid} // never RAZAR's supplementary groups
	}
	if os.Geteuid() != 0 && (int(id.Cred.Uid) != os.Geteuid() || int(id.Cred.Gid) != os.Getegid()) {
		return nil, fmt.Errorf("%w (uid %d): it cannot run processes as uid %d gid %d", ErrNotRoot, os.Geteuid(), id.Cred.Uid, id.Cred.Gid)
	}
	return id, nil
}

// Self reports whether id runs as RAZAR's own user: nil does, and so does
// a credential with RAZAR's uid. Such a component can act as RAZAR.
func (id *Identity) Self() bool {
	return id == nil || int(id.Cred.Uid) == os.Geteuid()
}

// Credential is id's credential, nil for a nil Identity.
func (id *Identity) Credential() *syscall.Credential {
	if id == nil {
		return nil
	}
	return id.Cred
}

// Env is the environment the user's login would have, as "KEY=value":
// HOME, USER and LOGNAME. Nothing for a nil Identity or a group alone.
func (id *Identity) Env() []string {
	if id == nil || id.Name == "" {
		return nil
	}
	env := []string{"USER=" + id.Name, "LOGNAME=" + id.Name}
	if id.Home != "" {
		env = append(env, "HOME="+id.Home)
	}
	return env
}

func lookupUser(name string) (*user.User, error) {
	if _, err := strconv.ParseUint(name, 10, 32); err == nil {
		u, err := user.LookupId(name)
		if err != nil {
			return nil, fmt.Errorf("user id %s: no such user", name)
		}
		return u, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %q: no such user", name)
	}
	return u, nil
}

func lookupGroup(name string) (*user.Group, error) {
	if _, err := strconv.ParseUint(name, 10, 32); err == nil {
		g, err := user.LookupGroupId(name)
		if err != nil {
			return nil, fmt.Errorf("group id %s: no such group", name)
		}
		return g, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return nil, fmt.Errorf("group %q: no such group", name)
	}
	return g, nil
}
