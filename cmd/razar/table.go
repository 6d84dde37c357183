package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/razar/razar/bus"
)

// command is one row of the command table: the one source of the
// dispatch, the top-level `razar help` text and each command's usage line.
//
// A run function must build its flags with c.newFlags(name) and call
// parseFlags before it does anything else: `razar help <name>` runs it
// with --help, which prints the usage and flags and returns.
type command struct {
	name string // as typed; two words for a group's subcommand ("agents check")
	args string // what follows the name in the usage line
	desc string // one line
	run  func(c *cli, ctx context.Context, args []string) error
	more string // more help, in `razar help <name>` only
}

// commands is the command table, in the order `razar help` lists them.
// Adding a command is adding a row. (It is filled in init: the commands'
// help reads it, which a package-level initializer may not.)
var commands []command

func init() {
	commands = []command{
		{"boot", "[flags]", "boot the components, run the bus, the rungs and the orchestrator", (*cli).boot, bootHelp},
		{"reload", "", "re-read config/ and config/razar.env (also SIGHUP); a reload that fails changes nothing", (*cli).reload, ""},
		{"detach", "", "exit RAZAR and leave the components running, for an upgrade; `razar boot` adopts them", (*cli).detach, ""},
		{"agent", "<name> [--nats URL] [--creds F]", "run one rung as its own process", (*cli).agent, ""},
		{"identity add", "<name> --role operator|observer|rung [--expires 90d]", "mint a NATS identity (state/identities/<name>.creds)", (*cli).identityAdd, identityHelp},
		{"identity list", "", "the home's NATS identities: role, public key, expiry, revoked", (*cli).identityList, identityHelp},
		{"identity revoke", "<name|public-key>", "end an identity at once, without a restart", (*cli).identityRevoke, identityHelp},
		{"escalate", "<component> --error TEXT", "open an incident by hand and follow it; exit 0 healed, 1 failed", (*cli).escalate, ""},
		{"stop", "<component>", "stop a component; it stays stopped until `razar start`", verb(bus.VerbStop), ""},
		{"start", "<component>", "start a component and wait until it is healthy", verb(bus.VerbStart), ""},
		{"restart", "<component>", "restart a component and wait until it is healthy", verb(bus.VerbRestart), ""},
		{"abort", "<component>", "abort the component's open incident", verb(bus.VerbAbort), ""},
		{"release", "<component>", "lift a component's quarantine (then start it); works with RAZAR stopped too", verb(bus.VerbRelease), ""},
		{"resume", "", "take a halted boot cycle on from where it stopped, in priority order (release what is quarantined first)", (*cli).resume, resumeHelp},
		{"status", "[<component>] [--json]", "components, incidents and rungs; exit 1 if halted or a component is down", (*cli).status, statusHelp},
		{"audit", "[--since 1h|RFC3339] [--component C] [--incident ID] [--json]", "replay the audit trail from JetStream; --incident: each attempt, what its rung saw and did", (*cli).audit, ""},
		{"logs", "<component> [-f] [-n N]", "a component's output (logs/components/<name>.log), -f to follow it", (*cli).logs, ""},
		{"agents check", "[--local]", "each running rung process: ready, or why not; exit 1 if a remote rung cannot run", (*cli).agentsCheck, ""},
		{"agents reload", "", "every running rung drops cached config and credentials", (*cli).agentsReload, ""},
		{"verify-monitoring", "[--exporter URL]...", "probe the /metrics endpoints (RAZAR, chakra, node exporter, cAdvisor, GPU); exit 1 on any gap", (*cli).verifyMonitoring, verifyMonitoringHelp},
		{"rotate-keys", "--secrets-dir DIR (--dry-run | --apply [--wait 30m])", "rotate remote rungs' credentials from manifests, once two operator identities approve", (*cli).rotateKeys, rotateHelp},
		{"approve", "<component> <patch-id> | rotation <rotation-id>", "promote a validated patch held for approval, or approve a credential rotation as this identity", verb(bus.VerbApprove), ""},
		{"reject", "<component> <patch-id> | rotation <rotation-id>", "discard a validated patch held for approval, or end a credential rotation", verb(bus.VerbReject), ""},
		{"ack", "<component> [--summary TEXT]", "acknowledge a human rung's page: the ladder waits (up to the rung's ack_timeout)", verb(bus.VerbAck), humanHelp},
		{"resolve", "<component> [--summary TEXT]", "answer a human rung's page: fixed by hand, RAZAR verifies it", verb(bus.VerbResolve), humanHelp},
		{"pass", "<component> [--summary TEXT]", "answer a human rung's page: hand the incident on to the next rung", verb(bus.VerbPass), humanHelp},
		{"rollback-patch", "<component> [--patch ID]", "restore the files of the last applied patch (or the one named)", (*cli).rollbackPatch, ""},
		{"memory init", "[--source boot_orchestrator|bootstrap_memory|bootstrap_world]", "check every memory layer; write the gauges to monitoring/boot_metrics.prom", (*cli).memoryInit, memoryHelp},
		{"memory audit", "[--items N]", "write N items (default 10000) through every store layer, read them back, verify their SHA-256", (*cli).memoryAudit, memoryHelp},
		{"fixes list", "[--json]", "the fix memory: failure signatures with a remembered fix", fixesVerb("list"), fixesHelp},
		{"fixes show", "<signature> [--json]", "a signature's remembered fixes: diff, file hashes, who wrote it", fixesVerb("show"), fixesHelp},
		{"fixes forget", "<signature>", "drop a signature's fixes: its next occurrence climbs the ladder (operator)", fixesVerb("forget"), fixesHelp},
		{"fixes pin", "<signature> [--fix ID]", "make a remembered fix a permanent rule, tried first (operator)", fixesVerb("pin"), fixesHelp},
		{"version", "", "print the version, the commit and the Go version (also `razar --version`)", (*cli).versionCmd, ""},
		// help has no run: it reads this table, so the dispatch handles it.
		{"help", "[<command>]", "this text, or a command's usage and flags", nil, ""},
	}
}

