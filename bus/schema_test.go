package bus

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/razar/razar"
)

// The JSON Schemas of docs/PROTOCOL.md are the protocol a rung in another
// language is written against: this test checks them against what Encode
// writes, and each worked example against its schema, so the document
// cannot drift from the code. A fence marked ```json <name> holds another
// system's format (Alertmanager's) and is not checked.

var fence = regexp.MustCompile("(?s)```json\n(.*?)\n```")

// protocolDoc is one schema of PROTOCOL.md; section numbers the section
// (### heading) it is in.
type protocolDoc struct {
	title   string
	id      string
	schema  any
	section int
}

// protocolExample is one worked example after a schema of its section.
type protocolExample struct {
	section int
	body    string
}

func readProtocol(t *testing.T) ([]*protocolDoc, []protocolExample) {
	t.Helper()
	data, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	var docs []*protocolDoc
	var examples []protocolExample
	for i, section := range regexp.MustCompile(`(?m)^#{2,3} `).Split(string(data), -1) {
		var cur *protocolDoc
		for _, m := range fence.FindAllStringSubmatch(section, -1) {
			body := m[1]
			if strings.Contains(body, `"$schema"`) {
				doc, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
				if err != nil {
					t.Fatalf("a schema in PROTOCOL.md is not JSON: %v\n%s", err, body)
				}
				obj, _ := doc.(map[string]any)
				title, _ := obj["title"].(string)
				id, _ := obj["$id"].(string)
				if id == "" {
					id = strings.ToLower(title) + ".json"
				}
				cur = &protocolDoc{title: title, id: id, schema: doc, section: i}
				docs = append(docs, cur)
				continue
			}
			if cur != nil {
				examples = append(examples, protocolExample{section: i, body: body})
			}
		}
	}
	return docs, examples
}

