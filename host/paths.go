package host

import "github.com/razar/razar/auth"

// Paths of the RAZAR home the host opens (CONTRACT section 1), relative to
// the home.
const (
	bootConfigFile = "config/boot_config.json"
	stateDir       = "state"
	identitiesDir  = stateDir + "/" + auth.Dir
	natsURLFile    = "state/nats.url"
	// homeIDFile is the home's identity, the razar_home label of its alerts.
	homeIDFile = "state/home.id"
	// alertsFile keeps the open alerts across restarts, so the next boot
	// resolves those whose cause ended while RAZAR was stopped.
	alertsFile = "state/alerts.json"
)
