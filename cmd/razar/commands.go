package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/ctl"
	"github.com/razar/razar/internal/clihelp"
	"github.com/razar/razar/memory"
)

// The client commands: each binds its flags to ctl's options and checks
// its arguments; what it does is ctl's.

// native makes a command whose flags cobra parses into what flags binds;
// run gets the positional arguments.
func (c *cli) native(name, args, desc, more string, run func(ctx context.Context, args []string) error) *cobra.Command {
	cmd := clihelp.Command(name, args, desc, more)
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return run(cmd.Context(), args) }
	return cmd
}

// noArgs is the usage error of a command that takes no arguments.
func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return usageErr("%s takes no arguments, got %q", name, args[0])
	}
	return nil
}

const natsUsage = "NATS `URL`"

func (c *cli) daemonVerbCmd(name, desc, more string, verb bus.Verb) *cobra.Command {
	var natsURL string
	var strict bool
	cmd := c.native(name, "", desc, more, func(ctx context.Context, args []string) error {
		if err := noArgs(name, args); err != nil {
			return err
		}
		switch {
		case verb == bus.VerbResume:
			return c.client().Resume(ctx, natsURL)
		case strict:
			if err := c.strictReload(); err != nil {
				return err
			}
		}
		return c.client().DaemonVerb(ctx, verb, natsURL)
	})
	cmd.Flags().StringVar(&natsURL, "nats", "", natsUsage)
	if verb == bus.VerbReload {
		cmd.Flags().BoolVar(&strict, "strict", false, "refuse to send the reload (exit 2) when config/razar.env sets a variable RAZAR does not read or RAZAR_ESCALATION_WARNING_THRESHOLD=0 (a RAZAR booted with --strict refuses such a reload itself)")
	}
	return cmd
}

// strictReload is reload --strict's check of the settings, before
// anything is sent.
func (c *cli) strictReload() error {
	if err := c.env.FileErr(); err != nil {
		return err
	}
	s := &settings{}
	if err := c.readVariables(s); err != nil {
		return err
	}
	return strictErr(c.configWarnings(s))
}

func (c *cli) escalateCmd() *cobra.Command {
	var o ctl.EscalateOptions
	cmd := c.native("escalate", "<component> --error TEXT", "open an incident by hand and follow it; exit 0 healed, 1 failed", "", func(ctx context.Context, args []string) error {
		if len(args) != 1 || o.Error == "" {
			return usageErr("usage: razar escalate <component> --error TEXT")
		}
		o.Component = args[0]
		return c.client().Escalate(ctx, o)
	})
	cmd.Flags().StringVar(&o.Error, "error", "", "the failure to repair, as `TEXT` such as a log line (required)")
	cmd.Flags().StringVar(&o.NATS, "nats", "", "NATS `URL` (default $RAZAR_NATS_URL, else state/nats.url)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print each audit record as a JSON line")
	cmd.ValidArgsFunction = c.completeComponents
	return cmd
}

func (c *cli) lifecycleCmd(verb bus.Verb, args, desc, more string) *cobra.Command {
	var o ctl.LifecycleOptions
	cmd := c.native(string(verb), args, desc, more, func(ctx context.Context, args []string) error {
		o.Args = args
		return c.client().Lifecycle(ctx, verb, o)
	})
	cmd.Flags().StringVar(&o.NATS, "nats", "", natsUsage)
	if verb == bus.VerbAck || verb == bus.VerbResolve || verb == bus.VerbPass {
		cmd.Flags().StringVar(&o.Summary, "summary", "", "a note for the record (resolve: what was done by hand)")
	}
	cmd.ValidArgsFunction = c.completeComponents
	return cmd
}

func (c *cli) statusCmd() *cobra.Command {
	var o ctl.StatusOptions
	cmd := c.native("status", "[<component>] [--json]", "components, incidents and rungs; exit 1 if halted or a component is down", statusHelp, func(ctx context.Context, args []string) error {
		if len(args) > 1 {
			return usageErr("usage: razar status [<component>] [--json]")
		}
		if len(args) == 1 {
			o.Component = args[0]
		}
		return c.client().Status(ctx, o)
	})
	cmd.Flags().StringVar(&o.NATS, "nats", "", natsUsage)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the reply as JSON")
	cmd.ValidArgsFunction = c.completeComponents
	return cmd
}

