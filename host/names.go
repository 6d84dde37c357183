package host

import (
	"fmt"
	neturl "net/url"
	"strings"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/orchestrator"
)

func rosterNames(r *config.Roster) []string {
	var out []string
	for _, a := range r.Agents {
		out = append(out, strings.ToLower(a.Name))
	}
	return out
}

func componentNames(b *config.BootConfig) []string {
	var out []string
	for _, c := range b.Components {
		out = append(out, c.Name)
	}
	return out
}

// distinctNames refuses a component named like a rung: both beat on
// razar.heartbeat.<name>, which the rung's identity may publish, so the
// rung could beat for the component. It refuses a rung named "memory" too:
// that is the rung name of attempts made with a remembered fix.
func distinctNames(boot *config.BootConfig, roster *config.Roster) error {
	for i, a := range roster.Agents {
		if a.Name == orchestrator.MemoryRung {
			return &razar.ConfigError{File: razar.Home("").Roster(), Field: fmt.Sprintf("agents[%d].name", i),
				Msg: fmt.Sprintf("%q is the rung name of attempts made with a remembered fix (docs/FIXES.md): records could not tell the two apart", a.Name),
				Fix: "rename the rung"}
		}
	}
	for i, c := range boot.Components {
		if _, err := roster.Agent(c.Name); err == nil {
			return &razar.ConfigError{File: razar.Home("").BootConfig(), Field: fmt.Sprintf("components[%d].name", i),
				Msg: fmt.Sprintf("%q is also the name of a rung in %s: the two would share razar.heartbeat.%s", c.Name, razar.Home("").Roster(), c.Name),
				Fix: "rename the component"}
		}
	}
	return nil
}

// stripUserinfo drops user and password from each URL of a (comma-separated)
// NATS URL list, for state/nats.url.
func stripUserinfo(urls string) string {
	var out []string
	for _, u := range strings.Split(urls, ",") {
		u = strings.TrimSpace(u)
		if p, err := neturl.Parse(u); err == nil && p.User != nil {
			p.User = nil
			u = p.String()
		}
		out = append(out, u)
	}
	return strings.Join(out, ",")
}

// loadConfigs reads and checks the boot config and the roster, and each
// component's user: the warnings are about components that run as
// RAZAR's own user.
func loadConfigs(bootFile, home string) (*config.BootConfig, *config.Roster, []string, error) {
	boot, err := config.LoadBoot(bootFile, home)
	if err != nil {
		return nil, nil, nil, err
	}
	roster, err := config.LoadRoster(razar.Home(home).Roster())
	if err != nil {
		return nil, nil, nil, err
	}
	if err := distinctNames(boot, roster); err != nil {
		return nil, nil, nil, err
	}
	warnings, err := checkRunAs(bootFile, boot)
	if err != nil {
		return nil, nil, nil, err
	}
	return boot, roster, warnings, nil
}
