package ctl

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/bus"
)

// TestAuditLinesNamePatchesReasonsAndActors: the readable timeline says
// which patch, from whom, and why, instead of "applied applied".
func TestAuditLinesNamePatchesReasonsAndActors(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	c := &Client{Home: t.TempDir(), Stdout: &out, Stderr: &out}
	now := time.Now()
	for _, r := range []*bus.AuditRecord{
		{Event: bus.EventApplied, Component: "ledger", Agent: "k2", AgentDisplay: "K2 Coder", PatchID: "p-1", Summary: "set port", Files: []bus.PatchFile{{Path: "ledger.conf"}}},
		{Event: bus.EventRejected, Component: "ledger", Agent: "k2", AgentDisplay: "K2 Coder", PatchID: "p-2", Reason: "validation failed: exit 1"},
		{Event: bus.EventReverted, Component: "ledger", PatchID: "p-1", Reason: "health check failed after patch", Actor: "alice"},
		{Event: bus.EventLifecycle, Component: "ledger", Verb: "approve", Actor: "alice", Status: "ok", PatchID: "p-3"},
		{Event: bus.EventPending, Component: "ledger", AgentDisplay: "Air Star", PatchID: "p-3"},
	} {
		r.Stamp(now)
		c.PrintRecord(r, false)
	}
	got := out.String()
	for _, want := range []string{
		"patch p-1 from K2 Coder applied (1 file(s)): set port",
		"patch p-2 from K2 Coder rejected: validation failed: exit 1",
		"patch p-1 reverted: health check failed after patch (by alice)",
		"approve by alice: ok patch p-3",
		"patch p-3 from Air Star waits for approval: razar approve ledger p-3",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("audit lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "applied applied") {
		t.Errorf("audit still prints the event twice:\n%s", got)
	}
}
