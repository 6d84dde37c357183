// Command razar boots a host's components, heals them, and escalates what it
// cannot heal up a ladder of repair agents over a NATS JetStream mesh.
//
// Run `razar help` for the commands; root.go builds them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/razar/razar"
	"github.com/razar/razar/ctl"
	"github.com/razar/razar/internal/clihelp"
	"github.com/razar/razar/patch"
)

// exitError carries an exit status with its one-line message (ctl's).
type exitError = ctl.ExitError

func usageErr(format string, a ...any) error { return ctl.UsageError(format, a...) }

func failed(format string, a ...any) error { return ctl.Failed(format, a...) }

func main() {
	// First: when Validate started this binary as the validation
	// sandbox's init, it builds the sandbox and execs the validate command.
	patch.SandboxMain()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		if ee.Code == 0 {
			return 0 // help was asked for and printed
		}
		code = ee.Code
	case errors.Is(err, razar.ErrInvalidConfig):
		code = 2
	}
	fmt.Fprintln(stderr, "razar: "+err.Error())
	return code
}

// run is the whole program: it parses args and runs one command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	home := os.Getenv("RAZAR_HOME")
	if home == "" {
		home = "."
	}
	c := newCLI(home, stdout, stderr, os.LookupEnv)
	completing := len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd)
	root := c.newRoot()
	args = clihelp.SingleDash(root, args)
	if a := clihelp.LeadingUnknown(root, args); a != "" && !completing {
		return c.tree.UnknownCommand(root, a)
	}
	root.SetArgs(append([]string{}, args...))
	return root.ExecuteContext(ctx)
}
