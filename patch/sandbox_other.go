//go:build !linux

package patch

import (
	"context"
	"io"
	"os/exec"
)

const sandboxSupported = false

// sandbox does nothing outside Linux: no parent-death signal, no
// namespaces.
func sandbox(*exec.Cmd, bool) {}

// awaitExit cannot wait without reaping here: it reports false, and the
// process group is not killed after the command exits.
func awaitExit(int) bool { return false }

// sandboxInit is never started outside Linux.
func sandboxInit() int { return 125 }

// startSandboxed refuses: the sandbox is built of Linux namespaces.
func startSandboxed(context.Context, Sandbox, []string, string, []string, io.Writer) (*exec.Cmd, Isolation, func(), string, error) {
	return nil, Isolation{}, func() {}, "the validation sandbox is built of Linux namespaces, and this is not Linux", nil
}
