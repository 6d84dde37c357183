package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/razar/razar"
)

// subjectMatches reports whether subject matches the NATS filter pattern
// (tokens, "*" for one token, a final ">" for one or more).
func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return i == len(p)-1 && len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func TestSubjects(t *testing.T) {
	tests := []struct {
		name     string
		got      string
		want     string
		wildcard string // the wildcard that must capture it; "" for none
		kind     string // ParseSubject's kind
		rest     []string
	}{
		{"escalate", EscalateSubject("k2"), "razar.escalate.k2", EscalateAll, "escalate", []string{"k2"}},
		{"result", ResultSubject("inc-7", "k2"), "razar.result.inc-7.k2", ResultAll, "result", []string{"inc-7", "k2"}},
		{"results of an incident", ResultsOf("inc-7"), "razar.result.inc-7.*", ResultAll, "result", []string{"inc-7", "*"}},
		{"audit", AuditSubject("crown_router", EventEscalation), "razar.audit.crown_router.escalation", AuditAll, "audit", []string{"crown_router", "escalation"}},
		{"audit record", (&AuditRecord{Component: "web", Event: EventHealed}).Subject(), "razar.audit.web.healed", AuditAll, "audit", []string{"web", "healed"}},
		{"audit component", AuditComponent("web"), "razar.audit.web.>", AuditAll, "audit", []string{"web", ">"}},
		{"lifecycle", LifecycleSubject(VerbRestart, "web"), "razar.lifecycle.restart.web", LifecycleAll, "lifecycle", []string{"restart", "web"}},
		{"lifecycle all", LifecycleSubject(VerbStatus, AllComponents), "razar.lifecycle.status._all", LifecycleAll, "lifecycle", []string{"status", "_all"}},
		{"heartbeat", HeartbeatSubject("rstar"), "razar.heartbeat.rstar", HeartbeatAll, "heartbeat", []string{"rstar"}},
		{"alert warning", AlertSubject(SeverityWarning), "razar.alert.warning", AlertAll, "alert", []string{"warning"}},
		{"alert critical", AlertSubject(SeverityCritical), "razar.alert.critical", AlertAll, "alert", []string{"critical"}},
		{"agents reload", AgentsReload, "razar.agents.reload", "", "agents", []string{"reload"}},
		{"agents probe", ProbeSubject("k2"), "razar.agents.probe.k2", ProbeAll, "agents", []string{"probe", "k2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("subject = %q, want %q", tt.got, tt.want)
			}
			if tt.wildcard != "" && !subjectMatches(tt.wildcard, tt.got) {
				t.Errorf("%q is not captured by %q", tt.got, tt.wildcard)
			}
			inStream := slices.ContainsFunc(StreamSubjects, func(w string) bool { return subjectMatches(w, tt.got) })
			wantStream := tt.kind == "escalate" || tt.kind == "audit"
			if inStream != wantStream {
				t.Errorf("%q in stream %s = %v, want %v", tt.got, StreamName, inStream, wantStream)
			}
			inResults := slices.ContainsFunc(ResultsStreamSubjects, func(w string) bool { return subjectMatches(w, tt.got) })
			if inResults != (tt.kind == "result") {
				t.Errorf("%q in stream %s = %v, want %v", tt.got, ResultsStreamName, inResults, tt.kind == "result")
			}
			if want := map[bool]string{true: ResultsStreamName, false: StreamName}[tt.kind == "result"]; StreamOf(tt.got) != want {
				t.Errorf("StreamOf(%q) = %q, want %q", tt.got, StreamOf(tt.got), want)
			}
			kind, rest, ok := ParseSubject(tt.got)
			if !ok || kind != tt.kind || !slices.Equal(rest, tt.rest) {
				t.Errorf("ParseSubject(%q) = %q, %q, %v; want %q, %q", tt.got, kind, rest, ok, tt.kind, tt.rest)
			}
		})
	}
}

func TestWildcardsAndNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{EscalateAll, "razar.escalate.>"},
		{ResultAll, "razar.result.>"},
		{AuditAll, "razar.audit.>"},
		{LifecycleAll, "razar.lifecycle.>"},
		{HeartbeatAll, "razar.heartbeat.>"},
		{AlertAll, "razar.alert.>"},
		{ProbeAll, "razar.agents.probe.*"},
		{StreamName, "RAZAR"},
		{ResultsStreamName, "RAZAR_RESULTS"},
		{KVBucket, "RAZAR_STATE"},
		{ConsumerName("k2"), "agent_k2"},
		{EscalationMsgID("inc-7", 3), "esc-inc-7-3"},
		{ResultMsgID("inc-7", 3), "res-inc-7-3"},
		{AuditMsgID(EventSkipped, "inc-7", 2), "audit-skipped-inc-7-2"},
		{IncidentKey("inc-7"), "incident.inc-7"},
		{AgentKey("k2"), "agent.k2"},
		{ComponentKey("web"), "component.web"},
		{IncidentKeys, "incident.>"},
		{AgentKeys, "agent.>"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if !slices.Equal(StreamSubjects, []string{"razar.escalate.>", "razar.audit.>"}) {
		t.Errorf("StreamSubjects = %q", StreamSubjects)
	}
	if !slices.Equal(ResultsStreamSubjects, []string{"razar.result.>"}) {
		t.Errorf("ResultsStreamSubjects = %q", ResultsStreamSubjects)
	}
	// Message ids of different kinds never collide, even for the same incident and number.
	ids := []string{EscalationMsgID("i", 1), ResultMsgID("i", 1)}
	for _, e := range []Event{EventOpened, EventAttempt, EventSkipped, EventEscalation, EventHealed, EventFailed, EventAborted, EventLifecycle, EventAlert, EventLate,
		EventHandshake, EventPatch, EventPending, EventApplied, EventRejected, EventReverted, EventShown, EventContext} {
		ids = append(ids, AuditMsgID(e, "i", 1))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("message id %q is used by two kinds", id)
		}
		seen[id] = true
	}
	// The "every component" token is a subject token no component can be named.
	if !ValidToken(AllComponents) || razar.ValidName(AllComponents) == nil {
		t.Errorf("AllComponents %q must be a valid token and an invalid component name", AllComponents)
	}
	for _, v := range Verbs {
		if !ValidToken(string(v)) {
			t.Errorf("verb %q is not a subject token", v)
		}
	}
	// CONTRACT's six verbs, plus escalate, approve, reject, reload, detach,
	// record, memory_audit, a human rung's ack, resolve and pass, the
	// fix memory's fixes, fix_forget and fix_pin, and a credential
	// rotation's rotation, rotation_wait, approve_rotation and
	// reject_rotation, and resume (a halted boot cycle).
	if len(Verbs) != 24 {
		t.Errorf("Verbs = %q, want the 24 lifecycle verbs", Verbs)
	}
}

func TestParseSubjectOutside(t *testing.T) {
	for _, s := range []string{"", "razar", "nats.escalate.k2", "RAZAR.escalate.k2", "razarx.escalate.k2", "$JS.API.INFO"} {
		if kind, rest, ok := ParseSubject(s); ok {
			t.Errorf("ParseSubject(%q) = %q, %q, true; want not ok", s, kind, rest)
		}
	}
}

func TestValidToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"k2", true},
		{"crown_router", true},
		{"inc-20260102-0001", true},
		{"_all", true},
		{"UPPER", true},
		{"é", true},
		{"", false},
		{"a.b", false},
		{".", false},
		{"*", false},
		{"a*", false},
		{">", false},
		{"a>", false},
		{"a b", false},
		{" ", false},
		{"a\tb", false},
		{"a\nb", false},
		{"a\r", false},
	}
	for _, tt := range tests {
		if got := ValidToken(tt.in); got != tt.want {
			t.Errorf("ValidToken(%q) = %v, want %v", tt.in, got, tt.want)
		}
		// Every valid component or agent name is a valid token.
		if razar.ValidName(tt.in) == nil && !ValidToken(tt.in) {
			t.Errorf("%q is a valid name but not a valid token", tt.in)
		}
	}
}

var (
	t0 = time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	t1 = t0.Add(time.Minute)
)

