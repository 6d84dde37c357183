package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/clihelp"
)

// newRoot builds the command tree: `razar help` lists the commands in the
// order they are added here.
func (c *cli) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "razar",
		Short:         "a self-healing orchestrator with an escalation ladder of repair agents",
		Args:          cobra.ArbitraryArgs,
		SilenceErrors: true, // main prints the one line, razar: <error>
		SilenceUsage:  true,
		// An unknown flag before an unknown command is the command's typo.
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		CompletionOptions:  cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetHelpFunc(c.tree.PrintHelp)
	root.SetFlagErrorFunc(c.tree.FlagError)
	pf := root.PersistentFlags()
	pf.Var(&nonEmpty{dst: &c.home, what: "a directory"}, "home", homeUsage)
	pf.Var(&nonEmpty{dst: &c.creds, what: "a creds file"}, "creds", credsUsage)
	pf.Lookup("home").DefValue = "" // its usage says the default
	version := root.Flags().Bool("version", false, "print the version, as `razar version` does")
	root.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case *version:
			return c.printVersion(args)
		case len(args) == 0:
			fmt.Fprint(c.stderr, c.usageText(root))
			return usageErr("no command given")
		}
		return c.tree.UnknownCommand(root, args[0])
	}
	c.addCommands(root)
	c.tree.Adopt(root, c.completionCmd())
	root.AddCommand(c.manCmd())
	help := c.tree.HelpCmd(root)
	root.SetHelpCommand(help)
	c.tree.List(root, help)
	return root
}

// addCommands adds every command but help, completion and man.
func (c *cli) addCommands(root *cobra.Command) {
	c.tree.Adopt(root, c.bootCmd())
	c.tree.Adopt(root, c.daemonVerbCmd("reload", "re-read config/ and config/razar.env (also SIGHUP); a reload that fails changes nothing", "", bus.VerbReload))
	c.tree.Adopt(root, c.daemonVerbCmd("detach", "exit RAZAR and leave the components running, for an upgrade; `razar boot` adopts them", "", bus.VerbDetach))
	c.tree.Adopt(root, c.agentCmd())
	c.identityCmds(c.tree.Group(root, "identity"))
	c.tree.Adopt(root, c.escalateCmd())
	for _, v := range []struct {
		verb bus.Verb
		desc string
	}{
		{bus.VerbStop, "stop a component; it stays stopped until `razar start`"},
		{bus.VerbStart, "start a component and wait until it is healthy"},
		{bus.VerbRestart, "restart a component and wait until it is healthy"},
		{bus.VerbAbort, "abort the component's open incident"},
		{bus.VerbRelease, "lift a component's quarantine (then start it); works with RAZAR stopped too"},
	} {
		c.tree.Adopt(root, c.lifecycleCmd(v.verb, "<component>", v.desc, ""))
	}
	c.tree.Adopt(root, c.daemonVerbCmd("resume", "take a halted boot cycle on from where it stopped, in priority order (release what is quarantined first)", resumeHelp, bus.VerbResume))
	c.tree.Adopt(root, c.statusCmd())
	c.tree.Adopt(root, c.auditCmd())
	c.tree.Adopt(root, c.logsCmd())
	c.agentsCmds(c.tree.Group(root, "agents"))
	c.tree.Adopt(root, c.verifyMonitoringCmd())
	c.tree.Adopt(root, c.rotateCmd())
	c.tree.Adopt(root, c.lifecycleCmd(bus.VerbApprove, "<component> <patch-id> | rotation <rotation-id>", "promote a validated patch held for approval, or approve a credential rotation as this identity", ""))
	c.tree.Adopt(root, c.lifecycleCmd(bus.VerbReject, "<component> <patch-id> | rotation <rotation-id>", "discard a validated patch held for approval, or end a credential rotation", ""))
	c.tree.Adopt(root, c.lifecycleCmd(bus.VerbAck, "<component> [--summary TEXT]", "acknowledge a human rung's page: the ladder waits (up to the rung's ack_timeout)", humanHelp))
	c.tree.Adopt(root, c.lifecycleCmd(bus.VerbResolve, "<component> [--summary TEXT]", "answer a human rung's page: fixed by hand, RAZAR verifies it", humanHelp))
	c.tree.Adopt(root, c.lifecycleCmd(bus.VerbPass, "<component> [--summary TEXT]", "answer a human rung's page: hand the incident on to the next rung", humanHelp))
	c.tree.Adopt(root, c.rollbackCmd())
	c.memoryCmds(c.tree.Group(root, "memory"))
	c.fixesCmds(c.tree.Group(root, "fixes"))
	c.tree.Adopt(root, c.versionCmd())
}

