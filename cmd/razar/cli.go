package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/agents/airstar"
	"github.com/razar/razar/agents/crown"
	"github.com/razar/razar/agents/k2"
	"github.com/razar/razar/agents/kimicho"
	"github.com/razar/razar/agents/rstar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/ctl"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/logrot"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/memory"
)

// cli is what every command shares: the home, the streams, the environment.
type cli struct {
	home           string
	creds          string // --creds: the NATS identity to connect as
	stdout, stderr io.Writer
	getenv         func(string) string // the environment, then config/razar.env
	lookup         config.Lookup       // likewise, telling unset from empty
	secrets        *redactors

	env *ctl.Env // the environment, then config/razar.env

	cmd        *cobra.Command                      // the command running
	completing bool                                // cobra completes a command line
	kids       map[*cobra.Command][]*cobra.Command // each command's subcommands, in help order
}

// newCLI returns the shared state of one command over home, with the
// process environment looked up through osLookup. config/razar.env is read
// at the first look-up, once flags have settled the home.
func newCLI(home string, stdout, stderr io.Writer, osLookup config.Lookup) *cli {
	c := &cli{home: home, stdout: stdout, stderr: stderr}
	c.env = ctl.NewEnv(func() string { return c.home }, osLookup, func() io.Writer { return c.stderr })
	c.lookup, c.getenv = c.env.Lookup, c.env.Getenv
	c.secrets = &redactors{c: c}
	return c
}

// readEnvFile reads config/razar.env; a missing file is no settings.
func (c *cli) readEnvFile() (map[string]string, error) { return c.env.ReadFile() }

// envFileErr says why config/razar.env could not be read: `razar boot`
// refuses to start on a broken file.
func (c *cli) envFileErr() error { return c.env.FileErr() }

// swapEnvFile installs env as config/razar.env's settings and returns the old ones.
func (c *cli) swapEnvFile(env map[string]string) map[string]string { return c.env.Swap(env) }

// redactor returns the current secrets redactor of the home.
func (c *cli) redactor() *razar.Redactor {
	if c.secrets == nil {
		c.secrets = &redactors{c: c}
	}
	return c.secrets.get()
}

// rungs lists the five rung packages; a roster agent not among them runs as
// a generic rung.
func rungs() []agents.Rung {
	return []agents.Rung{crown.Rung(), kimicho.Rung(), k2.Rung(), airstar.Rung(), rstar.Rung()}
}

func rungFor(name string) agents.Rung {
	for _, r := range rungs() {
		if r.Name == name {
			return r
		}
	}
	return agents.Generic(name)
}

// daemonLogger logs JSON lines to logs/razar.log and a console view to stderr.
func (c *cli) daemonLogger(name string) (zerolog.Logger, func(), error) {
	// Never through a symlink: one planted at logs/razar.log would have
	// RAZAR append, with its rights, to whatever it points at.
	// It rotates by size (RAZAR_LOG_MAX_BYTES, 64 MiB; three old files
	// kept), whichever of RAZAR's processes writes it.
	maxBytes, err := config.Vars(c.getenv).Size("RAZAR_LOG_MAX_BYTES", 64<<20, 1<<40)
	if err != nil {
		return zerolog.Nop(), nil, err
	}
	f, err := logrot.NewRollingWith(razar.Home(c.home).RazarLog(), maxBytes, 3, 0o640, homedir.OpenAppend)
	if err != nil {
		return zerolog.Nop(), nil, failed("%v", err)
	}
	console := zerolog.ConsoleWriter{Out: c.stderr, TimeFormat: "15:04:05", NoColor: true}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	out := redactWriter{w: zerolog.MultiLevelWriter(f, console), red: c.redactor}
	log := zerolog.New(out).With().Timestamp().Str("process", name).Logger()
	if lvl, err := zerolog.ParseLevel(c.getenv("RAZAR_LOG_LEVEL")); err == nil && lvl != zerolog.NoLevel {
		log = log.Level(lvl)
	} else {
		log = log.Level(zerolog.InfoLevel)
	}
	return log, func() { f.Close() }, nil
}

// client is the operator's client of the home as the flags left it.
func (c *cli) client() *ctl.Client {
	return &ctl.Client{Home: c.home, Creds: c.creds, Stdout: c.stdout, Stderr: c.stderr,
		Getenv: c.getenv, Lookup: c.lookup, Redactor: c.redactor, RungFor: rungFor, DaemonLogger: c.daemonLogger}
}

// What the daemon's and the rotation's code (daemon.go, rotate.go,
// monitoring.go) still calls on the cli: each is ctl's.

// cliLogger logs warnings and worse to stderr, for one-shot commands.
func (c *cli) cliLogger() zerolog.Logger { return c.client().Logger() }

// connect dials the bus as the operator identity (or --creds).
func (c *cli) connect(ctx context.Context, flagURL, name string, log zerolog.Logger) (*bus.Conn, error) {
	return c.client().Connect(ctx, flagURL, name, log)
}

// credsFor is the creds file to connect as identity ident.
func (c *cli) credsFor(ident string) string { return c.client().CredsFor(ident) }

// actor is who runs the command, for the record.
func (c *cli) actor() string { return c.client().Actor() }

// externalControlCreds is the lifecycle listener's identity on an external bus.
func (c *cli) externalControlCreds() string { return c.client().ExternalControlCreds() }

// initMemory runs one initialization pass of the memory layers.
func (c *cli) initMemory(ctx context.Context, source string, store *jetstream.Store, storeErr error, cfg *config.MemoryConfig, log zerolog.Logger) *memory.Result {
	return ctl.InitMemory(ctx, c.home, source, store, storeErr, cfg, log)
}

// recordMemoryAudit records a memory audit of the home's stores.
func (c *cli) recordMemoryAudit(ctx context.Context, store *jetstream.Store, rep *memory.AuditReport, actor string, log zerolog.Logger) {
	ctl.RecordMemoryAudit(ctx, c.home, store, rep, actor, log)
}

// runMemoryAudit audits RAZAR's store layers.
func runMemoryAudit(ctx context.Context, store *jetstream.Store, patchDir string, items int, progress memory.Progress) *memory.AuditReport {
	return ctl.RunMemoryAudit(ctx, store, patchDir, items, progress)
}

// loadBoot reads the boot config with workdirs resolved against home.
func loadBoot(path, home string) (*config.BootConfig, error) { return ctl.LoadBoot(path, home) }

func sanitize(s string) string { return ctl.Sanitize(s) }

func replyErr(component string, rep *bus.LifecycleReply, err error) error {
	return ctl.ReplyErr(component, rep, err)
}

// printTail prints the last n lines of f, made safe for a terminal (the
// status page reads the logs/ mirror with it).
func printTail(w io.Writer, f *os.File, n int) (int64, error) { return ctl.PrintTail(w, f, n) }
