package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
)

// Version is the payload version this build writes and reads.
const Version = 1

// Payload is any message body of the wire contract.
type Payload interface {
	// Kind names the payload type in errors ("escalation", "result", ...).
	Kind() string
	// Check validates required fields after decoding.
	Check() error
	version() int
	setVersion()
}

type versioned struct {
	V int `json:"v"`
}

func (v *versioned) version() int { return v.V }
func (v *versioned) setVersion()  { v.V = Version }

// Escalation hands one attempt at one incident to one rung, on razar.escalate.<agent>.
type Escalation struct {
	versioned
	Incident  string          `json:"incident"`
	Component string          `json:"component"`
	Error     string          `json:"error"`
	Attempt   int             `json:"attempt"`
	Rung      string          `json:"rung"`
	Pass      int             `json:"pass"`
	Deadline  time.Time       `json:"deadline"`
	Workdir   string          `json:"workdir,omitempty"`
	Context   []razar.Attempt `json:"context"`
	// Shortened counts the attempts of Context sent as one line; the
	// context tool's `attempt` returns any of them whole.
	Shortened int `json:"shortened,omitempty"`
	// Workspace is what the rung is shown of the component.
	Workspace *razar.Workspace `json:"workspace,omitempty"`
}

// Kind implements Payload.
func (*Escalation) Kind() string { return "escalation" }

// Check implements Payload.
func (e *Escalation) Check() error {
	switch {
	case !ValidToken(e.Incident):
		return fieldErr("incident", "missing or not a subject token")
	case e.Component == "":
		return fieldErr("component", "missing")
	case e.Attempt < 1:
		return fieldErr("attempt", "must be 1 or more")
	case !ValidToken(e.Rung):
		return fieldErr("rung", "missing or not a subject token")
	case e.Deadline.IsZero():
		return fieldErr("deadline", "missing")
	}
	return nil
}

// EscalationOf is the escalation that hands task t to a rung, with the
// given deadline; a task without history carries "context": [], not null.
func EscalationOf(t razar.Task, deadline time.Time) *Escalation {
	e := &Escalation{
		Incident: t.Incident, Component: t.Component, Error: t.Error,
		Attempt: t.Attempt, Rung: t.Rung, Pass: t.Pass, Deadline: deadline.UTC(),
		Workdir: t.Workdir, Context: t.History, Shortened: t.Shortened, Workspace: t.Workspace,
	}
	if e.Context == nil {
		e.Context = []razar.Attempt{}
	}
	return e
}

// Task converts the escalation to the domain task a backend sees.
func (e *Escalation) Task() razar.Task {
	return razar.Task{
		Incident: e.Incident, Component: e.Component, Error: e.Error,
		Attempt: e.Attempt, Pass: e.Pass, Rung: e.Rung, Workdir: e.Workdir, Deadline: e.Deadline,
		History: e.Context, Shortened: e.Shortened, Workspace: e.Workspace,
	}
}

// Result is a rung's answer to one attempt, on razar.result.<incident>.
type Result struct {
	versioned
	Incident string       `json:"incident"`
	Attempt  int          `json:"attempt"`
	Rung     string       `json:"rung"`
	Status   razar.Status `json:"status"`
	Summary  string       `json:"summary,omitempty"`
	Diff     string       `json:"diff,omitempty"`
	// Candidates are alternative patches, validated in turn (rStar).
	Candidates []razar.Candidate `json:"candidates,omitempty"`
	Error      string            `json:"error,omitempty"`
	Host       string            `json:"host,omitempty"` // which rung process answered
	// Usage is the model's token count for the attempt (openai backends).
	Usage *razar.Usage `json:"usage,omitempty"`
}

// Kind implements Payload.
func (*Result) Kind() string { return "result" }

// Check implements Payload.
func (r *Result) Check() error {
	switch {
	case !ValidToken(r.Incident):
		return fieldErr("incident", "missing or not a subject token")
	case r.Attempt < 1:
		return fieldErr("attempt", "must be 1 or more")
	case r.Rung == "":
		return fieldErr("rung", "missing")
	case !r.Status.Valid():
		return fieldErr("status", fmt.Sprintf("%q is not fixed, no_fix or error", r.Status))
	}
	return nil
}

