package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar/internal/clihelp"
)

func TestCompletionScriptsForEveryShell(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_razar", "zsh": "#compdef razar", "fish": "complete -c razar"} {
		out, stderr, code := runCLI(t, "completion", shell)
		if code != 0 || stderr != "" || !strings.Contains(out, want) {
			t.Errorf("razar completion %s: exit %d, stderr %q, want a script with %q", shell, code, stderr, want)
		}
	}
	if _, stderr, code := runCLI(t, "completion", "tcsh"); code != 2 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("razar completion tcsh: exit %d, want 2 with one line:\n%s", code, stderr)
	}
}

func TestCompletionCompletesCommandsFlagsAndComponents(t *testing.T) {
	h := home(t, crownRoster, nil)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "sta"}, "status\t"},
		{[]string{"__complete", "agents", ""}, "check\t"},
		{[]string{"__complete", "status", "--j"}, "--json\t"},
		{[]string{"__complete", "boot", "--ret"}, "--retries\t"},
		{[]string{"__complete", "logs", "-"}, "-n\t"},
		// RAZAR is not running: the home's boot config names the components.
		{[]string{"__complete", "--home", h, "stop", ""}, "web\n"},
		{[]string{"__complete", "logs", "--home", h, ""}, "web\n"},
		{[]string{"__complete", "--home", h, "agent", ""}, "crown\n"},
	} {
		out, stderr, code := runCLI(t, tt.args...)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("razar %q: exit %d, want %q in:\n%s%s", tt.args, code, tt.want, out, stderr)
		}
		if strings.Contains(stderr, "razar:") {
			t.Errorf("razar %q: completion said something on stderr:\n%s", tt.args, stderr)
		}
	}
	// No home, no RAZAR: nothing to offer, and nothing said.
	out, stderr, code := runCLI(t, "__complete", "--home", filepath.Join(t.TempDir(), "none"), "stop", "")
	if code != 0 || strings.Contains(out, "web") || strings.Contains(stderr, "razar:") {
		t.Errorf("completion without a home: exit %d:\n%s%s", code, out, stderr)
	}
}

func TestManPagesHaveAPagePerCommand(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runCLI(t, "man", "--dir", dir); code != 0 {
		t.Fatalf("razar man --dir: exit %d:\n%s", code, stderr)
	}
	c := newCLI(".", io.Discard, io.Discard, os.LookupEnv)
	root := c.newRoot()
	for _, cmd := range append(c.tree.Rows(root), root) {
		if cmd.Name() == "help" {
			continue
		}
		page := filepath.Join(dir, strings.ReplaceAll(strings.TrimSpace("razar "+clihelp.SynopsisName(cmd)), " ", "-")+".1")
		b, err := os.ReadFile(page)
		if err != nil {
			t.Errorf("no man page for %q: %v", clihelp.SynopsisName(cmd), err)
			continue
		}
		if !strings.Contains(string(b), ".TH \"RAZAR\" \"1\"") || !strings.Contains(string(b), "SYNOPSIS") {
			t.Errorf("%s is not a man page:\n%s", page, b)
		}
	}
	if _, stderr, code := runCLI(t, "man"); code != 2 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("razar man without --dir: exit %d, want 2:\n%s", code, stderr)
	}
	if out, _, _ := runCLI(t, "help"); strings.Contains(out, "  man ") {
		t.Errorf("razar help lists the hidden man command:\n%s", out)
	}
}
