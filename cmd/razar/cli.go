package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/agents/airstar"
	"github.com/razar/razar/agents/crown"
	"github.com/razar/razar/agents/k2"
	"github.com/razar/razar/agents/kimicho"
	"github.com/razar/razar/agents/rstar"
	"github.com/razar/razar/auth"
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
	declaring  *pflag.FlagSet                      // set: the cli only learns an entry's flags (root.go's legacy)
	completing bool                                // cobra completes a command line
	kids       map[*cobra.Command][]*cobra.Command // each command's subcommands, in help order
}

// envFileName is the optional settings file of CONTRACT section 1.
const envFileName = ctl.EnvFile

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

func (c *cli) path(rel string) string { return filepath.Join(c.home, rel) }

// Paths of CONTRACT section 1.
const (
	bootConfigFile = "config/boot_config.json"
	rosterFile     = "config/razar_ai_agents.json"
	razarLogFile   = "logs/razar.log"
	stateDir       = "state"
	identitiesDir  = stateDir + "/" + auth.Dir
	natsURLFile    = "state/nats.url"
	// homeIDFile is the home's identity, the razar_home label of its alerts.
	homeIDFile = "state/home.id"
	// alertsFile keeps the open alerts across restarts, so the next boot
	// resolves those whose cause ended while RAZAR was stopped.
	alertsFile = "state/alerts.json"
)

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

// flagSet is the flag set of an entry that parses its own arguments
// (root.go's legacy): a pflag set whose Var takes a flag.Value too.
type flagSet struct {
	*pflag.FlagSet
	c *cli
}

// Var defines a flag of a flag.Value (one without pflag's Type).
func (fs *flagSet) Var(v flag.Value, name, usage string) {
	fs.FlagSet.Var(stdValue{v}, name, usage)
}

// stdValue is a flag.Value as a pflag.Value.
type stdValue struct{ flag.Value }

func (stdValue) Type() string { return "value" }

// newFlags makes the flag set of the command name ("agents check") for an
// entry that parses its own arguments. It defines the global --home and
// --creds, so they may be given among the command's flags.
func (c *cli) newFlags(name string) *flagSet {
	fs := &flagSet{FlagSet: pflag.NewFlagSet("razar "+name, pflag.ContinueOnError), c: c}
	fs.SetOutput(io.Discard) // parseFlags returns pflag's messages as one-line errors
	fs.Usage = func() {}
	if c.declaring == nil {
		fs.FlagSet.Var(&nonEmpty{dst: &c.home, what: "a directory"}, "home", homeUsage)
		fs.FlagSet.Var(&nonEmpty{dst: &c.creds, what: "a creds file"}, "creds", credsUsage)
	}
	return fs
}

// errDeclared stops an entry run only to learn its flags.
var errDeclared = errors.New("flags declared")

// parseFlags parses args, letting flags and positional arguments mix. On
// -h or --help it prints the command's help and returns an error that run
// turns into exit 0. On a cli that only learns an entry's flags, it hands
// them over and returns errDeclared.
func parseFlags(fs *flagSet, args []string) ([]string, error) {
	c := fs.c
	if c.declaring != nil {
		c.declaring.AddFlagSet(fs.FlagSet)
		return nil, errDeclared
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			if c.cmd != nil {
				c.printHelp(c.cmd, nil)
			}
			return nil, &exitError{Code: 0, Err: errHelp}
		}
		if c.cmd != nil {
			return nil, flagError(c.cmd, err)
		}
		return nil, usageErr("%s: %v", strings.TrimPrefix(fs.Name(), "razar "), err)
	}
	return fs.Args(), nil
}

// errHelp is returned, inside an exitError with code 0, by parseFlags
// once it printed a command's help: the command stops there and run
// returns nil.
var errHelp = errors.New("help printed")

func isHelp(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.Code == 0 && errors.Is(ee.Err, errHelp)
}

// daemonLogger logs JSON lines to logs/razar.log and a console view to stderr.
func (c *cli) daemonLogger(name string) (zerolog.Logger, func(), error) {
	// Never through a symlink: one planted at logs/razar.log would have
	// RAZAR append, with its rights, to whatever it points at.
	// It rotates by size (RAZAR_LOG_MAX_BYTES, 64 MiB; three old files
	// kept), whichever of RAZAR's processes writes it.
	maxBytes, err := c.envSize("RAZAR_LOG_MAX_BYTES", 64<<20, 1<<40)
	if err != nil {
		return zerolog.Nop(), nil, err
	}
	f, err := logrot.NewRollingWith(c.path(razarLogFile), maxBytes, 3, 0o640, homedir.OpenAppend)
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

// envInt reads a non-negative integer setting, or def when unset.
func (c *cli) envInt(name string, def int) (int, error) {
	v := strings.TrimSpace(c.getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &razar.ConfigError{File: "env", Field: name, Msg: fmt.Sprintf("%q is not a whole number ≥ 0", v), Fix: fmt.Sprintf("unset it for the default %d, or set a number", def)}
	}
	return n, nil
}

// envDuration reads a positive duration setting ("10s"), or def when unset.
// A bad value is explained in words, never with Go's parser's message.
func (c *cli) envDuration(name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(c.getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		msg := fmt.Sprintf("%q is not a duration: use a number and a unit, e.g. 90s, 5m, 1h", v)
		if err == nil {
			msg = fmt.Sprintf("%q is not a positive duration: use a number above 0 and a unit, e.g. 90s, 5m, 1h", v)
		}
		return 0, &razar.ConfigError{File: "env", Field: name, Msg: msg, Fix: "unset it for the default " + shortDuration(def) + ", or set a duration"}
	}
	return d, nil
}

// shortDuration writes d as an operator would: 1h, 90s, 1h30m, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
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

// parseAge reads a Go duration or a whole number of days ("30d").
func parseAge(v string) (time.Duration, error) { return ctl.ParseAge(v) }

func sanitize(s string) string { return ctl.Sanitize(s) }

func replyErr(component string, rep *bus.LifecycleReply, err error) error {
	return ctl.ReplyErr(component, rep, err)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// printTail prints the last n lines of f, made safe for a terminal (the
// status page reads the logs/ mirror with it).
func printTail(w io.Writer, f *os.File, n int) (int64, error) { return ctl.PrintTail(w, f, n) }
