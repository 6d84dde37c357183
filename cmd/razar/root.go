package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
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
	root.SetHelpFunc(c.printHelp)
	root.SetFlagErrorFunc(flagError)
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
		return c.unknownCommand(root, args[0])
	}
	c.addCommands(root)
	c.adopt(root, c.completionCmd())
	root.AddCommand(c.manCmd())
	help := c.helpCmd(root)
	root.SetHelpCommand(help)
	c.kids[root] = append(c.kids[root], help)
	return root
}

// addCommands adds every command but help, completion and man.
func (c *cli) addCommands(root *cobra.Command) {
	c.adopt(root, c.bootCmd())
	c.adopt(root, c.daemonVerbCmd("reload", "re-read config/ and config/razar.env (also SIGHUP); a reload that fails changes nothing", "", bus.VerbReload))
	c.adopt(root, c.daemonVerbCmd("detach", "exit RAZAR and leave the components running, for an upgrade; `razar boot` adopts them", "", bus.VerbDetach))
	c.adopt(root, c.agentCmd())
	c.identityCmds(c.group(root, "identity"))
	c.adopt(root, c.escalateCmd())
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
		c.adopt(root, c.lifecycleCmd(v.verb, "<component>", v.desc, ""))
	}
	c.adopt(root, c.daemonVerbCmd("resume", "take a halted boot cycle on from where it stopped, in priority order (release what is quarantined first)", resumeHelp, bus.VerbResume))
	c.adopt(root, c.statusCmd())
	c.adopt(root, c.auditCmd())
	c.adopt(root, c.logsCmd())
	c.agentsCmds(c.group(root, "agents"))
	c.adopt(root, c.verifyMonitoringCmd())
	c.adopt(root, c.rotateCmd())
	c.adopt(root, c.lifecycleCmd(bus.VerbApprove, "<component> <patch-id> | rotation <rotation-id>", "promote a validated patch held for approval, or approve a credential rotation as this identity", ""))
	c.adopt(root, c.lifecycleCmd(bus.VerbReject, "<component> <patch-id> | rotation <rotation-id>", "discard a validated patch held for approval, or end a credential rotation", ""))
	c.adopt(root, c.lifecycleCmd(bus.VerbAck, "<component> [--summary TEXT]", "acknowledge a human rung's page: the ladder waits (up to the rung's ack_timeout)", humanHelp))
	c.adopt(root, c.lifecycleCmd(bus.VerbResolve, "<component> [--summary TEXT]", "answer a human rung's page: fixed by hand, RAZAR verifies it", humanHelp))
	c.adopt(root, c.lifecycleCmd(bus.VerbPass, "<component> [--summary TEXT]", "answer a human rung's page: hand the incident on to the next rung", humanHelp))
	c.adopt(root, c.rollbackCmd())
	c.memoryCmds(c.group(root, "memory"))
	c.fixesCmds(c.group(root, "fixes"))
	c.adopt(root, c.versionCmd())
}

// command makes a command typed as name, whose usage line goes on with
// args, described by desc in the list and by more in its own help.
func command(name, args, desc, more string) *cobra.Command {
	return &cobra.Command{
		Use:                   strings.TrimSpace(name + " " + args),
		Short:                 desc,
		Long:                  more,
		Args:                  cobra.ArbitraryArgs, // each command says what it takes
		DisableFlagsInUseLine: true,
	}
}

// group makes the command of a group of subcommands (razar agents ...):
// alone it is a usage error that names the subcommands.
func (c *cli) group(root *cobra.Command, name string) *cobra.Command {
	g := command(name, "", "", "")
	g.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageErr("usage: razar %s %s (run 'razar help %s')", name, strings.Join(c.subNames(g), " | "), name)
		}
		return c.unknownCommand(g, args[0])
	}
	return c.adopt(root, g)
}

// adopt adds child to parent and to the listing of parent's commands
// (cobra sorts its own list by name; `razar help` keeps this order).
func (c *cli) adopt(parent, child *cobra.Command) *cobra.Command {
	parent.AddCommand(child)
	if c.kids == nil {
		c.kids = map[*cobra.Command][]*cobra.Command{}
	}
	c.kids[parent] = append(c.kids[parent], child)
	return child
}

// subNames are the names of cmd's subcommands, in the order they were added.
func (c *cli) subNames(cmd *cobra.Command) []string {
	var out []string
	for _, s := range c.kids[cmd] {
		out = append(out, s.Name())
	}
	return out
}

// rows are the commands `razar help` lists under cmd, in the order they
// were added: a group's subcommands in its place.
func (c *cli) rows(cmd *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, s := range c.kids[cmd] {
		if len(c.kids[s]) > 0 {
			out = append(out, c.rows(s)...)
		} else {
			out = append(out, s)
		}
	}
	return out
}