func (c *cli) auditCmd() *cobra.Command {
	var o ctl.AuditOptions
	cmd := c.native("audit", "[--since 1h|RFC3339] [--component C] [--incident ID] [--json]", "replay the audit trail from JetStream; --incident: each attempt, what its rung saw and did", "", func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usageErr("audit takes no arguments; use --component or --incident")
		}
		return c.client().Audit(ctx, o)
	})
	f := cmd.Flags()
	f.StringVar(&o.NATS, "nats", "", natsUsage)
	f.StringVar(&o.Since, "since", "", "only records newer than this: a duration (1h, 2d) or RFC 3339 time")
	f.StringVar(&o.Component, "component", "", "only this component's records")
	f.StringVar(&o.Incident, "incident", "", "this incident: each attempt with what its rung saw and did (with --json, its raw records)")
	f.BoolVar(&o.JSON, "json", false, "print JSON lines")
	_ = cmd.RegisterFlagCompletionFunc("component", c.completeComponents)
	return cmd
}

func (c *cli) logsCmd() *cobra.Command {
	var o ctl.LogsOptions
	cmd := c.native("logs", "<component> [-f] [-n N]", "a component's output (logs/components/<name>.log), -f to follow it", "", func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return usageErr("usage: razar logs <component> [-f] [-n N]")
		}
		o.Component = args[0]
		return c.client().Logs(ctx, o)
	})
	cmd.Flags().IntVarP(&o.Lines, "n", "n", 50, "print the last `N` lines (0: all)")
	cmd.Flags().BoolVarP(&o.Follow, "f", "f", false, "keep printing what the component writes, until interrupted")
	cmd.ValidArgsFunction = c.completeComponents
	return cmd
}

func (c *cli) rollbackCmd() *cobra.Command {
	var o ctl.RollbackOptions
	cmd := c.native("rollback-patch", "<component> [--patch ID]", "restore the files of the last applied patch (or the one named)", "", func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return usageErr("usage: razar rollback-patch <component> [--patch ID]")
		}
		o.Component = args[0]
		return c.client().RollbackPatch(ctx, o)
	})
	cmd.Flags().StringVar(&o.Patch, "patch", "", "the patch `ID` to roll back (default: the last applied)")
	cmd.Flags().StringVar(&o.NATS, "nats", "", natsUsage)
	cmd.Flags().StringVar(&o.Config, "config", "", "boot config `file` (default config/boot_config.json)")
	cmd.ValidArgsFunction = c.completeComponents
	return cmd
}

func (c *cli) agentsCmds(g *cobra.Command) {
	var natsURL string
	var local bool
	check := c.native("check", "[--local]", "each running rung process: ready, or why not; exit 1 if a remote rung cannot run", "", func(ctx context.Context, args []string) error {
		if err := noArgs("agents check", args); err != nil {
			return err
		}
		return c.client().AgentsCheck(ctx, natsURL, local)
	})
	check.Flags().StringVar(&natsURL, "nats", "", "NATS `URL` of the running RAZAR")
	check.Flags().BoolVar(&local, "local", false, "check in this shell's environment only, without asking the running rungs")
	reload := c.native("reload", "", "every running rung drops cached config and credentials", "", func(ctx context.Context, _ []string) error {
		return c.client().AgentsReload(ctx, natsURL)
	})
	reload.Flags().StringVar(&natsURL, "nats", "", natsUsage)
	c.tree.Adopt(g, check)
	c.tree.Adopt(g, reload)
}

