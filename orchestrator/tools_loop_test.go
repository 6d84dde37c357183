package orchestrator

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
)

// toolDesk serves the context tools on the loop's bus; requests come from
// the rung identity set with as.
type toolDesk struct {
	l   *loop
	mu  sync.Mutex
	who auth.Identity
}

func (l *loop) serveTools() *toolDesk {
	l.t.Helper()
	d := &toolDesk{l: l}
	stop, err := l.o().ServeContext(l.env.NC, func(bus.RequestInfo) (auth.Identity, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.who, nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(stop)
	return d
}

func (d *toolDesk) as(rung string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.who = auth.Identity{Name: rung, Role: auth.Rung}
}

// ask calls a context tool of incident as rung, as a rung's model does
// (bus.Tools); askAs sends it as the identity of rung who.
func (d *toolDesk) ask(incident, rung string, req razar.ToolRequest) razar.ToolReply {
	return d.askAs(rung, incident, rung, req)
}

func (d *toolDesk) askAs(who, incident, rung string, req razar.ToolRequest) razar.ToolReply {
	d.as(who)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := bus.Tools(d.l.env.NC, incident, rung).Call(ctx, req)
	if err != nil {
		return razar.ToolReply{Error: "no answer: " + err.Error()}
	}
	return rep
}

// raw sends data as it is: a request no rung's client would send.
func (d *toolDesk) raw(subject string, data []byte) razar.ToolReply {
	m, err := d.l.env.NATS.Request(subject, data, 10*time.Second)
	if err != nil {
		return razar.ToolReply{Error: "request: " + err.Error()}
	}
	var rep bus.ContextReply
	if err := bus.Decode(m.Data, &rep); err != nil {
		return razar.ToolReply{Error: "reply: " + err.Error()}
	}
	return rep.ToolReply
}

// TestContextToolsServeThePendingAttemptOnly: while k2 holds its attempt
// its model reads, lists, searches, reads crown's earlier attempt in full
// and checks a diff, within its call budget; another rung, another
// identity and a spent budget are refused; every call is recorded; once
// the attempt is answered the tools are closed.
func TestContextToolsServeThePendingAttemptOnly(t *testing.T) {
	diff := "--- a/app.conf\n+++ b/app.conf\n@@ -1 +1 @@\n-port=abc\n+port=8080\n"
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second), execRung("k2", 20*time.Second)},
		func(c *Config) { c.ContextCalls = 9 })
	d := l.serveTools()
	l.answer("crown", func(*bus.Escalation) *bus.Result {
		return &bus.Result{Status: razar.StatusNoFix, Summary: "port looks wrong", Diff: diff}
	})
	type call struct {
		name string
		rep  razar.ToolReply
	}
	var calls []call
	l.answer("k2", func(esc *bus.Escalation) *bus.Result {
		ask := func(name string, req razar.ToolRequest) {
			calls = append(calls, call{name, d.ask(esc.Incident, "k2", req)})
		}
		ask("read", razar.ToolRequest{Op: razar.ToolRead, Path: "app.conf"})
		ask("list", razar.ToolRequest{Op: razar.ToolList})
		ask("search", razar.ToolRequest{Op: razar.ToolSearch, Pattern: "port="})
		ask("attempt 1", razar.ToolRequest{Op: razar.ToolAttempt, Attempt: 1})
		ask("attempt 2", razar.ToolRequest{Op: razar.ToolAttempt, Attempt: 2})
		ask("check, no validate", razar.ToolRequest{Op: razar.ToolCheck, Diff: diff})
		ask("check, no diff", razar.ToolRequest{Op: razar.ToolCheck})
		l.setComponent(func(c *config.Component) { c.Validate = []string{"true"} })
		ask("check", razar.ToolRequest{Op: razar.ToolCheck, Diff: "--- a/nope.conf\n+++ b/nope.conf\n@@ -1 +1 @@\n-a\n+b\n"})
		ask("check valid", razar.ToolRequest{Op: razar.ToolCheck, Diff: diff})
		ask("over budget", razar.ToolRequest{Op: razar.ToolRead, Path: "app.conf"})
		calls = append(calls, call{"crown asks", d.ask(esc.Incident, "crown", razar.ToolRequest{Op: razar.ToolList})})
		calls = append(calls, call{"crown as k2", d.askAs("crown", esc.Incident, "k2", razar.ToolRequest{Op: razar.ToolList})})
		d.as("k2")
		calls = append(calls, call{"malformed", d.raw(bus.ContextSubject(esc.Incident, "k2"), []byte("{"))})
		return l.heals("fixed the port")(esc)
	})
	id := l.escalate("web: bad port in app.conf")
	rec := l.wait(id)
	if rec.State != razar.IncidentHealed {
		t.Fatalf("incident %s: %s", rec.State, attemptsOf(rec))
	}
	want := map[string]func(razar.ToolReply) bool{
		"read":   func(r razar.ToolReply) bool { return r.OK && strings.Contains(r.Text, "port=abc") && r.CallsLeft == 8 },
		"list":   func(r razar.ToolReply) bool { return r.OK && len(r.Entries) > 0 },
		"search": func(r razar.ToolReply) bool { return r.OK && len(r.Matches) == 1 },
		"attempt 1": func(r razar.ToolReply) bool {
			return r.OK && r.Attempt != nil && r.Attempt.Diff == diff && r.Attempt.Summary == "port looks wrong"
		},
		"attempt 2": func(r razar.ToolReply) bool {
			return !r.OK && strings.Contains(r.Error, "give the number of an earlier attempt, 1 to 1")
		},
		"check, no validate": func(r razar.ToolReply) bool { return !r.OK && strings.Contains(r.Error, "has no validate command") },
		"check, no diff":     func(r razar.ToolReply) bool { return !r.OK && strings.Contains(r.Error, "no diff") },
		"check":              func(r razar.ToolReply) bool { return r.OK && !r.Applied && r.Text != "" },
		"check valid": func(r razar.ToolReply) bool {
			return r.OK && r.Applied && (r.Validated || strings.HasPrefix(r.Text, "validation is not possible on this host") || strings.HasPrefix(r.Text, "validation failed"))
		},
		"over budget": func(r razar.ToolReply) bool {
			return !r.OK && strings.Contains(r.Error, "call budget of this attempt (9 calls) is spent")
		},
		"crown asks": func(r razar.ToolReply) bool { return !r.OK && strings.Contains(r.Error, "is not crown's") },
		"crown as k2": func(r razar.ToolReply) bool {
			return !r.OK && strings.Contains(r.Error, "may not use the tools of rung k2")
		},
		"malformed": func(r razar.ToolReply) bool { return !r.OK && r.Error != "" },
	}
	if len(calls) != len(want) {
		t.Fatalf("%d calls, want %d", len(calls), len(want))
	}
	for _, c := range calls {
		if !want[c.name](c.rep) {
			t.Errorf("%s: %+v", c.name, c.rep)
		}
	}
	// After the answer: closed.
	if r := d.ask(id, "k2", razar.ToolRequest{Op: razar.ToolList}); r.OK || !strings.Contains(r.Error, "tools") {
		t.Errorf("a call after the answer: %+v", r)
	}
	if r := d.ask("inc-19990101-000000-abcdef", "k2", razar.ToolRequest{Op: razar.ToolList}); r.OK || !strings.Contains(r.Error, "no attempt of incident") {
		t.Errorf("a call about no incident: %+v", r)
	}
	var st []string
	for _, r := range l.audit(id) {
		if r.Event == bus.EventContext {
			st = append(st, fmt.Sprintf("%s:%s", r.Op, r.Status))
		}
	}
	// Each call is recorded once, after its reply: in any order.
	sort.Strings(st)
	wantRecs := ":refused attempt:ok attempt:refused check:ok check:ok check:refused check:refused list:ok list:refused list:refused list:refused read:ok read:refused search:ok"
	if got := strings.Join(st, " "); got != wantRecs {
		t.Errorf("context records:\n got %s\nwant %s", got, wantRecs)
	}
	if got := events(l.audit(id), bus.EventShown); got != "shown shown" {
		t.Errorf("shown records: %s", got)
	}
}

// TestContextToolsWithoutAWorkdir: a component whose workdir cannot be
// opened still gets its escalation; the file tools say why they cannot
// serve, and the earlier attempts are still served.
func TestContextToolsWithoutAWorkdir(t *testing.T) {
	l := newLoop(t, []config.AgentEntry{execRung("crown", 20*time.Second)}, nil)
	l.setComponent(func(c *config.Component) { c.Workdir = "/nonexistent/web" })
	d := l.serveTools()
	var rep razar.ToolReply
	l.answer("crown", func(esc *bus.Escalation) *bus.Result {
		rep = d.ask(esc.Incident, "crown", razar.ToolRequest{Op: razar.ToolRead, Path: "app.conf"})
		return &bus.Result{Status: razar.StatusNoFix}
	})
	l.wait(l.escalate("web: down"))
	if rep.OK || !strings.Contains(rep.Error, "the workdir cannot be shown") {
		t.Errorf("read without a workdir: %+v", rep)
	}
}
