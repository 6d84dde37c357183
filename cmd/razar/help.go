package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// errHelp is returned, inside an exitError with code 0, by parseFlags
// once it printed a command's help: the command stops there and run
// returns nil.
var errHelp = errors.New("help printed")

func isHelp(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.code == 0 && errors.Is(ee.err, errHelp)
}

// globalFlags are defined by every FlagSet newFlags makes and listed
// apart in each command's help.
var globalFlags = map[string]bool{"home": true, "creds": true}

const homeUsage = "the `DIR` of the RAZAR home (default $RAZAR_HOME, else the current directory)"

// takeGlobals consumes the global flags at the front of args: --home DIR
// and --creds FILE
// (or -home, or =DIR) and -h/--help. It stops at the first other word.
//
// The home may also come after the command name, among its flags: there
// the command's FlagSet parses it (newFlags defines --home on each), so
// the flag package decides whether "--home" is a flag or the value of the
// flag before it (`escalate web --error --home` sets the error text to
// "--home"). Only the front of args, before the command name or between a
// group and its subcommand, is taken here, because no flag there can be
// waiting for a value.
func (c *cli) takeGlobals(args []string) (rest []string, help bool, err error) {
	for len(args) > 0 {
		a := args[0]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || strings.HasPrefix(a, "---") || a == "-" || a == "--" {
			return args, help, nil
		}
		switch {
		case name == "home" || name == "creds":
			what := map[string]string{"home": "a directory", "creds": "a creds file"}[name]
			if !hasVal {
				if len(args) < 2 {
					return nil, false, usageErr("--%s needs %s", name, what)
				}
				val, args = args[1], args[1:]
			}
			if val == "" {
				return nil, false, usageErr("--%s needs %s", name, what)
			}
			if name == "home" {
				c.home = val
			} else {
				c.creds = val
			}
		case (name == "h" || name == "help") && !hasVal:
			help = true
		default:
			return args, help, nil
		}
		args = args[1:]
	}
	return args, help, nil
}

// flagOutput is the output of a FlagSet from newFlags. The flag package's
// own messages are dropped (parseFlags returns them as one-line errors);
// help goes to w.
type flagOutput struct{ w io.Writer }

func (flagOutput) Write(p []byte) (int, error) { return len(p), nil }

// printHelp prints the help of the command of fs: its usage line, its
// description and its flags.
func printHelp(fs *flag.FlagSet) {
	w := fs.Output()
	if fo, ok := w.(flagOutput); ok {
		w = fo.w
	}
	name := strings.TrimPrefix(fs.Name(), "razar ")
	if cmd := lookup(name); cmd != nil {
		fmt.Fprintf(w, "Usage: %s\n\n%s\n", cmd.usageLine(), unquoteCode(cmd.desc))
		if cmd.more != "" {
			fmt.Fprintf(w, "\n%s", unquoteCode(cmd.more))
		}
	} else {
		fmt.Fprintf(w, "Usage: razar %s [flags]\n", name)
	}
	var own, global []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if globalFlags[f.Name] {
			global = append(global, f)
		} else {
			own = append(own, f)
		}
	})
	printFlagList(w, "Flags", own)
	printFlagList(w, "Global flags", global)
}

func printFlagList(w io.Writer, title string, flags []*flag.Flag) {
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

// flagHelp returns how a flag is typed (--json, --error TEXT) and what it
// does. As with flag.UnquoteUsage, the first `word` in the usage text names
// a value flag's value; one with a space in it ("start them with `razar
// agent`") is a command quoted, not a name, and a bool takes no value at
// all, whatever its usage quotes.
func flagHelp(f *flag.Flag) (syn, usage string) {
	isBool := false
	if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
		isBool = true
	}
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
	if isBool {
		syn = "--" + f.Name
		if f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		return syn, usage
	}
	if placeholder == "" {
		placeholder = typePlaceholder(f)
	}
	switch f.DefValue {
	case "", "0", "0s", "[]":
	default:
		usage += " (default " + f.DefValue + ")"
	}
	return "--" + f.Name + " " + placeholder, usage
}

// typePlaceholder names the value of a flag whose usage does not.
func typePlaceholder(f *flag.Flag) string {
	g := *f
	g.Usage = ""
	switch name, _ := flag.UnquoteUsage(&g); name {
	case "int", "uint":
		return "N"
	case "float":
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
