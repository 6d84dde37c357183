package host

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/runas"
)

// checkRunAs resolves every component's "user" and "group" of the boot
// config at file: an unknown one, or a switch RAZAR cannot make (it is not
// root), is a *razar.ConfigError naming the component and the fix. It
// returns one warning per component that runs as RAZAR's own user, which
// can then act as RAZAR.
func checkRunAs(file string, boot *config.BootConfig) (warnings []string, err error) {
	for i, c := range boot.Components {
		who, err := runas.Resolve(c.User, c.Group)
		if err != nil {
			field := fmt.Sprintf("components[%d] (%s).user", i, c.Name)
			if c.User == "" {
				field = fmt.Sprintf("components[%d] (%s).group", i, c.Name)
			}
			fix := `set an existing user's name or numeric id (create one: useradd --system --no-create-home --shell /usr/sbin/nologin razar-` + c.Name + `)`
			if errors.Is(err, runas.ErrNotRoot) {
				fix = `run razar boot as root (it switches to the user before exec, like systemd's User=), or remove "user" and "group" from the component`
			}
			return nil, &razar.ConfigError{File: file, Field: field, Msg: err.Error(), Fix: fix}
		}
		if who.Self() {
			warnings = append(warnings, fmt.Sprintf("component %s runs as RAZAR's own user (%s): it can act as RAZAR: it can read state/identities/ (the operator's identity) and the rungs' keys, and stop or patch any component (fix: give it a dedicated \"user\" in boot_config.json; docs/SECURITY.md)", c.Name, selfName()))
		}
	}
	return warnings, nil
}

// selfName is RAZAR's user name, or its uid.
func selfName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Geteuid())
}
