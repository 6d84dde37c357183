package bus

import (
	"fmt"
	"strings"
)

// Prefix is the root token of every RAZAR subject.
const Prefix = "razar"

// StreamName is the JetStream stream that holds escalations and audit
// records (the fix memory's among them): what only the orchestrator writes.
const StreamName = "RAZAR"

// ResultsStreamName is the JetStream stream that holds the rungs' answers
// (razar.result.>), apart from stream RAZAR: a rung writes there, and
// nothing it writes may evict a record (docs/PROTOCOL.md section 4).
const ResultsStreamName = "RAZAR_RESULTS"

// KVBucket is the JetStream key-value bucket holding component, incident and agent state.
const KVBucket = "RAZAR_STATE"

// Wildcards the stream and the tools listen on.
const (
	EscalateAll  = Prefix + ".escalate.>"
	ResultAll    = Prefix + ".result.>"
	AuditAll     = Prefix + ".audit.>"
	LifecycleAll = Prefix + ".lifecycle.>"
	HeartbeatAll = Prefix + ".heartbeat.>"
	AlertAll     = Prefix + ".alert.>"
	// AgentsReload asks every rung process to drop cached config and credentials.
	AgentsReload = Prefix + ".agents.reload"
	// ProbeAll matches every rung's probe subject (ProbeSubject).
	ProbeAll = Prefix + ".agents.probe.*"
	// ContextAll matches every rung's context tools subject (ContextSubject).
	ContextAll = Prefix + ".context.*.*"
)

// StreamSubjects are the subjects stream RAZAR captures.
var StreamSubjects = []string{EscalateAll, AuditAll}

// ResultsStreamSubjects are the subjects stream RAZAR_RESULTS captures.
var ResultsStreamSubjects = []string{ResultAll}

// StreamOf names the stream that holds the messages of subject (or of a
// filter within one kind): ResultsStreamName for razar.result.*,
// StreamName for everything else.
func StreamOf(subject string) string {
	if kind, _, ok := ParseSubject(subject); ok && kind == "result" {
		return ResultsStreamName
	}
	return StreamName
}

// AllComponents is the component token of a lifecycle request about every
// component (razar status). It cannot collide with a component name, which
// must start with a letter or digit.
const AllComponents = "_all"

// SystemComponent is the component token of audit records about RAZAR
// itself (snapshots, halts, reloads). It cannot collide with a component name.
const SystemComponent = "_razar"

// EscalateSubject is the subject an attempt is handed to a rung on: razar.escalate.<agent>.
func EscalateSubject(agent string) string { return Prefix + ".escalate." + agent }

// ResultSubject is the subject rung answers an incident on:
// razar.result.<incident>.<rung>. Only that rung's answers count there.
func ResultSubject(incident, rung string) string { return Prefix + ".result." + incident + "." + rung }

// ResultsOf is the filter of every rung's answers to one incident:
// razar.result.<incident>.*.
func ResultsOf(incident string) string { return Prefix + ".result." + incident + ".*" }

// ContextSubject is where rung asks for its tools on an incident while its
// attempt is pending: razar.context.<incident>.<rung> (core request/reply).
func ContextSubject(incident, rung string) string {
	return Prefix + ".context." + incident + "." + rung
}

// ContextOf is the subject a rung may publish its tool requests on, for any
// incident: razar.context.*.<rung>.
func ContextOf(rung string) string { return Prefix + ".context.*." + rung }

// AuditSubject is the subject of one audit record: razar.audit.<component>.<event>.
func AuditSubject(component string, event Event) string {
	return Prefix + ".audit." + component + "." + string(event)
}

// AuditComponent matches every audit record of one component.
func AuditComponent(component string) string { return Prefix + ".audit." + component + ".>" }

// LifecycleSubject is an operator command's subject: razar.lifecycle.<verb>.<component>.
func LifecycleSubject(verb Verb, component string) string {
	return Prefix + ".lifecycle." + string(verb) + "." + component
}

// HeartbeatSubject is the subject of a component's or agent's heartbeat.
func HeartbeatSubject(name string) string { return Prefix + ".heartbeat." + name }

// AlertSubject is the subject of an alert of one severity.
func AlertSubject(sev Severity) string { return Prefix + ".alert." + string(sev) }

