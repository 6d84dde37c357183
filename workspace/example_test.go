package workspace_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/workspace"
)

// A rung's context tools, answered over a component's workdir: the
// listing (the deny-list hides .env), a window of numbered lines, and a
// search. The orchestrator serves these on razar.context.<incident>.<rung>;
// a refusal is an answer with OK false and an error that says what to do.
func ExampleView_Serve() {
	dir, err := os.MkdirTemp("", "workspace-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for name, text := range map[string]string{
		"ledger.conf": "listen=127.0.0.1\nprot=8200\nlog=info\n",
		"run.sh":      "#!/bin/sh\nexec ledger -c ledger.conf\n",
		".env":        "LEDGER_TOKEN=s3cr3t\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			panic(err)
		}
	}
	v, err := workspace.New(config.Component{Name: "ledger", Workdir: dir}, "", workspace.Options{})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	ctx := context.Background()

	list := v.Serve(ctx, razar.ToolRequest{Op: razar.ToolList})
	for _, e := range list.Reply.Entries {
		fmt.Println("list:", e.Path, e.Size)
	}
	read := v.Serve(ctx, razar.ToolRequest{Op: razar.ToolRead, Path: "ledger.conf", From: 2, To: 2})
	fmt.Print("read:\n", read.Reply.Text)
	search := v.Serve(ctx, razar.ToolRequest{Op: razar.ToolSearch, Pattern: `prot\s*=`})
	for _, m := range search.Reply.Matches {
		fmt.Printf("search: %s:%d %s\n", m.Path, m.Line, m.Text)
	}
	denied := v.Serve(ctx, razar.ToolRequest{Op: razar.ToolRead, Path: ".env"})
	fmt.Println("read .env:", denied.Reply.OK, denied.Verdict)
	fmt.Println(denied.Reply.Error)

	// The reply a rung receives is this JSON (docs/PROTOCOL.md §3.12).
	b, err := json.Marshal(search.Reply)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output:
	// list: ledger.conf 36
	// list: run.sh 37
	// read:
	//      2	prot=8200
	// (lines 2-2 of 3)
	// search: ledger.conf:2 prot=8200
	// read .env: false refused: denied
	// .env is not shown to rungs (the deny-list (.env*)); nothing was read
	// {"ok":true,"matches":[{"path":"ledger.conf","line":2,"text":"prot=8200"}],"calls_left":0}
}
