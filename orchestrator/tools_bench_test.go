package orchestrator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
)

// BenchmarkContextRead is one `read` of a 2 KiB file through the context
// tools (the gate, the pending check, the budget, the audit record) on
// the bus, against the baseline of a raw request-reply on the same
// connection answered with a reply of the same size.
func BenchmarkContextRead(b *testing.B) {
	env := bustest.New(b)
	home := b.TempDir()
	wd := filepath.Join(home, "w")
	if err := os.MkdirAll(wd, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wd, "app.conf"), []byte(strings.Repeat("key = value\n", 170)), 0o644); err != nil {
		b.Fatal(err)
	}
	roster := &config.Roster{Agents: []config.AgentEntry{{Name: "k2", Backend: config.BackendExec, Timeout: razar.Duration(time.Hour)}}}
	boot := &config.BootConfig{Components: []config.Component{{Name: "web", Command: []string{"true"}, Workdir: wd}}}
	o, err := orchestrator.New(env.Store, orchestrator.Config{
		Roster:       func() (*config.Roster, error) { return roster, nil },
		Components:   func() (*config.BootConfig, error) { return boot, nil },
		Home:         home,
		ContextCalls: 1 << 30,
		Log:          zerolog.Nop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	defer func() { cancel(); <-done }()
	stop, err := o.ServeContext(env.NC, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	if err := o.Resumed(ctx); err != nil {
		b.Fatal(err)
	}
	id, _, err := o.Escalate(ctx, "web", "boom in app.conf", "")
	if err != nil {
		b.Fatal(err)
	}
	tools := bus.Tools(env.NC, id, "k2")
	req := razar.ToolRequest{Op: razar.ToolRead, Path: "app.conf"}
	var rep razar.ToolReply
	bustest.Eventually(b, 10*time.Second, func() bool {
		rep, err = tools.Call(ctx, req)
		return err == nil && rep.OK
	}, "the attempt's tools never opened")
	canned, _ := bus.Encode(&bus.ContextReply{ToolReply: rep})
	sub, err := env.NATS.Subscribe("bench.raw", func(m *nats.Msg) { _ = m.Respond(canned) })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	body, _ := bus.Encode(&bus.ContextRequest{ToolRequest: req})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := env.NATS.Request("bench.raw", body, 10*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			var r bus.ContextReply
			if err := bus.Decode(m.Data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("razar", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := tools.Call(ctx, req)
			if err != nil || !r.OK {
				b.Fatal(err, r.Error)
			}
		}
	})
}
