package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/razar/razar/internal/clihelp"
)

// completionCmd is `razar completion bash|zsh|fish`: the shell's
// completion script, which asks `razar __complete` for commands, flags and
// the running RAZAR's component names.
func (c *cli) completionCmd() *cobra.Command {
	cmd := clihelp.Command("completion", "bash|zsh|fish", "print the shell completion script: commands, flags and the running RAZAR's components",
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
	cmd := clihelp.Command("man", "--dir DIR", "write a man page per command into DIR", "")
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
// components, else those of config/boot_config.json (ctl.ComponentNames).
func (c *cli) completeComponents(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c.stderr = io.Discard // nothing a shell would print under the prompt
	return c.client().ComponentNames(cmd.Context()), cobra.ShellCompDirectiveNoFileComp
}

// completeRungs completes a rung name from the roster.
func (c *cli) completeRungs(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return c.client().RungNames(), cobra.ShellCompDirectiveNoFileComp
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
