package main

import (
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/agents/airstar"
	"github.com/razar/razar/agents/crown"
	"github.com/razar/razar/agents/k2"
	"github.com/razar/razar/agents/kimicho"
	"github.com/razar/razar/agents/rstar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/ctl"
	"github.com/razar/razar/internal/clihelp"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/logrot"
)

// cli is what every command shares: the home, the streams, the environment.
type cli struct {
	home           string
	creds          string // --creds: the NATS identity to connect as
	stdout, stderr io.Writer
	getenv         func(string) string // the environment, then config/razar.env
	lookup         config.Lookup       // likewise, telling unset from empty
	secrets        *ctl.Secrets        // the home's, read at first use, once flags have settled the home

	env  *ctl.Env      // the environment, then config/razar.env
	tree *clihelp.Tree // the command tree's listing, help and errors
}

// newCLI returns the shared state of one command over home, with the
// process environment looked up through osLookup. config/razar.env is read
// at the first look-up, once flags have settled the home.
func newCLI(home string, stdout, stderr io.Writer, osLookup config.Lookup) *cli {
	c := &cli{home: home, stdout: stdout, stderr: stderr}
	c.env = ctl.NewEnv(func() string { return c.home }, osLookup, func() io.Writer { return c.stderr })
	c.lookup, c.getenv = c.env.Lookup, c.env.Getenv
	c.secrets = c.newSecrets()
	c.tree = &clihelp.Tree{Usage: usageErr, Top: c.usageText, Needs: map[string]string{"home": "a directory", "creds": "a creds file"}}
	return c
}

// redactor returns the current secrets redactor of the home.
func (c *cli) redactor() *razar.Redactor { return c.secrets.Redactor() }

// newSecrets are the secrets of the home, whichever the flags settle.
func (c *cli) newSecrets() *ctl.Secrets {
	return ctl.NewSecrets(func() string { return c.home }, c.lookup, rungs(), rungFor)
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
