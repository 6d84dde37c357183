package clihelp

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/razar/razar/config"
)

// Tree is a cobra command tree as the razar CLI shows it: commands listed
// in the order they were adopted (cobra sorts its own list by name), help
// pages in the layout of the CLI before cobra, one-line errors.
type Tree struct {
	// Usage makes the error of a bad command line (exit 2).
	Usage func(format string, a ...any) error
	// Top is the root's help: the text of `razar help`.
	Top func(root *cobra.Command) string
	// Needs says what each global flag takes ("a directory"), for the
	// error of one given without it.
	Needs map[string]string

	kids map[*cobra.Command][]*cobra.Command // each command's subcommands, in help order
}

// command makes a command typed as name, whose usage line goes on with
// args, described by desc in the list and by more in its own help.
func Command(name, args, desc, more string) *cobra.Command {
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
func (t *Tree) Group(root *cobra.Command, name string) *cobra.Command {
	g := Command(name, "", "", "")
	g.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return t.Usage("usage: razar %s %s (run 'razar help %s')", name, strings.Join(t.Names(g), " | "), name)
		}
		return t.UnknownCommand(g, args[0])
	}
	return t.Adopt(root, g)
}

// Adopt adds child to parent and to the listing of parent's commands
// (cobra sorts its own list by name; `razar help` keeps this order).
func (t *Tree) Adopt(parent, child *cobra.Command) *cobra.Command {
	parent.AddCommand(child)
	t.List(parent, child)
	return child
}

// List adds child to the listing of parent's commands only: cobra has
// it already (a help command).
func (t *Tree) List(parent, child *cobra.Command) {
	if t.kids == nil {
		t.kids = map[*cobra.Command][]*cobra.Command{}
	}
	t.kids[parent] = append(t.kids[parent], child)
}

// Names are the names of cmd's subcommands, in the order they were added.
func (t *Tree) Names(cmd *cobra.Command) []string {
	var out []string
	for _, s := range t.kids[cmd] {
		out = append(out, s.Name())
	}
	return out
}

// Rows are the commands `razar help` lists under cmd, in the order they
// were added: a group's subcommands in its place.
func (t *Tree) Rows(cmd *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, s := range t.kids[cmd] {
		if len(t.kids[s]) > 0 {
			out = append(out, t.Rows(s)...)
		} else {
			out = append(out, s)
		}
	}
	return out
}

// HelpCmd is `razar help [<command>]`.
func (t *Tree) HelpCmd(root *cobra.Command) *cobra.Command {
	h := Command("help", "[<command>]", "this text, or a command's usage and flags", "")
	h.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 || args[0] == "help" || strings.HasPrefix(args[0], "-") {
			fmt.Fprint(cmd.OutOrStdout(), t.Top(root))
			return nil
		}
		target, rest, err := root.Find(args)
		switch {
		case err != nil:
			return t.Usage("%v", err)
		case len(rest) > 0 && target.HasSubCommands():
			return t.UnknownCommand(target, rest[0])
		}
		t.PrintHelp(target, nil)
		return nil
	}
	return h
}

// Synopsis is a command's name from the root and what follows it.
func Synopsis(cmd *cobra.Command) string {
	path := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
	_, args, _ := strings.Cut(cmd.Use, " ")
	return strings.TrimSpace(path + " " + args)
}

// WriteRows lists commands as `razar help` does: synopsis, then description.
func WriteRows(w io.Writer, cmds []*cobra.Command) {
	const col = 24
	for _, cmd := range cmds {
		syn := Synopsis(cmd)
		if len(syn) < col-1 {
			fmt.Fprintf(w, "  %-*s%s\n", col, syn, UnquoteCode(cmd.Short))
		} else {
			fmt.Fprintf(w, "  %s\n  %*s%s\n", syn, col, "", UnquoteCode(cmd.Short))
		}
	}
}

// PrintHelp prints a command's help: its usage line, its description,
// more help and its flags; a group's subcommands; the root's usage text.
func (t *Tree) PrintHelp(cmd *cobra.Command, _ []string) {
	w := cmd.OutOrStdout()
	switch {
	case !cmd.HasParent():
		fmt.Fprint(w, t.Top(cmd))
		return
	case cmd.HasSubCommands():
		name := cmd.Name()
		fmt.Fprintf(w, "Usage: razar %s %s\n\n", name, strings.Join(t.Names(cmd), " | "))
		WriteRows(w, t.Rows(cmd))
		fmt.Fprintf(w, "\nRun 'razar help %s <subcommand>' for its flags.\n", name)
		return
	}
	fmt.Fprintf(w, "Usage: razar %s\n\n%s\n", Synopsis(cmd), UnquoteCode(cmd.Short))
	if cmd.Long != "" {
		fmt.Fprintf(w, "\n%s", UnquoteCode(cmd.Long))
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
	usage = UnquoteCode(usage)
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

// UnquoteCode turns `code` in help text into 'code', as a terminal shows it.
func UnquoteCode(s string) string {
	return strings.ReplaceAll(s, "`", "'")
}

// UnknownCommand is the one-line error of a typo under parent, with the
// likely command: of cobra's suggestions, the closest.
func (t *Tree) UnknownCommand(parent *cobra.Command, typed string) error {
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
	for _, n := range t.Names(parent) {
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
	return t.Usage("%s\nrun 'razar help' for the commands", msg)
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

var (
	needsArg = regexp.MustCompile(`^flag needs an argument: (?:'.' in -.|-., )?--?(\S+)$`)
	badValue = regexp.MustCompile(`^invalid argument "(.*)" for "(?:-., )?--(\S+)" flag: `)
)

// FlagError turns pflag's error about cmd's flags into a usage error of
// one line: the global flags say what they need, a bad duration is
// explained in words (not Go's parser's), and the rest point at --help.
func (t *Tree) FlagError(cmd *cobra.Command, err error) error {
	name := SynopsisName(cmd)
	if m := needsArg.FindStringSubmatch(err.Error()); m != nil && t.Needs[m[1]] != "" {
		return t.Usage("--%s needs %s", m[1], t.Needs[m[1]])
	}
	if m := badValue.FindStringSubmatch(err.Error()); m != nil {
		if t.Needs[m[2]] != "" {
			return t.Usage("--%s needs %s", m[2], t.Needs[m[2]])
		}
		if f := cmd.Flags().Lookup(m[2]); f != nil && f.Value.Type() == "duration" {
			return t.Usage("%s: --%s %q is not a duration: use a number and a unit, e.g. 90s, 5m, 1h", name, m[2], m[1])
		}
	}
	if name == "" {
		return t.Usage("%v", err)
	}
	return t.Usage("%s: %v (run 'razar %s --help' for its flags)", name, err, name)
}

// SynopsisName is the command's name below the root ("agents check").
func SynopsisName(cmd *cobra.Command) string {
	return strings.TrimPrefix(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()), " ")
}

// longFlag matches a long flag typed with one dash (-home, -json=false),
// which Go's flag package took and pflag reads as shorthands.
var longFlag = regexp.MustCompile(`^-([a-z][a-z0-9-]+)(=.*)?$`)

// SingleDash rewrites the long flags of root typed with one dash to two,
// as the CLI before cobra took them; the value of a flag is left alone.
func SingleDash(root *cobra.Command, args []string) []string {
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

// LeadingUnknown is a flag before the command that razar does not know
// ("razar --bogus status"), which is a typo of a command as before cobra;
// "" when there is none.
func LeadingUnknown(root *cobra.Command, args []string) string {
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