// ProbeSubject is where every process of one rung answers a readiness
// probe (core request, many replies): razar.agents.probe.<rung>. The
// request may carry a candidate roster (ProbeRequest); each process answers
// with a ProbeReply saying whether it could run with it, in its own
// environment. An extension beyond CONTRACT section 4; see docs/PROTOCOL.md.
func ProbeSubject(rung string) string { return Prefix + ".agents.probe." + rung }

// AccountUpdateSubject is where the server takes a new JWT of account
// (its public key) from a user of the system account: the claims update
// that carries a revocation to a running server.
func AccountUpdateSubject(account string) string {
	return "$SYS.REQ.ACCOUNT." + account + ".CLAIMS.UPDATE"
}

// ConsumerName is the durable consumer every process of one rung shares.
func ConsumerName(agent string) string { return "agent_" + agent }

// EscalationMsgID is the Nats-Msg-Id of an escalation, so a re-sent attempt is deduplicated.
func EscalationMsgID(incident string, attempt int) string {
	return fmt.Sprintf("esc-%s-%d", incident, attempt)
}

// ResultMsgID is the Nats-Msg-Id of a result, so a redelivered attempt answers once.
func ResultMsgID(incident string, attempt int) string {
	return fmt.Sprintf("res-%s-%d", incident, attempt)
}

// ParseSubject splits a RAZAR subject into its kind ("escalate", "audit", ...)
// and the remaining tokens. ok is false for a subject outside razar.>.
func ParseSubject(subject string) (kind string, rest []string, ok bool) {
	toks := strings.Split(subject, ".")
	if len(toks) < 2 || toks[0] != Prefix {
		return "", nil, false
	}
	return toks[1], toks[2:], true
}

// ValidToken reports whether s can stand as one subject token: not empty, and
// free of '.', '*', '>' and white space.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	return !strings.ContainsAny(s, ".*> \t\r\n")
}

// Verb is a lifecycle command.
type Verb string

// The lifecycle verbs. VerbEscalate opens an incident by hand (razar escalate).
const (
	VerbStop     Verb = "stop"
	VerbStart    Verb = "start"
	VerbRestart  Verb = "restart"
	VerbAbort    Verb = "abort"
	VerbRelease  Verb = "release"
	VerbStatus   Verb = "status"
	VerbEscalate Verb = "escalate"
	VerbApprove  Verb = "approve"
	VerbReject   Verb = "reject"
	VerbReload   Verb = "reload" // re-read config/ and config/razar.env (razar reload, SIGHUP)
	VerbDetach   Verb = "detach" // exit RAZAR and leave the components running, for an upgrade
	// VerbResume takes a halted boot cycle on from where it stopped
	// (razar resume; component _all).
	VerbResume Verb = "resume"
	// VerbRecord asks the orchestrator, the only writer of the stream, to
	// store an audit record a CLI command made (a rollback, a rotation),
	// under the identity that sent it.
	VerbRecord Verb = "record"
	// VerbMemoryAudit runs `razar memory audit` in the orchestrator, the
	// only writer of the stream and the bucket: items written through every
	// memory layer, read back and verified (body: items).
	VerbMemoryAudit Verb = "memory_audit"
	// VerbAck, VerbResolve and VerbPass answer the page of a human rung
	// (backend human) holding the component's pending attempt: ack holds
	// the ladder up to the rung's ack_timeout, resolve ends the attempt as
	// fixed by hand (then verified), pass hands the turn on.
	VerbAck     Verb = "ack"
	VerbResolve Verb = "resolve"
	VerbPass    Verb = "pass"
	// VerbFixes reads the fix memory (razar fixes list|show; body:
	// signature to show one). Like status, open to every role.
	VerbFixes Verb = "fixes"
	// VerbFixForget drops every remembered fix of a signature (body:
	// signature); VerbFixPin makes the newest fix of one (or the one named
	// by fix) a permanent rule. Operator identities only.
	VerbFixForget Verb = "fix_forget"
	VerbFixPin    Verb = "fix_pin"
	// VerbRotation opens a credential rotation that waits for two operator
	// identities (body: summary, the plan; digest, the rotated roster's
	// sha256); the reply's data is the request (auth.Request).
	VerbRotation Verb = "rotation"
	// VerbRotationWait waits a little (at most 25 s) for rotation patch
	// (its id) to be decided and returns it; read-only, not recorded.
	VerbRotationWait Verb = "rotation_wait"
	// VerbApproveRotation and VerbRejectRotation answer a rotation (body:
	// patch, its id) as the operator identity that sends them: two
	// distinct ones approve it, one rejects it.
	VerbApproveRotation Verb = "approve_rotation"
	VerbRejectRotation  Verb = "reject_rotation"
)

