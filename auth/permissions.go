package auth

import (
	"time"

	"github.com/nats-io/jwt/v2"
)

// Subjects the permissions name. They mirror package bus (which this
// package does not import, to stay a leaf); TestPermissionSubjectsMatchBus
// keeps the two in step.
const (
	stream        = "RAZAR"
	resultsStream = "RAZAR_RESULTS"
	mirrorDurable = "razar_mirror"
)

// InboxPrefix is the inbox prefix a rung's connection uses, so it can be
// allowed its own replies and nobody else's.
func InboxPrefix(rung string) string { return "_INBOX." + rung }

// consumerName mirrors bus.ConsumerName.
func consumerName(rung string) string { return "agent_" + rung }

// LadderRungs are the rungs of the contract's ladder: a reader minted
// before the roster names them is kept off their consumers all the same.
var LadderRungs = []string{"crown", "kimicho", "k2", "airstar", "rstar"}

// Permissions is what role may publish and subscribe to. Everything not
// allowed is denied. The table (docs/SECURITY.md shows it):
//
//   - orchestrator: everything in account RAZAR; the only writer of the
//     stream's records and the bucket, the only one who may purge or delete.
//   - control: the lifecycle requests and the rungs' context tool requests
//     (imported from RAZAR, each stamped with its sender) and their replies.
//   - rung r: pull its consumer agent_r, ack its deliveries, publish its
//     results razar.result.*.r (stored in stream RAZAR_RESULTS) and
//     heartbeat razar.heartbeat.r, ask its context tools on
//     razar.context.*.r, read back its own last result, answer its probe
//     and, for Crown, the handshake. Never razar.audit.> nor an
//     escalation: the record and the fix memory are not its to write.
//   - operator: lifecycle requests, rung probes and reloads, and reading
//     everything (core subjects and JetStream read-only API).
//   - observer: reading everything, the read-only requests (status, fixes),
//     and fix_forget and fix_pin, which the lifecycle server refuses it.
func Permissions(role Role, name string, rungs []string) jwt.Permissions {
	var p jwt.Permissions
	switch role {
	case Orchestrator:
		p.Pub.Allow.Add(">")
		p.Sub.Allow.Add(">")
	case Control:
		p.Sub.Allow.Add("razar.lifecycle.>", "razar.context.*.*")
		p.Pub.Deny.Add(">")
		p.Resp = &jwt.ResponsePermission{MaxMsgs: 1, Expires: 10 * time.Minute}
	case Rung:
		rungPermissions(&p, name)
	case Operator, Observer:
		readerPermissions(&p, role, rungs)
	}
	return p
}

// rungPermissions lets rung name take its work, answer it, beat and use
// its tools, and nothing else.
func rungPermissions(p *jwt.Permissions, name string) {
	c := consumerName(name)
	p.Pub.Allow.Add(
		"$JS.API.STREAM.INFO."+stream,
		"$JS.API.CONSUMER.INFO."+stream+"."+c,
		"$JS.API.CONSUMER.MSG.NEXT."+stream+"."+c,
		"$JS.ACK."+stream+"."+c+".>",
		// Its answers live in stream RAZAR_RESULTS: it reads back its
		// own, and nothing of stream RAZAR but its consumer.
		"$JS.API.STREAM.INFO."+resultsStream,
		"$JS.API.DIRECT.GET."+resultsStream+".razar.result.*."+name,
		"razar.result.*."+name,
		"razar.heartbeat."+name,
		"razar.context.*."+name, // its tools (bus.ContextOf), answered on its inbox
	)
	p.Sub.Allow.Add(
		InboxPrefix(name)+".>",
		"razar.agents.probe."+name,
		"razar.agents.reload",
		"razar.handshake."+name,
	)
	p.Resp = &jwt.ResponsePermission{MaxMsgs: 1, Expires: time.Minute}
}

// readerPermissions lets an operator or observer read everything and send
// the lifecycle verbs its role may, keeping RAZAR's durable consumers
// (the ladder's rungs, rungs, and the mirror's) out of reach.
func readerPermissions(p *jwt.Permissions, role Role, rungs []string) {
	p.Sub.Allow.Add("razar.>", "_INBOX.>")
	p.Pub.Allow.Add(readAPI...)
	if role == Operator {
		p.Pub.Allow.Add("razar.lifecycle.>", "razar.agents.probe.*", "razar.agents.reload")
	} else {
		p.Pub.Allow.Add("razar.lifecycle.status.>", "razar.lifecycle.fixes.>") // the read-only verbs (bus.Verb.ReadOnly)
		// The fix memory's operator verbs reach the lifecycle server,
		// which refuses an observer with code forbidden and records the
		// refusal: `razar fixes forget` says why instead of timing out.
		p.Pub.Allow.Add("razar.lifecycle.fix_forget.>", "razar.lifecycle.fix_pin.>")
	}
	// The read API lets a reader make and pull consumers of its own;
	// RAZAR's durable ones stay out of reach.
	durables := []string{mirrorDurable}
	for _, r := range append(append([]string(nil), LadderRungs...), rungs...) {
		durables = append(durables, consumerName(r))
	}
	for _, d := range durables {
		p.Pub.Deny.Add(
			"$JS.API.CONSUMER.CREATE."+stream+"."+d,
			"$JS.API.CONSUMER.CREATE."+stream+"."+d+".>",
			"$JS.API.CONSUMER.MSG.NEXT."+stream+"."+d,
			"$JS.API.CONSUMER.DELETE."+stream+"."+d,
			"$JS.ACK."+stream+"."+d+".>",
		)
	}
}

// readAPI is the JetStream API a reader needs for `nats stream info|view|get`,
// `nats kv get|watch|history` and `nats consumer info`: information, direct
// and indexed gets, and consumers of its own. Not in it: anything that
// creates, updates, purges or deletes a stream, a message or a bucket key.
var readAPI = []string{
	"$JS.API.INFO",
	"$JS.API.STREAM.NAMES",
	"$JS.API.STREAM.LIST",
	"$JS.API.STREAM.INFO.*",
	"$JS.API.STREAM.MSG.GET.*",
	"$JS.API.DIRECT.GET.*",
	"$JS.API.DIRECT.GET.*.>",
	"$JS.API.CONSUMER.NAMES.*",
	"$JS.API.CONSUMER.LIST.*",
	"$JS.API.CONSUMER.INFO.*.*",
	"$JS.API.CONSUMER.CREATE.*.*",
	"$JS.API.CONSUMER.CREATE.*.*.>",
	"$JS.API.CONSUMER.MSG.NEXT.*.*",
	"$JS.API.CONSUMER.DELETE.*.*",
	"$JS.FC.>",
}