func sampleEscalation() *Escalation {
	return &Escalation{
		Incident: "inc-7", Component: "web", Error: "exit status 1: port 8101 in use",
		Attempt: 3, Rung: "k2", Pass: 1, Deadline: t1, Workdir: "/srv/razar/services/web",
		Context: []razar.Attempt{
			{Number: 1, Rung: "crown", Pass: 1, Outcome: razar.OutcomeNoFix, Summary: "no rule matched", Started: t0, Finished: t0.Add(time.Second)},
			{Number: 2, Rung: "kimicho", Pass: 1, Outcome: razar.OutcomeRejected, Diff: "--- a\n+++ b\n", Reason: "health check failed", Started: t0, Finished: t1},
		},
	}
}

func sampleResult() *Result {
	return &Result{Incident: "inc-7", Attempt: 3, Rung: "k2", Status: razar.StatusFixed, Summary: "freed the port", Diff: "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n", Host: "node-1"}
}

func sampleAudit() *AuditRecord {
	a := &AuditRecord{Event: EventEscalation, Component: "web", Incident: "inc-7", Agent: "k2", AgentDisplay: "K2 Coder",
		Attempt: 3, Pass: 1, From: "kimicho", To: "k2", Escalations: 2, Failed: 2, Seq: 42}
	a.Stamp(t0)
	return a
}

func sampleAlert() *AlertMsg {
	return &AlertMsg{Severity: SeverityCritical, Message: "Boot sequence halted; configuration rolled back to safe defaults", Component: "web", Incident: "inc-7", Time: t0}
}

// payloadCases are one filled value of every payload type, and how to make an empty one.
func payloadCases() []struct {
	name  string
	full  Payload
	empty func() Payload
} {
	return []struct {
		name  string
		full  Payload
		empty func() Payload
	}{
		{"escalation", sampleEscalation(), func() Payload { return &Escalation{} }},
		{"result", sampleResult(), func() Payload { return &Result{} }},
		{"audit", sampleAudit(), func() Payload { return &AuditRecord{} }},
		{"lifecycle request", &LifecycleRequest{Error: "boom", Actor: "ops", Patch: "p-1"}, func() Payload { return &LifecycleRequest{} }},
		{"lifecycle reply", &LifecycleReply{Component: "web", Error: "web is quarantined", Code: CodeRefused, Incident: "inc-7", Message: "restarted", Data: json.RawMessage(`{"pid":42}`)}, func() Payload { return &LifecycleReply{} }},
		{"heartbeat", &Heartbeat{Name: "k2", Kind_: "agent", Status: "ready", Detail: "idle", Host: "node-1", Time: t0}, func() Payload { return &Heartbeat{} }},
		{"alert", sampleAlert(), func() Payload { return &AlertMsg{} }},
		{"probe request", &ProbeRequest{Roster: json.RawMessage(`{"agents":[{"name":"k2","backend":"exec","command":["./k2.sh"]}]}`)}, func() Payload { return &ProbeRequest{} }},
		{"probe reply", &ProbeReply{Rung: "k2", Host: "node-1:4242", PID: 4242, Ready: false, Reason: "agent k2: credential variable KIMI2_API_KEY_2026_12 is unset", Candidate: true}, func() Payload { return &ProbeReply{} }},
		{"agent status", &AgentStatus{Name: "k2", Display: "K2 Coder", Ready: false, Reason: "credential variable KIMI2_API_KEY is unset", Host: "node-1", Updated: t0}, func() Payload { return &AgentStatus{} }},
		{"incident", &IncidentRecord{ID: "inc-7", Component: "web", Error: "boom", State: razar.IncidentOpen, Opened: t0, Updated: t1,
			Policy:   Policy{Local: []string{"crown", "k2"}, Takeover: "rstar", Threshold: 9, RemoteAttempts: 1, WarnThreshold: 3},
			Cursor:   Cursor{Phase: "local", Pass: 1, Index: 1, Failed: 1, PassAttempts: 1},
			Pending:  &Pending{Attempt: 2, Rung: "k2", Pass: 1, Started: t0, Deadline: t1},
			Attempts: []razar.Attempt{{Number: 1, Rung: "crown", Pass: 1, Outcome: razar.OutcomeNoFix, Started: t0, Finished: t0}},
			Skips:    []Skip{{Rung: "kimicho", Pass: 1, Reason: "no endpoint", Time: t0}},
			LastRung: "k2", Escalations: 1, Workdir: "/srv/web", Cycle: "boot-1"}, func() Payload { return &IncidentRecord{} }},
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, tt := range payloadCases() {
		t.Run(tt.name, func(t *testing.T) {
			if tt.full.Kind() != tt.name {
				t.Errorf("Kind() = %q, want %q", tt.full.Kind(), tt.name)
			}
			b, err := Encode(tt.full)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			var wire map[string]any
			if err := json.Unmarshal(b, &wire); err != nil {
				t.Fatalf("Encode wrote invalid JSON: %v", err)
			}
			if wire["v"] != float64(Version) || Version != 1 {
				t.Errorf("encoded v = %v, want 1: %s", wire["v"], b)
			}
			if _, nested := wire["versioned"]; nested {
				t.Errorf("version is nested, not a top-level \"v\": %s", b)
			}
			got := tt.empty()
			if err := Decode(b, got); err != nil {
				t.Fatalf("Decode of Encode: %v\n%s", err, b)
			}
			if !reflect.DeepEqual(got, tt.full) {
				t.Errorf("round trip changed the payload:\ngot  %+v\nwant %+v", got, tt.full)
			}
		})
	}
}

func TestEncodeWireNames(t *testing.T) {
	// Field names are the protocol (docs/PROTOCOL.md); spot-check the ones
	// operators and the nats CLI rely on.
	b, err := Encode(sampleEscalation())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"v":1`, `"incident":"inc-7"`, `"component":"web"`, `"attempt":3`, `"rung":"k2"`, `"deadline":`, `"context":[`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("escalation lacks %s: %s", key, b)
		}
	}
	b, err = Encode(sampleResult())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"status":"fixed"`, `"summary":`, `"diff":`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("result lacks %s: %s", key, b)
		}
	}
	b, err = Encode(sampleAudit())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"event":"escalation"`, `"timestamp":`, `"timestamp_iso":"2026-01-02T03:04:05.0000006Z"`, `"failed_attempts":2`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("audit record lacks %s: %s", key, b)
		}
	}
	// A probe carries the candidate roster as a JSON document, not a string.
	b, err = Encode(&ProbeRequest{Roster: json.RawMessage(`{"agents":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":1,"roster":{"agents":[]}}`; string(b) != want {
		t.Errorf("probe request = %s, want %s", b, want)
	}
	b, err = Encode(&ProbeReply{Rung: "k2", Host: "node-1:42", PID: 42})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":1,"rung":"k2","host":"node-1:42","pid":42,"ready":false}`; string(b) != want {
		t.Errorf("probe reply = %s, want %s (ready is always on the wire)", b, want)
	}
}

