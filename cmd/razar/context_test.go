package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// TestBootServesContextToolsToTheRungTheServerAuthenticated: `razar boot`
// answers razar.context on its lifecycle listener; a rung's request
// reaches it stamped with the rung's identity (recorded as the actor of
// the context record), and the operator may not publish there at all.
func TestBootServesContextToolsToTheRungTheServerAuthenticated(t *testing.T) {
	t.Parallel()
	h := home(t, attackRoster, nil)
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0", "--agents", "external")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(ident, inbox string) *bus.Conn {
		opts := []bus.ConnOption{bus.WithCreds(filepath.Join(h, "state/identities", ident+".creds"))}
		if inbox != "" {
			opts = append(opts, bus.WithInboxPrefix(inbox))
		}
		nc, err := bus.Connect(ctx, url, "test-"+ident, zerolog.Nop(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	const incident = "inc-20990101-000000-c0ffee"
	k2 := dial("k2", "_INBOX.k2")
	rep, err := bus.Tools(k2, incident, "k2").Call(ctx, razar.ToolRequest{Op: razar.ToolRead, Path: "../config/razar_ai_agents.json"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || !strings.Contains(rep.Error, "no attempt of incident "+incident+" is pending") || rep.Text != "" {
		t.Fatalf("k2 on an incident it holds no attempt of: %+v", rep)
	}
	_, err = bus.Tools(dial("operator", ""), incident, "k2").Call(ctx, razar.ToolRequest{Op: razar.ToolList})
	if !errors.Is(err, bus.ErrForbidden) {
		t.Fatalf("the operator on k2's context subject: %v, want the server's refusal", err)
	}
	st, err := jetstream.BindStream(ctx, dial("orchestrator", ""))
	if err != nil {
		t.Fatal(err)
	}
	var got []bus.AuditRecord
	bustest.Eventually(t, 10*time.Second, func() bool {
		got = got[:0]
		_ = st.Scan(ctx, bus.AuditAll, time.Time{}, false, func(_ uint64, _ string, data []byte) error {
			var r bus.AuditRecord
			if bus.Decode(data, &r) == nil && r.Event == bus.EventContext && r.Incident == incident {
				got = append(got, r)
			}
			return nil
		})
		return len(got) > 0
	}, "no context record")
	if len(got) != 1 || got[0].Actor != "k2" || got[0].Agent != "k2" || got[0].Verdict != "refused: not pending" || got[0].Op != "read" {
		t.Fatalf("context records: %+v", got)
	}
}

// TestContextSettingsOutOfRangeAreConfigErrorsNamingTheVariable: a budget
// of 0, one over the cap, or a word, is refused with the variable's name
// and the fix; unset gives the defaults.
func TestContextSettingsOutOfRangeAreConfigErrorsNamingTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		field string
	}{
		{map[string]string{"RAZAR_CONTEXT_BYTES": "0"}, "RAZAR_CONTEXT_BYTES"},
		{map[string]string{"RAZAR_CONTEXT_BYTES": "999999999"}, "RAZAR_CONTEXT_BYTES"},
		{map[string]string{"RAZAR_CONTEXT_BYTES": "lots"}, "RAZAR_CONTEXT_BYTES"},
		{map[string]string{"RAZAR_CONTEXT_CALLS": "-3"}, "RAZAR_CONTEXT_CALLS"},
	} {
		c := &cli{getenv: func(k string) string { return tc.env[k] }}
		var s settings
		err := c.readVariables(&s)
		var ce *razar.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || ce.Fix == "" {
			t.Errorf("%v: %v, want a config error naming %s", tc.env, err, tc.field)
		}
	}
	c := &cli{getenv: func(string) string { return "" }}
	var s settings
	if err := c.readVariables(&s); err != nil || s.vars.ContextBytes != 32<<10 || s.vars.ContextCalls != 40 {
		t.Errorf("defaults: %d bytes, %d calls, %v", s.vars.ContextBytes, s.vars.ContextCalls, err)
	}
}
