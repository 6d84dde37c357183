package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
)

// completionCmd is `razar completion bash|zsh|fish`: the shell's
// completion script, which asks `razar __complete` for commands, flags and
// the running RAZAR's component names.
func (c *cli) completionCmd() *cobra.Command {
	cmd := command("completion", "bash|zsh|fish", "print the shell completion script: commands, flags and the running RAZAR's components",
		"Load it in the shell, e.g.\n\n  source <(razar completion bash)\n  razar completion zsh > \"${fpath[1]}/_razar\"\n  razar completion fish > ~/.config/fish/completions/razar.fish\n")
	cmd.ValidArgs = []string{"bash", "zsh", "fish"}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErr("usage: razar completion bash|zsh|fish")
		}
		root := cmd.Root()
		switch args[0] {
		case "bash":
			return root.GenBashCompletionV2(c.stdout, true)
		case "zsh":
			return root.GenZshCompletion(c.stdout)
		case "fish":
			return root.GenFishCompletion(c.stdout, true)
		}
		return usageErr("completion %q: want bash, zsh or fish", args[0])
	}
	return cmd
}

// manCmd is the hidden `razar man --dir DIR`: a man page per command
// (make man writes them to dist/man).
func (c *cli) manCmd() *cobra.Command {
	cmd := command("man", "--dir DIR", "write a man page per command into DIR", "")
	cmd.Hidden = true
	dir := cmd.Flags().String("dir", "", "`DIR` to write the pages into (required)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *dir == "" || len(args) > 0 {
			return usageErr("usage: razar man --dir DIR")
		}
		root := cmd.Root()
		root.DisableAutoGenTag = true
		escapeMarkdown(root)
		hdr := &doc.GenManHeader{Title: "RAZAR", Section: "1", Source: "RAZAR", Manual: "RAZAR Manual"}
		if err := doc.GenManTree(root, hdr, *dir); err != nil {
			return failed("man pages: %v", err)
		}
		return nil
	}
	return cmd
}

// completeComponents completes a component name: the running RAZAR's
// components when it answers within a moment, else those of
// config/boot_config.json. It never says why it found none.
func (c *cli) completeComponents(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c.stderr = io.Discard // nothing a shell would print under the prompt
	if names := c.runningComponents(cmd.Context()); len(names) > 0 {
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	cfg, err := config.LoadBootConfig(razar.Home(c.home).BootConfig())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, comp := range cfg.Components {
		names = append(names, comp.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// runningComponents asks the running RAZAR for its components, as
// `razar status --json` does, within a short deadline.
func (c *cli) runningComponents(ctx context.Context) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	nc, err := c.connect(ctx, "", "razar-complete", zerolog.Nop())
	if err != nil {
		return nil
	}
	defer nc.Close()
	rep, err := bus.Command(ctx, nc, bus.VerbStatus, bus.AllComponents, nil)
	if err != nil {
		return nil
	}
	var view bus.StatusView
	if json.Unmarshal(rep.Data, &view) != nil || view.Mission == nil {
		return nil
	}
	var names []string
	for _, v := range view.Mission.Components {
		names = append(names, v.Name)
	}
	return names
}

// completeRungs completes a rung name from the roster.
func (c *cli) completeRungs(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	roster, err := config.LoadRoster(razar.Home(c.home).Roster())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, a := range roster.Agents {
		names = append(names, a.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// escapeMarkdown escapes the angle brackets of the help texts under cmd,
// which the man pages' markdown would take for HTML tags (<component>).
func escapeMarkdown(cmd *cobra.Command) {
	esc := strings.NewReplacer("<", `\<`, ">", `\>`)
	cmd.Use, cmd.Short, cmd.Long = esc.Replace(cmd.Use), esc.Replace(cmd.Short), esc.Replace(cmd.Long)
	for _, s := range cmd.Commands() {
		escapeMarkdown(s)
	}
}