// mutate encodes p, applies f to its JSON object and returns the result.
func mutate(t *testing.T, p Payload, f func(m map[string]any)) []byte {
	t.Helper()
	b, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func set(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
func del(k string) func(map[string]any)        { return func(m map[string]any) { delete(m, k) } }

const anyField = "\x00any"

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name  string
		into  func() Payload
		data  func(t *testing.T) []byte
		field string // DecodeError.Field; "" for a broken document, anyField to not check
		msg   string // further text the error must hold
	}{
		{"attempt as a word", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), set("attempt", "one")) }, "attempt", "string"},
		{"nested wrong type", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte {
				return mutate(t, sampleEscalation(), set("context", []any{map[string]any{"attempt": "one"}}))
			}, "context.attempt", ""},
		{"context not a list", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), set("context", "none")) }, "context", ""},
		{"deadline not a time", func() Payload { return &Escalation{} },
			// encoding/json gives time.Time's own errors no field path, so
			// only the value is named; see the report on Decode.
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), set("deadline", "tomorrow")) }, anyField, `"tomorrow"`},
		{"v missing", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), del("v")) }, "v", "missing"},
		{"v zero", func() Payload { return &Result{} },
			func(t *testing.T) []byte { return mutate(t, sampleResult(), set("v", 0)) }, "v", "missing"},
		{"v too new", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), set("v", 2)) }, "v", "unsupported payload version 2"},
		{"v negative", func() Payload { return &Result{} },
			func(t *testing.T) []byte { return mutate(t, sampleResult(), set("v", -1)) }, "v", "unsupported"},
		{"v as a string", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), set("v", "1")) }, "v", "string"},
		{"v too new on a lifecycle request", func() Payload { return &LifecycleRequest{} },
			func(*testing.T) []byte { return []byte(`{"v": 2, "actor": "ops"}`) }, "v", "unsupported"},
		{"v too new on an incident", func() Payload { return &IncidentRecord{} },
			func(*testing.T) []byte { return []byte(`{"v": 3, "id": "inc-1", "component": "web", "state": "open"}`) }, "v", "unsupported"},

		{"escalation without incident", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), del("incident")) }, "incident", "missing"},
		{"escalation incident with a dot", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), set("incident", "inc.7")) }, "incident", ""},
		{"escalation without component", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), del("component")) }, "component", "missing"},
		{"escalation without attempt", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), del("attempt")) }, "attempt", "1 or more"},
		{"escalation attempt zero", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), set("attempt", 0)) }, "attempt", ""},
		{"escalation without rung", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), del("rung")) }, "rung", ""},
		{"escalation rung wildcard", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), set("rung", "*")) }, "rung", ""},
		{"escalation without deadline", func() Payload { return &Escalation{} },
			func(t *testing.T) []byte { return mutate(t, sampleEscalation(), del("deadline")) }, "deadline", "missing"},

		{"result without incident", func() Payload { return &Result{} },
			func(t *testing.T) []byte { return mutate(t, sampleResult(), del("incident")) }, "incident", ""},
		{"result without attempt", func() Payload { return &Result{} },
			func(t *testing.T) []byte { return mutate(t, sampleResult(), del("attempt")) }, "attempt", ""},
		{"result without rung", func() Payload { return &Result{} },
			func(t *testing.T) []byte { return mutate(t, sampleResult(), del("rung")) }, "rung", "missing"},
		{"result without status", func() Payload { return &Result{} },
			func(t *testing.T) []byte { return mutate(t, sampleResult(), del("status")) }, "status", ""},
		{"result unknown status", func() Payload { return &Result{} },
			func(t *testing.T) []byte { return mutate(t, sampleResult(), set("status", "healed")) }, "status", `"healed"`},
		{"result attempt as a word", func() Payload { return &Result{} },
			func(t *testing.T) []byte { return mutate(t, sampleResult(), set("attempt", "one")) }, "attempt", ""},

		{"audit without event", func() Payload { return &AuditRecord{} },
			func(t *testing.T) []byte { return mutate(t, sampleAudit(), del("event")) }, "event", ""},
		{"audit without component", func() Payload { return &AuditRecord{} },
			func(t *testing.T) []byte { return mutate(t, sampleAudit(), del("component")) }, "component", ""},
		{"audit component with a space", func() Payload { return &AuditRecord{} },
			func(t *testing.T) []byte { return mutate(t, sampleAudit(), set("component", "my web")) }, "component", ""},
		{"audit without timestamp_iso", func() Payload { return &AuditRecord{} },
			func(t *testing.T) []byte { return mutate(t, sampleAudit(), del("timestamp_iso")) }, "timestamp_iso", "missing"},

		{"alert without severity", func() Payload { return &AlertMsg{} },
			func(t *testing.T) []byte { return mutate(t, sampleAlert(), del("severity")) }, "severity", ""},
		{"alert severity info", func() Payload { return &AlertMsg{} },
			func(t *testing.T) []byte { return mutate(t, sampleAlert(), set("severity", "info")) }, "severity", ""},
		{"alert without message", func() Payload { return &AlertMsg{} },
			func(t *testing.T) []byte { return mutate(t, sampleAlert(), del("message")) }, "message", "missing"},

		{"heartbeat without name", func() Payload { return &Heartbeat{} },
			func(*testing.T) []byte { return []byte(`{"v": 1, "kind": "agent"}`) }, "name", ""},
		{"probe request roster over the limit", func() Payload { return &ProbeRequest{} },
			func(*testing.T) []byte {
				return []byte(`{"v": 1, "roster": {"agents": [], "pad": "` + strings.Repeat("x", MaxProbeRosterBytes) + `"}}`)
			}, "roster", "over the"},
		{"probe request roster not JSON", func() Payload { return &ProbeRequest{} },
			func(*testing.T) []byte { return []byte(`{"v": 1, "roster": {agents}}`) }, "", "not JSON"},
		{"probe reply without rung", func() Payload { return &ProbeReply{} },
			func(*testing.T) []byte { return []byte(`{"v": 1, "ready": true}`) }, "rung", "missing"},
		{"agent status without name", func() Payload { return &AgentStatus{} },
			func(*testing.T) []byte { return []byte(`{"v": 1, "ready": true}`) }, "name", ""},
		{"incident without state", func() Payload { return &IncidentRecord{} },
			func(*testing.T) []byte { return []byte(`{"v": 1, "id": "inc-1", "component": "web"}`) }, "state", ""},

		{"not JSON", func() Payload { return &Escalation{} },
			func(*testing.T) []byte { return []byte(`escalate k2`) }, "", "not JSON"},
		{"truncated JSON", func() Payload { return &Result{} },
			func(t *testing.T) []byte { b, _ := Encode(sampleResult()); return b[:len(b)/2] }, "", "not JSON"},
		{"JSON array", func() Payload { return &Result{} },
			func(*testing.T) []byte { return []byte(`[1]`) }, "", ""},
		{"JSON null", func() Payload { return &Escalation{} },
			func(*testing.T) []byte { return []byte(`null`) }, "v", "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.into()
			data := tt.data(t)
			err := Decode(data, p)
			if err == nil {
				t.Fatalf("Decode accepted %s", data)
			}
			var de *razar.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not *razar.DecodeError: %v", err, err)
			}
			if !errors.Is(err, razar.ErrBadPayload) {
				t.Errorf("errors.Is(err, ErrBadPayload) = false: %v", err)
			}
			if de.Type != p.Kind() {
				t.Errorf("Type = %q, want %q", de.Type, p.Kind())
			}
			if tt.field != anyField && de.Field != tt.field {
				t.Errorf("Field = %q, want %q (error: %v)", de.Field, tt.field, err)
			}
			if tt.field != "" && tt.field != anyField && !strings.Contains(err.Error(), strconv.Quote(tt.field)) {
				t.Errorf("message does not name field %q: %v", tt.field, err)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message does not say %q: %v", tt.msg, err)
			}
		})
	}
}

