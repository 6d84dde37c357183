// Command razar boots a host's components, heals them, and escalates what it
// cannot heal up a ladder of repair agents over a NATS JetStream mesh.
//
// Run `razar help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

const usage = `razar: a self-healing orchestrator with an escalation ladder of repair agents.

Usage: razar [--home DIR] <command> [flags]

Commands:
  boot            boot the components, run the bus, the rungs and the orchestrator
  agent <name>    run one rung as its own process
  escalate <component> --error TEXT
                  open an incident by hand and follow it; exit 0 healed, 1 failed
  stop|start|restart <component>
                  command a component through the running orchestrator
  abort <component>
                  abort the component's open incident
  release <component>
                  lift a component's quarantine (then start it)
  status [<component>] [--json]
                  incidents and rungs, from the running orchestrator
  audit [--since 1h|RFC3339] [--component C] [--incident ID] [--json]
                  replay the audit trail from JetStream
  agents check    one line per rung: ready, or why not; exit 1 if a remote rung lacks its key
  agents reload   every running rung drops cached config and credentials
  rotate-keys --secrets-dir DIR (--dry-run | --apply --approver A --approver B)
                  rotate remote rungs' credentials from manifests
  approve|reject <component> <patch-id>
                  decide on a validated patch held for approval
  rollback-patch <component> [--patch ID]
                  restore the files of the last applied patch (or the one named)
  help            this text

The home is --home DIR, else $RAZAR_HOME, else the current directory.
Exit status: 0 done, 1 the job failed, 2 bad usage or a config error.
`

// exitError carries an exit status with its one-line message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func failed(format string, a ...any) error {
	return &exitError{code: 1, err: fmt.Errorf(format, a...)}
}

func main() {
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
		code = ee.code
	case errors.Is(err, razar.ErrInvalidConfig):
		code = 2
	}
	fmt.Fprintln(stderr, "razar: "+err.Error())
	return code
}

// run is the whole program: it parses args and runs one command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	home := os.Getenv("RAZAR_HOME")
	for len(args) > 0 && (args[0] == "--home" || args[0] == "-home") {
		if len(args) < 2 {
			return usageErr("--home needs a directory")
		}
		home, args = args[1], args[2:]
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErr("no command given")
	}
	if home == "" {
		home = "."
	}
	env := newCLI(home, stdout, stderr, os.LookupEnv)
	if err := env.loadEnvFile(); err != nil {
		return err
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "boot":
		return env.boot(ctx, rest)
	case "agent":
		return env.agent(ctx, rest)
	case "escalate":
		return env.escalate(ctx, rest)
	case "stop", "start", "restart", "abort", "release", "approve", "reject":
		return env.lifecycle(ctx, bus.Verb(cmd), rest)
	case "status":
		return env.status(ctx, rest)
	case "audit":
		return env.audit(ctx, rest)
	case "agents":
		return env.agentsCmd(ctx, rest)
	case "rotate-keys":
		return env.rotateKeys(ctx, rest)
	case "rollback-patch":
		return env.rollbackPatch(ctx, rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErr("unknown command %q", cmd)
}