// AuditRecord is one line of the audit trail, on razar.audit.<component>.<event>,
// and, unchanged, one line of the logs/ mirrors.
type AuditRecord struct {
	versioned
	Event        Event  `json:"event"`
	Component    string `json:"component"`
	Incident     string `json:"incident,omitempty"`
	Agent        string `json:"agent,omitempty"`
	AgentDisplay string `json:"agent_display,omitempty"`
	Attempt      int    `json:"attempt,omitempty"`
	Pass         int    `json:"pass,omitempty"`
	Status       string `json:"status,omitempty"`
	Outcome      string `json:"outcome,omitempty"`
	Error        string `json:"error,omitempty"`
	Summary      string `json:"summary,omitempty"`
	Diff         string `json:"diff,omitempty"`
	Reason       string `json:"reason,omitempty"`
	// Usage is an attempt's model tokens, as its rung reported them.
	Usage       *razar.Usage `json:"usage,omitempty"`
	From        string       `json:"from,omitempty"` // escalation: the rung handing over
	To          string       `json:"to,omitempty"`   // escalation: the rung taking over
	Escalations int          `json:"escalations,omitempty"`
	Failed      int          `json:"failed_attempts,omitempty"`
	Severity    string       `json:"severity,omitempty"`
	Message     string       `json:"message,omitempty"`
	Verb        string       `json:"verb,omitempty"`
	Actor       string       `json:"actor,omitempty"`
	// ActorKey is the public nkey of the identity the server authenticated
	// for Actor: two identities minted with the same name are told apart.
	ActorKey string `json:"actor_key,omitempty"`
	// Patch records: the patch, the files it touches (sha256 before and
	// after), how validation went and the tail of its output.
	PatchID    string      `json:"patch_id,omitempty"`
	Files      []PatchFile `json:"files,omitempty"`
	Validation string      `json:"validation,omitempty"`
	OutputTail string      `json:"output_tail,omitempty"`
	// Placement says how each hunk that did not apply as written was
	// placed ("hunk 2 of app.conf placed at line 14, not 12 as stated").
	Placement []string `json:"placement,omitempty"`
	// Sandbox says how the validate command was contained: the sandbox,
	// its uid and Landlock ABI, or the weak sandbox and why.
	Sandbox string `json:"sandbox,omitempty"`
	// Fix memory records: the failure signature, and the fix's id (the
	// first 12 hex digits of its diff's sha256).
	Signature string `json:"signature,omitempty"`
	Fix       string `json:"fix,omitempty"`
	// Shown lists the file texts an escalation showed its rung (shown
	// records): path, bytes and sha256 of what was sent, no text.
	Shown []razar.FileText `json:"shown,omitempty"`
	// Context tool calls (context records): the op, the path or glob it
	// named, the bytes of text it answered and the verdict ("ok" or
	// "refused: ..."); Reason holds a refusal's text.
	Op      string `json:"op,omitempty"`
	Path    string `json:"path,omitempty"`
	Bytes   int    `json:"bytes,omitempty"`
	Verdict string `json:"verdict,omitempty"`
	// Role is who spoke in a handshake dialogue: "razar" or "crown".
	Role string `json:"role,omitempty"`
	// IdentityFingerprint is on Crown's handshake answers.
	IdentityFingerprint *Fingerprint    `json:"identity_fingerprint,omitempty"`
	Data                json.RawMessage `json:"data,omitempty"`
	Timestamp           float64         `json:"timestamp"`
	TimestampISO        string          `json:"timestamp_iso"`
	Seq                 uint64          `json:"seq,omitempty"` // stream sequence, set by the log mirror
}

// PatchFile is one file a patch touches, in patch records.
type PatchFile struct {
	Path         string `json:"path"`
	OldPath      string `json:"old_path,omitempty"`
	Op           string `json:"op"`
	SHA256Before string `json:"sha256_before,omitempty"`
	SHA256After  string `json:"sha256_after,omitempty"`
}

// Kind implements Payload.
func (*AuditRecord) Kind() string { return "audit" }

// Check implements Payload.
func (a *AuditRecord) Check() error {
	switch {
	case !ValidToken(string(a.Event)):
		return fieldErr("event", "missing or not a subject token")
	case !ValidToken(a.Component):
		return fieldErr("component", "missing or not a subject token")
	case a.TimestampISO == "":
		return fieldErr("timestamp_iso", "missing")
	}
	return nil
}

// Stamp sets both timestamps from t.
func (a *AuditRecord) Stamp(t time.Time) {
	t = t.UTC()
	a.Timestamp = float64(t.UnixNano()) / 1e9
	a.TimestampISO = t.Format(time.RFC3339Nano)
}

// Subject is the record's audit subject.
func (a *AuditRecord) Subject() string { return AuditSubject(a.Component, a.Event) }

