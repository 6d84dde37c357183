package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/config"
	"github.com/razar/razar/hostmetrics"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/memory"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
)

// Config is everything a host runs by: `razar boot`'s flags, the
// variables of config/razar.env and the environment, and what only cmd
// knows, as functions. Open validates it; a bad one wraps
// razar.ErrInvalidConfig.
type Config struct {
	// Home is the RAZAR home; required.
	Home string
	// BootFile is the boot config (--config); required.
	BootFile string

	Retries        int  // --retries: local restarts of a crash loop before it is escalated
	RemoteAttempts int  // --remote-attempts: attempts per rung turn
	LongTask       bool // --long-task
	Once           bool // --once: exit after the boot cycle

	// NATSListen is the embedded server's HOST:PORT (--nats-listen).
	NATSListen string
	// NATSURL is the external bus (--nats, RAZAR_NATS_URL); "" embeds one.
	NATSURL string
	// OpenBusWarning is logged when the embedded bus listens beyond
	// loopback; "" when it does not.
	OpenBusWarning string
	// AgentsMode is inproc (the host runs and reconciles the rungs) or
	// external.
	AgentsMode string
	// Replicas of the stream, bucket and consumers (--replicas).
	Replicas int
	// Leaf links the embedded server to a hub; zero: no link.
	Leaf Leaf

	// Variables are the settings a reload re-reads.
	Variables Variables
	// Warnings about the settings, logged once the log is open.
	Warnings []string

	// Logger opens the daemon's log for process name, and how to close it;
	// required.
	Logger func(process string) (zerolog.Logger, func(), error)
	// Redactor returns the home's current secrets redactor; required.
	Redactor func() *razar.Redactor
	// Creds is the creds file to connect as identity ident on an external
	// bus ("" for none); required.
	Creds func(ident string) string
	// ControlCreds is the lifecycle listener's identity on an external bus
	// ("" for none); optional.
	ControlCreds func() string
	// NewRung builds the runtime of one in-process rung; required with
	// AgentsMode inproc.
	NewRung func(store *jetstream.Store, name string, log zerolog.Logger) (*agents.Runtime, error)
	// RungDisplay names a rung the roster gives no display; optional.
	RungDisplay func(name string) string
	// InitMemory runs the memory bundle's boot pass; optional.
	InitMemory func(ctx context.Context, store *jetstream.Store, cfg *config.MemoryConfig, log zerolog.Logger)
	// MemoryAudit runs and records `razar memory audit` for a CLI;
	// optional (without it the verb is refused).
	MemoryAudit func(ctx context.Context, store *jetstream.Store, items int, actor string, log zerolog.Logger) *memory.AuditReport
	// Reread re-reads the variables for a reload; required.
	Reread func() (*Reread, error)
	// Build names the binary in razar_build_info.
	Build hostmetrics.Build
}

// Leaf is --leaf and its companions: the embedded server joins a hub as a
// NATS leaf node.
type Leaf struct {
	URL       string // may carry user:password: never log it unredacted
	Creds     string
	Domain    string // this host's JetStream domain
	HubDomain string // the hub's; NoHubDomain declares nothing there
}

// NoHubDomain as Leaf.HubDomain: RAZAR declares nothing on the hub (its
// operator declares the sourcing stream).
const NoHubDomain = "none"

// Variables are the settings of config/razar.env and the environment; a
// reload re-reads them, and applies the ladder's thresholds in place.
type Variables struct {
	Threshold     int // RAZAR_RSTAR_THRESHOLD
	Warn          int // RAZAR_ESCALATION_WARNING_THRESHOLD
	TokenBudget   int // RAZAR_TOKEN_BUDGET: model tokens per incident, 0 none
	MetricsAddr   string
	StatusHosts   []string // RAZAR_STATUS_HOSTS: more host names the metrics listener answers to
	ChakraAddr    string
	VerifyWindow  time.Duration
	SettleWindow  time.Duration
	ProbeInterval time.Duration
	Webhook       string
	Alertmanager  string
	Limits        jetstream.Limits // read at boot; a reload keeps the store's
	Retention     time.Duration    // 0 keeps ended incidents
	Pprof         bool             // /debug/pprof/ beside /metrics
	Approval      time.Duration    // RAZAR_APPROVAL_WINDOW
	Runbook       string           // RAZAR_RUNBOOK_URL
	HostName      string           // the host label of every alert
	StatusURL     string           // the status page alerts link to ("": from the metrics listener)
	NoFixMemory   bool
	ContextBytes  int
	ContextCalls  int
	FixNewFiles   orchestrator.NewFilesPolicy
	Sandbox       patch.Sandbox
}

// Reread is what a reload read of the variables. Undo puts back the
// settings the read replaced, for a reload that is refused.
type Reread struct {
	Variables Variables
	// Warnings about the new settings, logged and returned with the result.
	Warnings []string
	// StrictErr refuses the reload (--strict and warnings); nil otherwise.
	StrictErr error
	// BusChanged names the changed variables of the bus, which wait for
	// the next boot.
	BusChanged []string
	// Undo restores what the read replaced; required.
	Undo func()
}

// thresholds are the ladder settings of new incidents.
func (c *Config) thresholds(v Variables) orchestrator.Thresholds {
	return orchestrator.Thresholds{Threshold: v.Threshold, WarnThreshold: v.Warn, RemoteAttempts: c.RemoteAttempts, LongTask: c.LongTask,
		TokenBudget: int64(v.TokenBudget)}
}

// valid checks what Open needs, wrapping razar.ErrInvalidConfig.
func (c *Config) valid() error {
	var errs []error
	need := func(ok bool, what string) {
		if !ok {
			errs = append(errs, errors.New(what))
		}
	}
	need(c.Home != "", "Home is required")
	need(c.BootFile != "", "BootFile is required")
	need(c.AgentsMode == "inproc" || c.AgentsMode == "external", fmt.Sprintf("AgentsMode %q: want inproc or external", c.AgentsMode))
	need(c.Logger != nil, "Logger is required")
	need(c.Redactor != nil, "Redactor is required")
	need(c.Creds != nil, "Creds is required")
	need(c.Reread != nil, "Reread is required")
	need(c.AgentsMode != "inproc" || c.NewRung != nil, "NewRung is required with AgentsMode inproc")
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: host config: %w", razar.ErrInvalidConfig, err)
	}
	return nil
}
