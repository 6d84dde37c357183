package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
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

// buildInfo says what this binary is: its version, the commit it was
// built from (the full hash, "-dirty" when the tree had changes, "unknown"
// when the build recorded none) and the Go version that built it.
func buildInfo() (ver, revision, goVersion string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return parseBuildInfo(version, bi)
}

func parseBuildInfo(stamped string, bi *debug.BuildInfo) (ver, revision, goVersion string) {
	ver, revision, goVersion = stamped, "unknown", runtime.Version()
	if commit != "" {
		revision = commit
	}
	if bi != nil {
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && revision != "unknown" {
			revision += "-dirty"
		}
	}
	if ver == "" {
		ver = "devel"
	}
	return ver, revision, goVersion
}

// versionLine is what `razar --version` prints:
// razar v1.2.3 (commit abc1234, go1.26.8).
func versionLine(ver, revision, goVersion string) string {
	hash, dirty, _ := strings.Cut(revision, "-")
	if len(hash) > 7 {
		hash = hash[:7]
	}
	if dirty != "" {
		hash += "-" + dirty
	}
	return fmt.Sprintf("razar %s (commit %s, %s)", ver, hash, goVersion)
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
	fmt.Fprintln(c.stdout, versionLine(buildInfo()))
	return nil
}