func TestDecodeEmptyBody(t *testing.T) {
	for _, tt := range payloadCases() {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.empty()
			err := Decode(nil, p)
			if _, isReq := p.(emptyBody); isReq {
				if err != nil {
					t.Fatalf("empty %s: %v", p.Kind(), err)
				}
				if !reflect.DeepEqual(p, tt.empty()) {
					t.Errorf("empty body decoded as %+v, want the zero request", p)
				}
				return
			}
			var de *razar.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, razar.ErrBadPayload) || de.Type != p.Kind() || de.Field != "" {
				t.Errorf("empty %s: error = %#v, want a document-level *DecodeError", p.Kind(), err)
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	tests := []struct {
		name string
		into Payload
		data []byte
		want Payload
	}{
		{"unknown fields ignored", &Result{},
			[]byte(`{"v": 1, "incident": "inc-7", "attempt": 3, "rung": "k2", "status": "no_fix", "confidence": 0.4, "tokens": {"in": 10}, "x": [null]}`),
			&Result{versioned: versioned{V: 1}, Incident: "inc-7", Attempt: 3, Rung: "k2", Status: razar.StatusNoFix}},
		{"lifecycle request without v", &LifecycleRequest{},
			[]byte(`{"actor": "ops", "error": "boom"}`),
			&LifecycleRequest{Actor: "ops", Error: "boom"}},
		{"lifecycle request null", &LifecycleRequest{}, []byte(`null`), &LifecycleRequest{}},
		{"probe request without v, about the current roster", &ProbeRequest{}, []byte(`{}`), &ProbeRequest{}},
		{"nats CLI style escalation, optional fields absent", &Escalation{},
			[]byte(`{"v":1,"incident":"inc-1","component":"web","attempt":1,"rung":"crown","deadline":"2026-01-02T03:04:05Z"}`),
			&Escalation{versioned: versioned{V: 1}, Incident: "inc-1", Component: "web", Attempt: 1, Rung: "crown", Deadline: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Decode(tt.data, tt.into); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(tt.into, tt.want) {
				t.Errorf("got  %+v\nwant %+v", tt.into, tt.want)
			}
		})
	}
}

func TestEscalationTask(t *testing.T) {
	e := sampleEscalation()
	got := e.Task()
	want := razar.Task{Incident: "inc-7", Component: "web", Error: e.Error, Attempt: 3, Pass: 1, Rung: "k2",
		Workdir: "/srv/razar/services/web", Deadline: t1, History: e.Context}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Task() = %+v\nwant %+v", got, want)
	}
}

