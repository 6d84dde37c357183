//go:build !linux

package patch

import "os/exec"

const sandboxSupported = false

// sandbox does nothing outside Linux: no parent-death signal, no
// namespaces.
func sandbox(*exec.Cmd, bool) {}

// awaitExit cannot wait without reaping here: it reports false, and the
// process group is not killed after the command exits.
func awaitExit(int) bool { return false }
