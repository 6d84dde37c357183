package orchestrator

import (
	"strings"
	"testing"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/patch"
)

// TestPatchRecordSaysHowValidationWasContained: the sandbox's own line goes
// in the record's sandbox field with no message; the weak sandbox's says
// WEAK SANDBOX there and SECURITY in the message, with why, and the network
// when it had it.
func TestPatchRecordSaysHowValidationWasContained(t *testing.T) {
	var r bus.AuditRecord
	sandboxNote(&r, patch.Isolation{Sandboxed: true, UID: 65534, GID: 65534, Landlock: 7})
	if r.Sandbox != "sandbox: mount, PID and network namespaces, its copy the only writable tree, uid 65534, Landlock ABI 7" || r.Message != "" {
		t.Errorf("sandboxed: sandbox %q, message %q", r.Sandbox, r.Message)
	}
	r = bus.AuditRecord{}
	sandboxNote(&r, patch.Isolation{Sandboxed: true, UID: 65534, NoLandlock: "the kernel has no Landlock"})
	if !strings.HasSuffix(r.Sandbox, "no Landlock (the kernel has no Landlock)") {
		t.Errorf("no Landlock: sandbox %q", r.Sandbox)
	}
	r = bus.AuditRecord{}
	sandboxNote(&r, patch.Isolation{Weak: "the kernel refused new namespaces (EPERM)", Network: true})
	if !strings.HasPrefix(r.Sandbox, "WEAK SANDBOX (RAZAR_SANDBOX=weak)") || !strings.Contains(r.Sandbox, "EPERM") {
		t.Errorf("weak: sandbox %q", r.Sandbox)
	}
	if !strings.HasPrefix(r.Message, "SECURITY: ") || !strings.Contains(r.Message, "EPERM") || !strings.Contains(r.Message, "host's network") {
		t.Errorf("weak: message %q", r.Message)
	}
}