func TestAuditStamp(t *testing.T) {
	var a AuditRecord
	a.Stamp(time.Date(2026, 1, 2, 4, 4, 5, 500_000_000, time.FixedZone("CET", 3600)))
	if a.TimestampISO != "2026-01-02T03:04:05.5Z" || a.Timestamp != 1767323045.5 {
		t.Errorf("Stamp: %v %q", a.Timestamp, a.TimestampISO)
	}
}

// clipRE matches Clip's marker and captures the byte count it reports.
var clipRE = regexp.MustCompile("\n…\\[razar: cut (\\d+) bytes\\]…\n")

// checkClip asserts Clip(s, max)'s contract on a clipped result: at most max
// bytes, the marker, a head that is a prefix of s and a tail that is a
// suffix of s, each as long as the budget allows less at most one rune.
func checkClip(t testing.TB, s string, max int, out string) {
	t.Helper()
	if len(out) > max {
		t.Fatalf("Clip(len %d, %d) is %d bytes", len(s), max, len(out))
	}
	loc := clipRE.FindStringIndex(out)
	if loc == nil || !strings.Contains(out, "…[razar: cut") {
		t.Fatalf("Clip(len %d, %d) has no marker: %q", len(s), max, out)
	}
	head, tail := out[:loc[0]], out[loc[1]:]
	if !strings.HasPrefix(s, head) {
		t.Errorf("head %q is not a prefix of the input", head)
	}
	if !strings.HasSuffix(s, tail) {
		t.Errorf("tail %q is not a suffix of the input", tail)
	}
	if !utf8.ValidString(s) {
		return
	}
	keep := max - (loc[1] - loc[0])
	wantHead := keep * 2 / 3
	wantTail := keep - wantHead
	if len(head) > wantHead || len(head) < wantHead-(utf8.UTFMax-1) {
		t.Errorf("head is %d bytes, want %d less at most one partial rune", len(head), wantHead)
	}
	if len(tail) > wantTail || len(tail) < wantTail-(utf8.UTFMax-1) {
		t.Errorf("tail is %d bytes, want %d less at most one partial rune", len(tail), wantTail)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("0123456789", 100) // 1000 bytes
	tests := []struct {
		name string
		in   string
		max  int
	}{
		{"empty", "", 10},
		{"short", "exit status 1", MaxErrorBytes},
		{"exactly max", long[:100], 100},
		{"one over", long[:101], 100},
		{"ascii", long, 100},
		{"ascii error budget", strings.Repeat(long, 10), MaxErrorBytes},
		{"ascii diff budget", strings.Repeat("+line\n", 20000), MaxDiffBytes},
		{"two-byte runes", strings.Repeat("é", 500), 101},
		{"two-byte runes other parity", strings.Repeat("é", 500), 100},
		{"four-byte runes", strings.Repeat("😀", 300), 101},
		{"four-byte runes 2", strings.Repeat("😀", 300), 102},
		{"four-byte runes 3", strings.Repeat("😀", 300), 103},
		{"four-byte runes 4", strings.Repeat("😀", 300), 104},
		{"mixed runes", strings.Repeat("aé😀€", 200), 150},
		{"head and tail marked", "HEAD-" + strings.Repeat("x", 5000) + "-TAIL", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Clip(tt.in, tt.max)
			if !utf8.ValidString(out) {
				t.Errorf("output is not valid UTF-8: %q", out)
			}
			if len(tt.in) <= tt.max {
				if out != tt.in {
					t.Errorf("Clip changed a string that fits: %q", out)
				}
				return
			}
			checkClip(t, tt.in, tt.max, out)
		})
	}
	out := Clip("HEAD-"+strings.Repeat("x", 5000)+"-TAIL", 200)
	if !strings.HasPrefix(out, "HEAD-") || !strings.HasSuffix(out, "-TAIL") {
		t.Errorf("head or tail lost: %q", out)
	}
}