// LifecycleRequest is an operator command on razar.lifecycle.<verb>.<component>.
// An empty body is a valid request with no arguments.
type LifecycleRequest struct {
	versioned
	Error string `json:"error,omitempty"` // escalate: the failure to repair
	// Actor is informational: records name the authenticated identity
	// (Who), and this only on a bus without authentication, as unverified.
	Actor string `json:"actor,omitempty"`
	Patch string `json:"patch,omitempty"` // approve/reject/rollback: the patch id
	// Summary is the operator's note on a human rung's page: resolve,
	// what was done by hand; ack and pass, why.
	Summary string `json:"summary,omitempty"`
	// Record is the audit record of a record request (rotation, reverted).
	Record *AuditRecord `json:"record,omitempty"`
	// Items is how many items a memory_audit request writes per layer.
	Items int `json:"items,omitempty"`
	// Signature and Fix name a failure signature and one of its fixes
	// (fixes, fix_forget, fix_pin).
	Signature string `json:"signature,omitempty"`
	Fix       string `json:"fix,omitempty"`
	// Digest binds a rotation's approvals to the exact change (rotation:
	// the rotated roster's sha256).
	Digest string `json:"digest,omitempty"`
	// Who is the identity the server authenticated, set by the lifecycle
	// server; never read from the request.
	Who *auth.Identity `json:"-"`
}

// ActorName is who sent the request, for records: the authenticated
// identity, or on a bus without authentication the typed actor, marked
// unverified.
func (r *LifecycleRequest) ActorName() string { return actorOf(r.Who, r.Actor) }

// ActorKey is the public key of the authenticated identity that sent the
// request, "" when none did.
func (r *LifecycleRequest) ActorKey() string {
	if r.Who == nil {
		return ""
	}
	return r.Who.Key
}

// Kind implements Payload.
func (*LifecycleRequest) Kind() string { return "lifecycle request" }

// Check implements Payload.
func (*LifecycleRequest) Check() error { return nil }

