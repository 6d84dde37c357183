package main

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/razar/razar/hostmetrics"
)

// version is the release, stamped at build time with
// -ldflags "-X main.version=v1.2.3". Empty: the module version of the
// build, else "devel".
var version = ""

// commit is the commit, stamped at build time with
// -ldflags "-X main.commit=$(git rev-parse HEAD)" where the build records no
// VCS information itself (GOFLAGS=-buildvcs=false, a tarball); the Makefile
// does so.
var commit = ""

// buildInfo says what this binary is: its version, commit and Go
// version (hostmetrics.ReadBuild).
func buildInfo() hostmetrics.Build {
	bi, _ := debug.ReadBuildInfo()
	return hostmetrics.ReadBuild(version, commit, bi)
}

// versionCmd is `razar version` (and `razar --version`).
func (c *cli) versionCmd() *cobra.Command {
	return c.native("version", "", "print the version, the commit and the Go version (also `razar --version`)", "", func(_ context.Context, args []string) error {
		return c.printVersion(args)
	})
}

func (c *cli) printVersion(args []string) error {
	if len(args) > 0 {
		return usageErr("version takes no arguments")
	}
	fmt.Fprintln(c.stdout, buildInfo().Line())
	return nil
}
