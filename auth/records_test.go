package auth_test

import (
	"strings"
	"testing"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
)

// allows reports whether NATS subject pattern (with * and >) covers subject.
func allows(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

// TestRungCannotWriteTheRecordNorTheFixMemory: no rung identity may publish
// an audit record (the fix memory's among them), an escalation, a write to
// bucket RAZAR_STATE (the pinned fixes), or any write to streams RAZAR and
// RAZAR_RESULTS; its answers are the one thing it stores, on its own subject.
func TestRungCannotWriteTheRecordNorTheFixMemory(t *testing.T) {
	p := auth.Permissions(auth.Rung, "k2", nil)
	for _, subject := range []string{
		bus.AuditSubject("web", bus.EventFixLearned),
		bus.AuditSubject("web", bus.EventFixForgotten),
		bus.AuditSubject("web", bus.EventHealed),
		bus.AuditSubject(bus.SystemComponent, bus.EventLifecycle),
		bus.EscalateSubject("k2"),
		"$KV." + bus.KVBucket + ".fix.pinned",
		"$JS.API.STREAM.PURGE." + bus.StreamName,
		"$JS.API.STREAM.PURGE." + bus.ResultsStreamName,
		"$JS.API.STREAM.UPDATE." + bus.ResultsStreamName,
		"$JS.API.STREAM.MSG.DELETE." + bus.StreamName,
		bus.ResultSubject("inc-1", "rstar"),
	} {
		for _, a := range p.Pub.Allow {
			if allows(a, subject) {
				t.Errorf("rung k2 may publish %s (allowed by %s)", subject, a)
			}
		}
	}
	own := bus.ResultSubject("inc-1", "k2")
	ok := false
	for _, a := range p.Pub.Allow {
		ok = ok || allows(a, own)
	}
	if !ok {
		t.Errorf("rung k2 may not publish its own answer %s: the check above proves nothing", own)
	}
}