// usageText is the top-level `razar help`.
func (c *cli) usageText(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("razar: a self-healing orchestrator with an escalation ladder of repair agents.\n\n")
	b.WriteString("Usage: razar [--home DIR] <command> [arguments] [flags]\n\nCommands:\n")
	clihelp.WriteRows(&b, c.tree.Rows(root))
	b.WriteString(`
Run 'razar help <command>' or 'razar <command> --help' for a command's flags.
The home is --home DIR (before or after the command), else $RAZAR_HOME, else
the current directory.
Exit status: 0 done, 1 the job failed, 2 bad usage or a config error.
The ladder: RAZAR_RSTAR_THRESHOLD (T, 9) failed attempts round the local rungs
before rStar; with the shipped four local rungs T = 9 is 2¼ passes, 4 × N is N
full passes ('razar help boot').
`)
	return b.String()
}

// nonEmpty is a string flag that refuses an empty value: --home and --creds.
type nonEmpty struct {
	dst  *string
	what string
}

func (v *nonEmpty) String() string { return *v.dst }
func (v *nonEmpty) Type() string   { return "string" }
func (v *nonEmpty) Set(s string) error {
	if s == "" {
		return errors.New("needs " + v.what)
	}
	*v.dst = s
	return nil
}

const homeUsage = "the `DIR` of the RAZAR home (default $RAZAR_HOME, else the current directory)"

const credsUsage = "NATS identity `FILE` to connect as (default $RAZAR_CREDS, else state/identities/<role>.creds: operator for commands, the rung's own for `razar agent`, orchestrator for `razar boot --nats`)"

const bootHelp = `The ladder: each incident goes round the local rungs of
config/razar_ai_agents.json, one turn each per pass (--remote-attempts attempts
a turn), until RAZAR_RSTAR_THRESHOLD (T, default 9) attempts have failed; then
the takeover rung (rStar) has its turn. With the shipped roster's four local
rungs (Crown, Kimi-cho, K2 Coder, Air Star) and one attempt a turn, T = 9 is
2¼ passes: two full passes, then Crown once more, then rStar. For N full
passes set T = 4 × N. T = 0: one pass, no takeover.
RAZAR_ESCALATION_WARNING_THRESHOLD (W, default 3; keep it ≥ 1): the warning
alert from the W-th hand-over on.

Settings come from the environment, then config/razar.env; a variable there
that RAZAR does not read is a warning naming the nearest one it does (with
--strict, exit 2: nothing is started).
`

const humanHelp = `A human rung (backend human in config/razar_ai_agents.json) is a person
on call. Its turn pages (alert RazarHumanPage: webhook, Alertmanager, the
bus) with the incident's history, the patches proposed so far and these
commands, and waits for an answer until the rung's timeout:

  razar ack <component>                    the ladder waits for resolve or pass, up to
                                           the rung's ack_timeout (default 1h)
  razar resolve <component> --summary TEXT fixed by hand: verified like any fix
  razar pass <component>                   the next rung takes the incident

Only an operator identity answers (--creds state/identities/operator.creds, or
one made with ` + "`razar identity add <name> --role operator`" + `); the record names it.
The nats CLI answers too: nats req razar.lifecycle.<verb>.<component>
'{"v":1,"summary":"..."}' (docs/PROTOCOL.md section 6).
`