func FuzzDecodeEscalation(f *testing.F) {
	seed := func(p Payload) {
		b, err := Encode(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(sampleEscalation())
	e := sampleEscalation()
	e.Context = nil
	e.Workdir = ""
	seed(e)
	e = sampleEscalation()
	e.Context[0].Diff = strings.Repeat("é", 40)
	seed(e)
	f.Add([]byte(`{"v":1,"incident":"inc-1","component":"web","attempt":1,"rung":"crown","deadline":"2026-01-02T03:04:05+01:00","context":[{"attempt":1,"started":"2026-01-02T03:04:05Z"}]}`))
	f.Add([]byte(`{"v":2,"incident":"inc-1"}`))
	f.Add([]byte(`{"v":1,"attempt":"one"}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, &Escalation{}, func() Payload { return &Escalation{} })
	})
}

func FuzzDecodeResult(f *testing.F) {
	for _, r := range []*Result{
		sampleResult(),
		{Incident: "inc-1", Attempt: 1, Rung: "crown", Status: razar.StatusNoFix},
		{Incident: "inc-2", Attempt: 9, Rung: "rstar", Status: razar.StatusError, Error: "timeout calling endpoint", Host: "h"},
	} {
		b, err := Encode(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"incident":"inc-1","attempt":1,"rung":"k2","status":"fixed","unknown":{"a":[1,2]}}`))
	f.Add([]byte(`{"v":1,"incident":"a.b","attempt":1,"rung":"k2","status":"done"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, &Result{}, func() Payload { return &Result{} })
	})
}

// fuzzDecode decodes data into p. A rejection must be a *DecodeError; an
// accepted payload must pass Check and survive Encode/Decode unchanged.
func fuzzDecode(t *testing.T, data []byte, p Payload, empty func() Payload) {
	err := Decode(data, p)
	if err != nil {
		var de *razar.DecodeError
		if !errors.As(err, &de) || !errors.Is(err, razar.ErrBadPayload) || de.Type != p.Kind() {
			t.Fatalf("rejection is not a %s *DecodeError: %T %v", p.Kind(), err, err)
		}
		return
	}
	if err := p.Check(); err != nil {
		t.Fatalf("Decode accepted a payload that fails Check: %v", err)
	}
	if p.version() != Version {
		t.Fatalf("Decode accepted version %d", p.version())
	}
	b1, err := Encode(p)
	if err != nil {
		t.Fatalf("Encode of an accepted payload: %v", err)
	}
	again := empty()
	if err := Decode(b1, again); err != nil {
		t.Fatalf("re-encoded payload does not decode: %v\n%s", err, b1)
	}
	b2, err := Encode(again)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("payload changed on re-encode:\n%s\n%s", b1, b2)
	}
}

func FuzzClip(f *testing.F) {
	f.Add("exit status 1", 100)
	f.Add(strings.Repeat("0123456789", 100), 100)
	f.Add(strings.Repeat("é", 500), 101)
	f.Add(strings.Repeat("😀", 300), 103)
	f.Add(strings.Repeat("aé😀€", 200), 150)
	f.Add("HEAD-"+strings.Repeat("x", 5000)+"-TAIL", 200)
	f.Add("\xff\xfe"+strings.Repeat("x", 300), 80)
	f.Add(strings.Repeat("x", 300), 10)
	f.Fuzz(func(t *testing.T, s string, n int) {
		out := Clip(s, n) // must not panic for any n
		if len(s) <= n {
			if out != s {
				t.Fatalf("Clip changed a string that fits")
			}
			return
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("Clip(%q, %d) = %q: invalid UTF-8 from valid input", s, n, out)
		}
		if n > 64 {
			checkClip(t, s, n, out)
		}
	})
}