// ReadOnly reports whether a verb only reads (status, fixes): every role
// may send it, and it is not recorded on the audit stream.
func (v Verb) ReadOnly() bool { return v == VerbStatus || v == VerbFixes || v == VerbRotationWait }

// Verbs lists every lifecycle verb.
var Verbs = []Verb{VerbStop, VerbStart, VerbRestart, VerbAbort, VerbRelease, VerbResume, VerbStatus, VerbEscalate, VerbApprove, VerbReject, VerbReload, VerbDetach, VerbRecord, VerbMemoryAudit, VerbAck, VerbResolve, VerbPass, VerbFixes, VerbFixForget, VerbFixPin, VerbRotation, VerbRotationWait, VerbApproveRotation, VerbRejectRotation}

// Event is the last token of an audit subject.
type Event string

// Audit events.
const (
	EventOpened     Event = "opened"     // an incident was opened
	EventAttempt    Event = "attempt"    // a rung's attempt ended (status and outcome say how)
	EventSkipped    Event = "skipped"    // a rung could not run and was passed over
	EventEscalation Event = "escalation" // the incident was handed to another rung
	EventHealed     Event = "healed"     // the incident ended with a fix that held
	EventFailed     Event = "failed"     // the incident ended without one
	EventAborted    Event = "aborted"    // an operator aborted the incident
	EventReopened   Event = "reopened"   // a healed incident whose fix did not hold, opened again
	EventLifecycle  Event = "lifecycle"  // an operator command
	EventAlert      Event = "alert"      // a warning or critical alert
	EventLate       Event = "late"       // a result that came after its attempt had ended
	EventHandshake  Event = "handshake"  // one message of the boot-cycle handshake with Crown
	EventPatch      Event = "patch"      // a patch proposal and its validation result
	EventPending    Event = "pending"    // a validated patch held for an operator's approval
	EventApplied    Event = "applied"    // a patch promoted into the workdir
	EventRejected   Event = "rejected"   // a patch refused (check, validation, operator, promote)
	EventReverted   Event = "reverted"   // a patch's files restored
	EventSnapshot   Event = "snapshot"   // the roster snapshot of a boot cycle was taken
	EventRestore    Event = "restore"    // the roster was restored from its snapshot
	EventRotation   Event = "rotation"   // credentials were rotated (actor: the approvers)
	EventMemory     Event = "memory"     // a memory audit ran (razar memory audit); data: its report
	// EventMemoryItem is one item a memory audit writes through the stream
	// and removes again once read back; no log mirror holds it.
	EventMemoryItem Event = "memory_item"
	// The fix memory (docs/FIXES.md): a patch that healed an incident and
	// held, learned under its failure signature; a remembered fix that
	// failed when tried again; an operator forgetting a signature or
	// pinning a fix as a permanent rule.
	EventFixLearned   Event = "fix_learned"
	EventFixFailed    Event = "fix_failed"
	EventFixForgotten Event = "fix_forgotten"
	EventFixPinned    Event = "fix_pinned"
	// The workspace: what an escalation showed a rung of its component
	// (shown: path, bytes, sha256 of each file text), and each call of
	// its context tools (op, path, bytes, verdict).
	EventShown   Event = "shown"
	EventContext Event = "context"
)

// Severity is an alert's severity.
type Severity string

// Alert severities.
const (
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// AuditMsgID is the Nats-Msg-Id of an audit record about one step of an
// incident, so a record re-sent after a crash is stored once. Message ids
// are unique across the whole stream, so each kind has its own prefix.
func AuditMsgID(event Event, incident string, n int) string {
	return fmt.Sprintf("audit-%s-%s-%d", event, incident, n)
}

// HandshakeSubject is where a rung answers the mission brief at the start of
// every boot cycle (core request/reply): razar.handshake.<agent>. Crown
// serves it. An extension beyond CONTRACT section 4; see docs/PROTOCOL.md.
func HandshakeSubject(agent string) string { return Prefix + ".handshake." + agent }