// helpCmd is `razar help [<command>]`.
func (c *cli) helpCmd(root *cobra.Command) *cobra.Command {
	h := command("help", "[<command>]", "this text, or a command's usage and flags", "")
	h.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 || args[0] == "help" || strings.HasPrefix(args[0], "-") {
			fmt.Fprint(c.stdout, c.usageText(root))
			return nil
		}
		target, rest, err := root.Find(args)
		switch {
		case err != nil:
			return usageErr("%v", err)
		case len(rest) > 0 && target.HasSubCommands():
			return c.unknownCommand(target, rest[0])
		}
		c.printHelp(target, nil)
		return nil
	}
	return h
}

// synopsis is a command's name from the root and what follows it.
func synopsis(cmd *cobra.Command) string {
	path := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
	_, args, _ := strings.Cut(cmd.Use, " ")
	return strings.TrimSpace(path + " " + args)
}

// writeRows lists commands as `razar help` does: synopsis, then description.
func writeRows(w io.Writer, cmds []*cobra.Command) {
	const col = 24
	for _, cmd := range cmds {
		syn := synopsis(cmd)
		if len(syn) < col-1 {
			fmt.Fprintf(w, "  %-*s%s\n", col, syn, unquoteCode(cmd.Short))
		} else {
			fmt.Fprintf(w, "  %s\n  %*s%s\n", syn, col, "", unquoteCode(cmd.Short))
		}
	}
}

// usageText is the top-level `razar help`.
func (c *cli) usageText(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("razar: a self-healing orchestrator with an escalation ladder of repair agents.\n\n")
	b.WriteString("Usage: razar [--home DIR] <command> [arguments] [flags]\n\nCommands:\n")
	writeRows(&b, c.rows(root))
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

// printHelp prints a command's help: its usage line, its description,
// more help and its flags; a group's subcommands; the root's usage text.
func (c *cli) printHelp(cmd *cobra.Command, _ []string) {
	w := cmd.OutOrStdout()
	switch {
	case !cmd.HasParent():
		fmt.Fprint(w, c.usageText(cmd))
		return
	case cmd.HasSubCommands():
		name := cmd.Name()
		fmt.Fprintf(w, "Usage: razar %s %s\n\n", name, strings.Join(c.subNames(cmd), " | "))
		writeRows(w, c.rows(cmd))
		fmt.Fprintf(w, "\nRun 'razar help %s <subcommand>' for its flags.\n", name)
		return
	}
	fmt.Fprintf(w, "Usage: razar %s\n\n%s\n", synopsis(cmd), unquoteCode(cmd.Short))
	if cmd.Long != "" {
		fmt.Fprintf(w, "\n%s", unquoteCode(cmd.Long))
	}
	var own, global []*pflag.Flag
	cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !f.Hidden {
			own = append(own, f)
		}
	})
	cmd.Root().PersistentFlags().VisitAll(func(f *pflag.Flag) { global = append(global, f) })
	printFlagList(w, "Flags", own)
	printFlagList(w, "Global flags", global)
}

func printFlagList(w io.Writer, title string, flags []*pflag.Flag) {
	if len(flags) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range flags {
		syn, usage := flagHelp(f)
		fmt.Fprintf(tw, "  %s\t%s\n", syn, usage)
	}
	tw.Flush()
}

// flagHelp returns how a flag is typed (--json, --error TEXT, -n N) and
// what it does. The first `word` in the usage text names a value flag's
// value; one with a space in it ("start them with `razar agent`") is a
// command quoted, not a name, and a bool takes no value at all, whatever
// its usage quotes.
func flagHelp(f *pflag.Flag) (syn, usage string) {
	isBool := f.Value.Type() == "bool"
	usage = f.Usage
	placeholder := ""
	if i := strings.IndexByte(usage, '`'); i >= 0 && !isBool {
		if j := strings.IndexByte(usage[i+1:], '`'); j >= 0 {
			if word := usage[i+1 : i+1+j]; word != "" && !strings.ContainsAny(word, " \t") {
				placeholder = strings.ToUpper(word)
				usage = usage[:i] + word + usage[i+2+j:]
			}
		}
	}
	usage = unquoteCode(usage)
	syn = "--" + f.Name
	if len(f.Name) == 1 {
		syn = "-" + f.Name
	}
	if isBool {
		if f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		return syn, usage
	}
	if placeholder == "" {
		placeholder = typePlaceholder(f.Value.Type())
	}
	switch f.DefValue {
	case "", "0", "0s", "[]":
	default:
		usage += " (default " + f.DefValue + ")"
	}
	return syn + " " + placeholder, usage
}

// typePlaceholder names the value of a flag whose usage does not.
func typePlaceholder(typ string) string {
	switch typ {
	case "int", "uint", "int64":
		return "N"
	case "float64":
		return "NUMBER"
	case "duration":
		return "DURATION"
	default:
		return "VALUE"
	}
}

// unquoteCode turns `code` in help text into 'code', as a terminal shows it.
func unquoteCode(s string) string {
	return strings.ReplaceAll(s, "`", "'")
}