func verb(v bus.Verb) func(*cli, context.Context, []string) error {
	return func(c *cli, ctx context.Context, args []string) error { return c.lifecycle(ctx, v, args) }
}

// lookup returns the row named name, or nil.
func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// subcommands returns the rows of group ("agents"), or nil when name is
// not a group.
func subcommands(group string) []command {
	var out []command
	for _, cmd := range commands {
		if strings.HasPrefix(cmd.name, group+" ") {
			out = append(out, cmd)
		}
	}
	return out
}

// topNames is what may follow `razar`: each command, each group once.
func topNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, cmd := range commands {
		w, _, _ := strings.Cut(cmd.name, " ")
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

func (cmd *command) usageLine() string {
	return strings.TrimSpace("razar " + cmd.name + " " + cmd.args)
}

// writeRows lists rows as `razar help` does: synopsis, then description.
func writeRows(w io.Writer, rows []command) {
	const col = 24
	for _, cmd := range rows {
		syn := strings.TrimSpace(cmd.name + " " + cmd.args)
		if len(syn) < col-1 {
			fmt.Fprintf(w, "  %-*s%s\n", col, syn, unquoteCode(cmd.desc))
		} else {
			fmt.Fprintf(w, "  %s\n  %*s%s\n", syn, col, "", unquoteCode(cmd.desc))
		}
	}
}

// usageText is the top-level `razar help`.
func usageText() string {
	var b strings.Builder
	b.WriteString("razar: a self-healing orchestrator with an escalation ladder of repair agents.\n\n")
	b.WriteString("Usage: razar [--home DIR] <command> [arguments] [flags]\n\nCommands:\n")
	writeRows(&b, commands)
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

// help is `razar help [<command>]`.
func (c *cli) help(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(c.stdout, usageText())
		return nil
	}
	return c.dispatch(ctx, append(args[:len(args):len(args)], "--help"))
}

// dispatch runs the command args name, with the rest of args.
func (c *cli) dispatch(ctx context.Context, args []string) error {
	name, rest := args[0], args[1:]
	if name == "help" {
		return c.help(ctx, rest)
	}
	if subs := subcommands(name); subs != nil {
		rest, help, err := c.takeGlobals(rest)
		if err != nil {
			return err
		}
		if help || len(rest) == 0 {
			var names []string
			for _, s := range subs {
				names = append(names, strings.TrimPrefix(s.name, name+" "))
			}
			if !help {
				return usageErr("usage: razar %s %s (run 'razar help %s')", name, strings.Join(names, " | "), name)
			}
			fmt.Fprintf(c.stdout, "Usage: razar %s %s\n\n", name, strings.Join(names, " | "))
			writeRows(c.stdout, subs)
			fmt.Fprintf(c.stdout, "\nRun 'razar help %s <subcommand>' for its flags.\n", name)
			return nil
		}
		if cmd := lookup(name + " " + rest[0]); cmd != nil {
			return cmd.run(c, ctx, rest[1:])
		}
		var names []string
		for _, s := range subs {
			names = append(names, strings.TrimPrefix(s.name, name+" "))
		}
		return unknownCommand(name+" ", rest[0], names)
	}
	if cmd := lookup(name); cmd != nil && cmd.run != nil {
		return cmd.run(c, ctx, rest)
	}
	return unknownCommand("", name, topNames())
}

// unknownCommand is the one-line error of a typo, with the likely command.
func unknownCommand(prefix, name string, names []string) error {
	msg := fmt.Sprintf("unknown command %q", prefix+name)
	if s := suggest(name, names); len(s) > 0 {
		for i := range s {
			s[i] = fmt.Sprintf("%q", prefix+s[i])
		}
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageErr("%s\nrun 'razar help' for the commands", msg)
}

// suggest returns the names closest to typed: those it is a prefix of (at
// least two letters typed), else those within two edits, where swapping
// two neighbouring letters is one edit. Only the closest tie is returned,
// at most three.
func suggest(typed string, names []string) []string {
	typed = strings.ToLower(typed)
	type cand struct {
		name string
		d    int
	}
	var cands []cand
	for _, n := range names {
		d := editDistance(typed, n)
		if len(typed) >= 2 && strings.HasPrefix(n, typed) {
			d = 0
		}
		if d <= 2 {
			cands = append(cands, cand{n, d})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].d < cands[j].d })
	var out []string
	for _, c := range cands {
		if c.d > cands[0].d || len(out) == 3 {
			break
		}
		out = append(out, c.name)
	}
	return out
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