// LifecycleReply answers every lifecycle request.
type LifecycleReply struct {
	versioned
	OK        bool            `json:"ok"`
	Component string          `json:"component"`
	Error     string          `json:"error,omitempty"`
	Code      string          `json:"code,omitempty"` // with ok=false: CodeNotFound, CodeRefused or CodeBadRequest
	Incident  string          `json:"incident,omitempty"`
	Message   string          `json:"message,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// Codes of a refused lifecycle request (LifecycleReply.Code), so a client
// can tell the operator's mistake from a job that failed without parsing
// Error. The razar CLI exits 2 for CodeNotFound and CodeBadRequest, 1 for
// the rest; a reply without a code counts as CodeRefused.
const (
	// CodeNotFound: the component of the subject is not in the boot
	// config. Only for the component: a missing incident or patch of a
	// known component is CodeRefused.
	CodeNotFound = "not_found"
	// CodeRefused: the request is well formed but cannot be done now (the
	// component is quarantined, no incident is open, no patch waits, the
	// action failed).
	CodeRefused = "refused"
	// CodeBadRequest: the subject or body is malformed, or the verb is
	// unknown or lacks an argument it needs.
	CodeBadRequest = "bad_request"
	// CodeForbidden: the requester's identity may not do this (an observer
	// or a rung asking for anything but status, an approval from a
	// non-operator), or the request carries no identity RAZAR knows.
	CodeForbidden = "forbidden"
)

// Kind implements Payload.
func (*LifecycleReply) Kind() string { return "lifecycle reply" }

// Check implements Payload.
func (*LifecycleReply) Check() error { return nil }

// Heartbeat is a component's or agent's sign of life on razar.heartbeat.<name>.
type Heartbeat struct {
	versioned
	Name   string    `json:"name"`
	Kind_  string    `json:"kind"` // "agent" or "component"
	Status string    `json:"status"`
	Detail string    `json:"detail,omitempty"`
	Host   string    `json:"host,omitempty"`
	Time   time.Time `json:"time"`
}

// Kind implements Payload.
func (*Heartbeat) Kind() string { return "heartbeat" }

// Check implements Payload.
func (h *Heartbeat) Check() error {
	if h.Name == "" {
		return fieldErr("name", "missing")
	}
	return nil
}

// AlertMsg is a warning or critical alert on razar.alert.<severity>.
type AlertMsg struct {
	versioned
	Severity  Severity  `json:"severity"`
	Message   string    `json:"message"`
	Component string    `json:"component,omitempty"`
	Incident  string    `json:"incident,omitempty"`
	Time      time.Time `json:"time"`
	// Name is the alert's alertname (RazarIncidentFailed, ...).
	Name string `json:"alertname,omitempty"`
	// Status is "firing", or "resolved" once its cause has ended.
	Status string `json:"status,omitempty"`
	// Fingerprint is stable for one alert from firing to resolved: a
	// hash of its name, component, incident, host and home.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Runbook is the section of docs/RUNBOOK.md that says what to do.
	Runbook string `json:"runbook_url,omitempty"`
	// Host is the machine whose RAZAR raised it (RAZAR_HOST, by default
	// the hostname).
	Host string `json:"host,omitempty"`
	// Home is the identity of the RAZAR home that raised it (its
	// state/home.id), so two homes on one host are told apart too.
	Home string `json:"razar_home,omitempty"`
	// GeneratorURL is the raising RAZAR's status page (RAZAR_STATUS_URL).
	GeneratorURL string `json:"generator_url,omitempty"`
}

// Kind implements Payload.
func (*AlertMsg) Kind() string { return "alert" }

// Check implements Payload.
func (a *AlertMsg) Check() error {
	if a.Severity != SeverityWarning && a.Severity != SeverityCritical {
		return fieldErr("severity", "not warning or critical")
	}
	if a.Message == "" {
		return fieldErr("message", "missing")
	}
	return nil
}

// AgentStatus is a rung's readiness, kept in RAZAR_STATE under AgentKey.
type AgentStatus struct {
	versioned
	Name    string    `json:"name"`
	Display string    `json:"display,omitempty"`
	Ready   bool      `json:"ready"`
	Reason  string    `json:"reason,omitempty"` // why it cannot run
	Host    string    `json:"host,omitempty"`
	Updated time.Time `json:"updated"`
}

// Kind implements Payload.
func (*AgentStatus) Kind() string { return "agent status" }

// Check implements Payload.
func (s *AgentStatus) Check() error {
	if s.Name == "" {
		return fieldErr("name", "missing")
	}
	return nil
}

// MaxProbeRosterBytes bounds the candidate roster of a ProbeRequest, well
// under the server's 1 MiB message limit; a roster is a few KiB.
const MaxProbeRosterBytes = 256 << 10

// ProbeRequest asks every process of one rung, on razar.agents.probe.<rung>,
// whether it could build its backend from Roster with its own environment
// (its V or V_FILE), without switching to it. Roster is a whole roster
// document as config/razar_ai_agents.json holds it (a rotated one); absent,
// the question is about the roster file as it is now. An empty body is a
// valid request about the current roster.
type ProbeRequest struct {
	versioned
	Roster json.RawMessage `json:"roster,omitempty"`
}

// Kind implements Payload.
func (*ProbeRequest) Kind() string { return "probe request" }

// Check implements Payload.
func (p *ProbeRequest) Check() error {
	if len(p.Roster) > MaxProbeRosterBytes {
		return fieldErr("roster", fmt.Sprintf("%d bytes, over the %d-byte limit", len(p.Roster), MaxProbeRosterBytes))
	}
	return nil
}

func (*ProbeRequest) emptyOK() {}

// ProbeReply is one rung process's answer to a ProbeRequest. Reason says
// why the process could not run, never with a key in it.
type ProbeReply struct {
	versioned
	Rung   string `json:"rung"`
	Host   string `json:"host,omitempty"` // the process, as in results and heartbeats (host:pid)
	PID    int    `json:"pid,omitempty"`
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
	// Candidate is true when the answer is about the request's roster,
	// false when about the roster file as it is now.
	Candidate bool `json:"candidate,omitempty"`
}

// Kind implements Payload.
func (*ProbeReply) Kind() string { return "probe reply" }

// Check implements Payload.
func (p *ProbeReply) Check() error {
	if p.Rung == "" {
		return fieldErr("rung", "missing")
	}
	return nil
}

// emptyBody is a request payload an empty message decodes as, with "v"
// optional, so `nats req SUBJECT ""` works.
type emptyBody interface{ emptyOK() }

func (*LifecycleRequest) emptyOK() {}

type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.msg }

func fieldErr(field, msg string) error { return &fieldError{field, msg} }

var errVersion = errors.New("unsupported payload version")

// ContextRequest is one call of a rung's tools, on
// razar.context.<incident>.<rung>; the reply is a ContextReply.
type ContextRequest struct {
	versioned
	razar.ToolRequest
}

// Kind implements Payload.
func (*ContextRequest) Kind() string { return "context request" }

// Check implements Payload.
func (r *ContextRequest) Check() error {
	switch r.Op {
	case razar.ToolList, razar.ToolRead, razar.ToolSearch, razar.ToolLog, razar.ToolAttempt, razar.ToolCheck:
		return nil
	case "":
		return fieldErr("op", "missing: one of list, read, search, log, attempt, check")
	}
	return fieldErr("op", fmt.Sprintf("%q is not one of list, read, search, log, attempt, check", r.Op))
}

// ContextReply answers a ContextRequest.
type ContextReply struct {
	versioned
	razar.ToolReply
}

// Kind implements Payload.
func (*ContextReply) Kind() string { return "context reply" }

// Check implements Payload.
func (r *ContextReply) Check() error {
	if !r.OK && r.Error == "" {
		return fieldErr("error", "missing on a refusal")
	}
	return nil
}