// unknownCommand is the one-line error of a typo under parent, with the
// likely command: of cobra's suggestions, the closest.
func (c *cli) unknownCommand(parent *cobra.Command, typed string) error {
	prefix := ""
	if parent.HasParent() {
		prefix = parent.Name() + " "
	}
	msg := fmt.Sprintf("unknown command %q", prefix+typed)
	parent.SuggestionsMinimumDistance = 2
	near := map[string]bool{}
	for _, n := range parent.SuggestionsFor(typed) {
		near[n] = true
	}
	var names []string // in the order of the help
	for _, n := range c.subNames(parent) {
		if near[n] {
			names = append(names, n)
		}
	}
	if s := closest(typed, names); len(s) > 0 {
		for i := range s {
			s[i] = fmt.Sprintf("%q", prefix+s[i])
		}
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErr("%s\nrun 'razar help' for the commands", msg)
}

// closest keeps the names nearest to typed: those it is a prefix of (at
// least two letters typed), else those within two edits, where swapping
// two neighbouring letters is one edit. Only the closest tie is kept, at
// most three.
func closest(typed string, names []string) []string {
	typed = strings.ToLower(typed)
	dist := func(n string) int {
		if len(typed) >= 2 && strings.HasPrefix(n, typed) {
			return 0
		}
		return config.EditDistance(typed, n)
	}
	best := 3
	for _, n := range names {
		best = min(best, dist(n))
	}
	var out []string
	for _, n := range names {
		if d := dist(n); d == best && d <= 2 && len(out) < 3 {
			out = append(out, n)
		}
	}
	return out
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

var (
	needsArg   = regexp.MustCompile(`^flag needs an argument: (?:'.' in -.|-., )?--?(\S+)$`)
	badValue   = regexp.MustCompile(`^invalid argument "(.*)" for "(?:-., )?--(\S+)" flag: `)
	globalWhat = map[string]string{"home": "a directory", "creds": "a creds file"}
)

// flagError turns pflag's error about cmd's flags into a usage error of
// one line: the global flags say what they need, a bad duration is
// explained in words (not Go's parser's), and the rest point at --help.
func flagError(cmd *cobra.Command, err error) error {
	name := synopsisName(cmd)
	if m := needsArg.FindStringSubmatch(err.Error()); m != nil && globalWhat[m[1]] != "" {
		return usageErr("--%s needs %s", m[1], globalWhat[m[1]])
	}
	if m := badValue.FindStringSubmatch(err.Error()); m != nil {
		if globalWhat[m[2]] != "" {
			return usageErr("--%s needs %s", m[2], globalWhat[m[2]])
		}
		if f := cmd.Flags().Lookup(m[2]); f != nil && f.Value.Type() == "duration" {
			return usageErr("%s: --%s %q is not a duration: use a number and a unit, e.g. 90s, 5m, 1h", name, m[2], m[1])
		}
	}
	if name == "" {
		return usageErr("%v", err)
	}
	return usageErr("%s: %v (run 'razar %s --help' for its flags)", name, err, name)
}

// synopsisName is the command's name below the root ("agents check").
func synopsisName(cmd *cobra.Command) string {
	return strings.TrimPrefix(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()), " ")
}

// longFlag matches a long flag typed with one dash (-home, -json=false),
// which Go's flag package took and pflag reads as shorthands.
var longFlag = regexp.MustCompile(`^-([a-z][a-z0-9-]+)(=.*)?$`)

// singleDash rewrites the long flags of root typed with one dash to two,
// as the CLI before cobra took them; the value of a flag is left alone.
func singleDash(root *cobra.Command, args []string) []string {
	takesValue := map[string]bool{}
	var visit func(*cobra.Command)
	visit = func(cmd *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { takesValue[f.Name] = f.Value.Type() != "bool" })
		}
		for _, s := range cmd.Commands() {
			visit(s)
		}
	}
	visit(root)
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		m := longFlag.FindStringSubmatch(a)
		if m != nil {
			if val, known := takesValue[m[1]]; known {
				out[i] = "-" + a
				if val && m[2] == "" {
					i++ // its value, whatever it looks like
				}
				continue
			}
		}
		if name, ok := strings.CutPrefix(a, "--"); ok && !strings.Contains(name, "=") && takesValue[name] {
			i++
		}
	}
	return out
}

// leadingUnknown is a flag before the command that razar does not know
// ("razar --bogus status"), which is a typo of a command as before cobra;
// "" when there is none.
func leadingUnknown(root *cobra.Command, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "--" {
			return ""
		}
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := root.Flags().Lookup(name)
		if f == nil {
			f = root.PersistentFlags().Lookup(name)
		}
		switch {
		case f == nil && (name == "h" || name == "help"):
		case f == nil:
			return a
		case f.Value.Type() != "bool" && !hasVal:
			i++ // its value
		}
	}
	return ""
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
