package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// natsCLI finds the real `nats` CLI, installed by `make tools`.
func natsCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "nats")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the nats CLI is missing: run `make tools` (go install github.com/nats-io/natscli/nats@v0.5.0)")
	}
	return p
}

// natsAs is the nats CLI's global flags to reach a booted RAZAR as one
// identity of its home: the creds file, the server and, for a rung, its
// inbox prefix (a rung may receive replies only there).
func natsAs(h, url, ident string, args ...string) []string {
	out := []string{"--creds", filepath.Join(h, "state/identities", ident+".creds"), "--server", url}
	switch ident {
	case "orchestrator", "operator", "observer":
	default:
		out = append(out, "--inbox-prefix", "_INBOX."+ident)
	}
	return append(out, args...)
}

// TestNatsCLIPlaysARung: with no rung process at all, the plain nats CLI
// watches the mesh, takes the escalation from the rung's durable consumer and
// answers it; RAZAR verifies the fix and heals the incident. Any language
// that can speak NATS can be a rung.
func TestNatsCLIPlaysARung(t *testing.T) {
	t.Parallel()
	nats := natsCLI(t)
	h := home(t, `{"agents": [{"name": "k2", "display": "K2 Coder", "backend": "exec", "command": ["false"], "timeout": "60s"}]}`, nil)
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0", "--agents", "external")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := exec.CommandContext(ctx, nats, natsAs(h, url, "observer", "sub", "razar.>")...)
	subOut := &syncBuf{}
	sub.Stdout, sub.Stderr = subOut, subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = sub.Wait() }()
	bustest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(subOut.String(), "Subscribing") }, "nats sub did not start: %s", subOut)

	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")

	// The rung, played by the CLI: take the attempt from agent_k2.
	var msg bus.Escalation
	bustest.Eventually(t, 20*time.Second, func() bool {
		out, err := exec.Command(nats, natsAs(h, url, "k2", "consumer", "next", "RAZAR", "agent_k2", "--raw", "--count", "1", "--wait", "2s")...).Output()
		if err != nil {
			return false
		}
		return bus.Decode([]byte(strings.TrimSpace(string(out))), &msg) == nil
	}, "no escalation on agent_k2")
	if msg.Component != "web" || msg.Attempt != 1 || msg.Rung != "k2" || msg.Error != "web: down" {
		t.Fatalf("escalation %+v", msg)
	}
	if err := os.Remove(filepath.Join(h, "web", "broken")); err != nil {
		t.Fatal(err)
	}
	result := fmt.Sprintf(`{"v":1,"incident":%q,"attempt":%d,"rung":"k2","status":"fixed","summary":"fixed from the nats CLI"}`, msg.Incident, msg.Attempt)
	pub := exec.Command(nats, natsAs(h, url, "k2", "pub", bus.ResultSubject(msg.Incident, msg.Rung), result, "-H", "Nats-Msg-Id:"+bus.ResultMsgID(msg.Incident, msg.Attempt))...)
	if out, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("nats pub: %v\n%s", err, out)
	}
	if code := esc.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("escalate exit %d:\n%s", code, esc.out)
	}
	if !strings.Contains(esc.out.String(), "fixed from the nats CLI") {
		t.Fatalf("escalate output:\n%s", esc.out)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		s := subOut.String()
		return strings.Contains(s, "razar.escalate.k2") && strings.Contains(s, "razar.audit.web.healed")
	}, "nats sub did not see the escalation and the heal:\n%s", subOut)

	// Operators command the lifecycle bus with `nats req` too.
	out, err := exec.Command(nats, natsAs(h, url, "operator", "req", "razar.lifecycle.status._all", "", "--raw")...).Output()
	if err != nil {
		t.Fatalf("nats req status: %v", err)
	}
	var rep bus.LifecycleReply
	if err := json.Unmarshal(out, &rep); err != nil || !rep.OK || !strings.Contains(string(rep.Data), msg.Incident) {
		t.Fatalf("status reply %s (%v)", out, err)
	}
}

// TestGarbageOnEverySubject: a malformed message on any razar subject is
// logged and dropped; no process dies and the mesh still works after it.
func TestGarbageOnEverySubject(t *testing.T) {
	t.Parallel()
	nats := natsCLI(t)
	h := home(t, fmt.Sprintf(execRoster, "10s"), map[string]string{
		"agents/kimicho.sh": "#!/bin/sh\ncat >/dev/null\necho '{\"status\": \"no_fix\"}'\n",
		"agents/fix.sh":     fixScript,
	})
	p, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	garbage := []string{"not json", `{"v": 99}`, `{"v":1,"incident":"x y"}`, `[1,2,3]`, `{"v":1,"attempt":"one"}`, ""}
	subjects := []string{
		"razar.escalate.crown", "razar.escalate.k2", "razar.result.inc-x.k2", "razar.audit.web.attempt",
		"razar.audit.web.healed", "razar.heartbeat.crown", "razar.agents.reload", "razar.agents.probe.k2", "razar.alert.warning",
	}
	for _, s := range subjects {
		for _, g := range garbage {
			// As the orchestrator, the one identity that may publish on
			// every subject: garbage from the most trusted sender.
			if out, err := exec.Command(nats, natsAs(h, url, "orchestrator", "pub", s, g)...).CombinedOutput(); err != nil {
				t.Fatalf("nats pub %s: %v\n%s", s, err, out)
			}
		}
	}
	for _, g := range garbage {
		out, _ := exec.Command(nats, natsAs(h, url, "operator", "req", "razar.lifecycle.escalate.web", g, "--raw")...).Output()
		var rep bus.LifecycleReply
		if err := json.Unmarshal(out, &rep); err != nil || rep.OK {
			t.Fatalf("garbage lifecycle request %q answered %s (%v), want ok=false", g, out, err)
		}
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(p.out.String(), "dropped a malformed escalation") },
		"no log line about the dropped escalation")
	select {
	case <-p.done:
		t.Fatalf("razar died on garbage:\n%s", p.out)
	default:
	}
	// The mesh still heals.
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	if code := esc.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("escalate after garbage: exit %d:\n%s", code, esc.out)
	}
	// The mirror kept whole JSON lines and only real records.
	for _, rec := range jsonLines(t, filepath.Join(h, "logs/razar_ai_invocations.json")) {
		if rec["incident"] == "" || rec["incident"] == nil {
			t.Fatalf("mirrored a garbage record: %v", rec)
		}
	}
}