func (c *cli) identityCmds(g *cobra.Command) {
	var add ctl.IdentityAddOptions
	addCmd := c.native("add", "<name> --role operator|observer|rung [--expires 90d]", "mint a NATS identity (state/identities/<name>.creds)", identityHelp, func(ctx context.Context, args []string) error {
		if len(args) != 1 || add.Role == "" {
			return usageErr("usage: razar identity add <name> --role operator|observer|rung [--expires 90d]")
		}
		add.Name = args[0]
		return c.client().IdentityAdd(ctx, add)
	})
	addCmd.Flags().StringVar(&add.Role, "role", "", "`ROLE` operator, observer or rung (required)")
	addCmd.Flags().StringVar(&add.Expires, "expires", "90d", "how long the identity is accepted: `AGE` in days (30d) or a Go duration (12h), at most 730d")
	_ = addCmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"operator", "observer", "rung"}, cobra.ShellCompDirectiveNoFileComp))
	list := c.native("list", "", "the home's NATS identities: role, public key, expiry, revoked", identityHelp, func(ctx context.Context, _ []string) error {
		return c.client().IdentityList(ctx)
	})
	var natsURL string
	revoke := c.native("revoke", "<name|public-key>", "end an identity at once, without a restart", identityHelp, func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return usageErr("usage: razar identity revoke <name|public-key>")
		}
		return c.client().IdentityRevoke(ctx, args[0], natsURL)
	})
	revoke.Flags().StringVar(&natsURL, "nats", "", "NATS `URL` of the running RAZAR (default state/nats.url)")
	c.tree.Adopt(g, addCmd)
	c.tree.Adopt(g, list)
	c.tree.Adopt(g, revoke)
}

func (c *cli) memoryCmds(g *cobra.Command) {
	var in ctl.MemoryInitOptions
	initCmd := c.native("init", "[--source boot_orchestrator|bootstrap_memory|bootstrap_world]", "check every memory layer; write the gauges to monitoring/boot_metrics.prom", memoryHelp, func(ctx context.Context, args []string) error {
		if err := noArgs("memory init", args); err != nil {
			return err
		}
		return c.client().MemoryInit(ctx, in)
	})
	initCmd.Flags().StringVar(&in.Source, "source", memory.SourceMemory, "entry point the gauges are labelled with: "+strings.Join(memory.Sources, ", "))
	initCmd.Flags().StringVar(&in.Config, "config", "", "boot config `file` (default config/boot_config.json in the home)")
	initCmd.Flags().StringVar(&in.NATS, "nats", "", natsUsage)
	_ = initCmd.RegisterFlagCompletionFunc("source", cobra.FixedCompletions(memory.Sources, cobra.ShellCompDirectiveNoFileComp))
	var au ctl.MemoryAuditOptions
	audit := c.native("audit", "[--items N]", "write N items (default 10000) through every store layer, read them back, verify their SHA-256", memoryHelp, func(ctx context.Context, args []string) error {
		if err := noArgs("memory audit", args); err != nil {
			return err
		}
		return c.client().MemoryAudit(ctx, au)
	})
	audit.Flags().IntVar(&au.Items, "items", memory.DefaultAuditItems, "items to write through each layer")
	audit.Flags().StringVar(&au.NATS, "nats", "", natsUsage)
	c.tree.Adopt(g, initCmd)
	c.tree.Adopt(g, audit)
}

func (c *cli) fixesCmds(g *cobra.Command) {
	for _, f := range []struct{ name, args, desc string }{
		{"list", "[--json]", "the fix memory: failure signatures with a remembered fix"},
		{"show", "<signature> [--json]", "a signature's remembered fixes: diff, file hashes, who wrote it"},
		{"forget", "<signature>", "drop a signature's fixes: its next occurrence climbs the ladder (operator)"},
		{"pin", "<signature> [--fix ID]", "make a remembered fix a permanent rule, tried first (operator)"},
	} {
		var o ctl.FixesOptions
		cmd := c.native(f.name, f.args, f.desc, fixesHelp, func(ctx context.Context, args []string) error {
			o.Args = args
			return c.client().Fixes(ctx, f.name, o)
		})
		cmd.Flags().StringVar(&o.NATS, "nats", "", natsUsage)
		cmd.Flags().BoolVar(&o.JSON, "json", false, "print the reply as JSON")
		if f.name == "pin" {
			cmd.Flags().StringVar(&o.Fix, "fix", "", "the fix `ID` to pin (default the newest)")
		}
		c.tree.Adopt(g, cmd)
	}
}
