package razar_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/razar/razar"
)

// A rung's backend is a razar.Agent: given the Task of one attempt, it
// may call the attempt's context tools (here served by a ToolsFunc over a
// map, where RAZAR serves them on razar.context.<incident>.<rung>), and it
// answers with a Fix whose diff the orchestrator places, validates and
// promotes. A tool refusal is a reply with OK false, not an error.
func ExampleAgentFunc() {
	files := map[string]string{"ledger.conf": "listen=127.0.0.1\nprot=8200\n"}
	tools := razar.ToolsFunc(func(_ context.Context, req razar.ToolRequest) (razar.ToolReply, error) {
		text, ok := files[req.Path]
		if req.Op != razar.ToolRead || !ok {
			return razar.ToolReply{Error: "no file " + req.Path + ": list shows what there is"}, nil
		}
		return razar.ToolReply{OK: true, Text: text}, nil
	})

	agent := razar.AgentFunc(func(ctx context.Context, t razar.Task) (razar.Fix, error) {
		reply, err := t.Tools.Call(ctx, razar.ToolRequest{Op: razar.ToolRead, Path: "ledger.conf"})
		if err != nil {
			return razar.Fix{}, err // no answer came: the runtime reports an error result
		}
		if !reply.OK || !strings.Contains(reply.Text, "prot=") {
			return razar.Fix{Status: razar.StatusNoFix, Summary: "not the typo I know"}, nil
		}
		return razar.Fix{
			Status:  razar.StatusFixed,
			Summary: "prot is a typo of port",
			Diff:    "--- a/ledger.conf\n+++ b/ledger.conf\n@@ -2 +2 @@\n-prot=8200\n+port=8200\n",
		}, nil
	})

	fix, err := agent.Repair(context.Background(), razar.Task{
		Incident: "inc-20261126-124412-a1b2c3", Component: "ledger", Attempt: 1, Rung: "k2",
		Error: "ledger.conf line 2: unknown key prot", Tools: tools,
	})
	fmt.Println(fix.Status, fix.Summary, err)

	// What a rung sends on razar.context.<incident>.<rung> and gets back
	// (docs/PROTOCOL.md §3.12), as JSON.
	req, _ := json.Marshal(razar.ToolRequest{Op: razar.ToolSearch, Pattern: `port\s*=`, Glob: "*.conf"})
	fmt.Println(string(req))
	refusal, _ := tools.Call(context.Background(), razar.ToolRequest{Op: razar.ToolRead, Path: ".env"})
	out, _ := json.Marshal(refusal)
	fmt.Println(string(out))
	// Output:
	// fixed prot is a typo of port <nil>
	// {"op":"search","glob":"*.conf","pattern":"port\\s*="}
	// {"ok":false,"error":"no file .env: list shows what there is","calls_left":0}
}