func compileProtocol(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	docs, _ := readProtocol(t)
	c := jsonschema.NewCompiler()
	for _, d := range docs {
		if err := c.AddResource(d.id, d.schema); err != nil {
			t.Fatalf("schema %s (%s): %v", d.title, d.id, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, d := range docs {
		if d.title == "" {
			continue
		}
		s, err := c.Compile(d.id)
		if err != nil {
			t.Fatalf("schema %s does not compile: %v", d.title, err)
		}
		out[d.title] = s
	}
	return out
}

func TestProtocolSchemasMatchWhatEncodeWrites(t *testing.T) {
	schemas := compileProtocol(t)
	mission := &MissionState{Updated: t0, Health: HealthDegraded, Cycle: "boot-1",
		Components: []ComponentView{
			{Name: "clock", Priority: 1, Chakra: "root", Status: StatusHealthy, PID: 41, Adopted: true, Restarts: 0, Since: t0, LastProbe: t0},
			{Name: "ledger", Priority: 2, Status: StatusRestarting, Restarts: 2, Crashes: 2, LastExit: "killed by SIGKILL",
				NextRestart: t1, Backoff: "2s", LastError: "ledger exited", Incident: "inc-7"},
			{Name: "courier", Priority: 3, Status: StatusStopped, Held: true},
		},
		Quarantine: []string{}, Incidents: []string{"inc-7"}}
	status, err := json.Marshal(&StatusView{Mission: mission, Incidents: []*IncidentRecord{}, Agents: []*AgentStatus{}})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]any{
		"Escalation":       sampleEscalation(),
		"Result":           sampleResult(),
		"AuditRecord":      sampleAudit(),
		"Alert":            sampleAlert(),
		"LifecycleRequest": &LifecycleRequest{Error: "boom", Actor: "ops", Patch: "p-1"},
		"LifecycleReply":   &LifecycleReply{OK: true, Component: AllComponents, Data: status},
		"Heartbeat":        &Heartbeat{Name: "k2", Kind_: "agent", Status: "ready", Host: "node-1", Time: t0},
		"AgentStatus":      &AgentStatus{Name: "k2", Display: "K2 Coder", Ready: false, Reason: "KIMI2_API_KEY is unset", Host: "node-1", Updated: t0},
		"MissionBrief":     &MissionBrief{Cycle: "boot-1", Components: []BriefComponent{{Name: "web", Priority: 1, Chakra: "root"}}, OpenIncidents: []string{}, Time: t0},
		"HandshakeAck":     &HandshakeAck{Agent: "crown", Ack: true, Message: "ok", Time: t0},
		"MissionState":     mission,
		"IncidentRecord":   payloadCases()[len(payloadCases())-1].full,
		"ContextRequest":   &ContextRequest{ToolRequest: razar.ToolRequest{Op: razar.ToolRead, Path: "conf/app.yaml", From: 1, To: 40}},
		"ContextReply": &ContextReply{ToolReply: razar.ToolReply{OK: true, Text: "     1\tport: 1\n", Entries: []razar.FileInfo{{Path: "conf", Modified: t0, Dir: true}},
			Matches: []razar.Match{{Path: "conf/app.yaml", Line: 1, Text: "port: 1"}}, Attempt: &razar.Attempt{Number: 1, Rung: "crown", Pass: 1, Outcome: razar.OutcomeNoFix, Started: t0, Finished: t1},
			Applied: true, Placement: []string{"hunk 1: at line 1"}, CallsLeft: 3}},
		"Escalation with workspace": withWorkspace(sampleEscalation()),
	}
	for title, v := range cases {
		t.Run(title, func(t *testing.T) {
			s := schemas[strings.TrimSuffix(title, " with workspace")]
			if s == nil {
				t.Fatalf("PROTOCOL.md has no schema titled %s", title)
			}
			var data []byte
			var err error
			if p, ok := v.(Payload); ok {
				data, err = Encode(p)
			} else {
				data, err = json.Marshal(v)
			}
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(inst); err != nil {
				t.Errorf("what Encode writes does not match PROTOCOL.md's %s schema: %v\n%s", title, err, data)
			}
		})
	}
}

// TestProtocolExamplesMatchTheirSchemas: every worked example after a
// schema in PROTOCOL.md validates against one of its section's schemas (a
// section may hold a request and its reply).
func TestProtocolExamplesMatchTheirSchemas(t *testing.T) {
	schemas := compileProtocol(t)
	docs, examples := readProtocol(t)
	if len(examples) == 0 {
		t.Fatal("no examples found in PROTOCOL.md")
	}
	for _, ex := range examples {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(ex.body))
		if err != nil {
			t.Errorf("an example in PROTOCOL.md is not JSON: %v\n%s", err, ex.body)
			continue
		}
		var tried, errs []string
		ok := false
		for _, d := range docs {
			if d.section != ex.section || schemas[d.title] == nil {
				continue
			}
			tried = append(tried, d.title)
			if err := schemas[d.title].Validate(inst); err != nil {
				errs = append(errs, err.Error())
				continue
			}
			ok = true
			break
		}
		if !ok {
			t.Errorf("an example does not validate against its section's schemas %v: %s\n%s", tried, strings.Join(errs, "; "), ex.body)
		}
	}
}

func withWorkspace(e *Escalation) *Escalation {
	e.Shortened = 1
	e.Workspace = &razar.Workspace{
		Entry:   razar.WorkspaceEntry{Name: "web", Command: []string{"./run.sh"}, Workdir: "services/web", Validate: []string{"./check.sh"}, Env: []string{"API_KEY"}},
		LogTail: "error: port in use",
		Listing: []razar.FileInfo{{Path: "run.sh", Size: 20, Modified: t0}},
		Files:   []razar.FileText{{Path: "run.sh", Bytes: 20, SHA256: "ab", Text: "#!/bin/sh\nexec ./web\n", Why: "run by the command"}},
		Budget:  32768,
	}
	return e
}
