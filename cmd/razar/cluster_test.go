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

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// heldK2 is a k2 rung that records each run (and the rung process it runs
// in; the script runs in the home) and then holds the attempt until the test creates the file release.
const (
	heldK2Roster = `{"agents": [{"name": "k2", "display": "K2 Coder", "backend": "exec", "command": ["sh", "agents/k2.sh"], "timeout": "60s"}]}`
	heldK2       = "#!/bin/sh\ncat >/dev/null\necho $PPID >> k2.runs\n" +
		"while [ ! -f release ]; do sleep 0.05; done\n" +
		"rm -f \"$RAZAR_WORKDIR/broken\"\necho '{\"status\": \"fixed\", \"summary\": \"removed broken\"}'\n"
)

// clusterStore binds to the RAZAR store on the cluster, as a test reading
// from outside.
func clusterStore(t *testing.T, c *bustest.Cluster) *jetstream.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, c.URLs(), "cluster-test", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := jetstream.Bind(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// k2Runs is the rung processes (by pid) of each k2 run so far.
func k2Runs(h string) []string {
	data, _ := os.ReadFile(filepath.Join(h, "k2.runs"))
	return strings.Fields(string(data))
}

// auditOf is the audit records of component, as `razar audit --json` prints them.
func auditOf(t *testing.T, h, component string) []bus.AuditRecord {
	t.Helper()
	out, err := exec.Command(razarBin, "--home", h, "audit", "--json", "--component", component).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("razar audit: %v\n%s", err, stderr)
	}
	var recs []bus.AuditRecord
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r bus.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("razar audit line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestClusterIncidentSurvivesTheStreamLeadersLoss: on a 3-node cluster
// with 3 replicas, the node leading stream RAZAR is killed while a rung
// works on an attempt; the rung's answer still heals the incident, and
// the record (stream, bucket, logs/ mirror) holds every step exactly once.
func TestClusterIncidentSurvivesTheStreamLeadersLoss(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("three nats-server processes")
	}
	c := bustest.NewCluster(t, 3)
	h := home(t, heldK2Roster, map[string]string{"agents/k2.sh": heldK2})
	razarProc, _ := boot(t, h, nil, "--nats", c.URLs(), "--replicas", "3")
	st := clusterStore(t, c)
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	bustest.Eventually(t, 30*time.Second, func() bool { return len(k2Runs(h)) > 0 }, "k2 never started on the attempt; razar:\n%s", razarProc.out)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	before, err := st.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := c.StreamLeader(bus.StreamName)
	if leader == "" {
		t.Fatal("stream RAZAR reports no leader")
	}
	c.Node(leader).Kill()
	killed := time.Now()
	if err := os.WriteFile(filepath.Join(h, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 60*time.Second, func() bool {
		// Each ask bounded: one that went down with the leader must not
		// hold the wait.
		actx, acancel := context.WithTimeout(ctx, time.Second)
		defer acancel()
		last, err := st.LastSeq(actx)
		return err == nil && last > before
	}, "no record stored within 60s of killing the stream leader %s; razar:\n%s", leader, razarProc.out)
	t.Logf("stream leader %s killed; next record stored %v later", leader, time.Since(killed).Round(time.Millisecond))

	if code := esc.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("escalate across the leader's loss: exit %d\n%s\nrazar:\n%s", code, esc.out, razarProc.out)
	}
	t.Logf("incident healed %v after the kill", time.Since(killed).Round(time.Millisecond))
	if runs := k2Runs(h); len(runs) != 1 {
		t.Errorf("k2 ran %d times on the attempt, want once", len(runs))
	}

	var id string
	var events, attempts []string
	for _, r := range auditOf(t, h, "web") {
		if r.Event == bus.EventOpened {
			id = r.Incident
		}
		if r.Event == bus.EventAttempt {
			attempts = append(attempts, fmt.Sprintf("%d:%s:%s", r.Attempt, r.Agent, r.Outcome))
		}
		if r.Event != bus.EventAlert && r.Event != bus.EventLifecycle {
			events = append(events, string(r.Event))
		}
	}
	if got := strings.Join(events, " "); got != "opened escalation shown attempt healed" {
		t.Errorf("the incident's record across the leader's loss: %s", got)
	}
	if got := strings.Join(attempts, " "); got != "1:k2:healed" {
		t.Errorf("attempts across the leader's loss: %s", got)
	}
	rec, _, err := st.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != razar.IncidentHealed {
		t.Errorf("incident %s in RAZAR_STATE is %s, want healed", id, rec.State)
	}
	// The logs/ mirror: the escalation and the attempt, each once.
	inv := filepath.Join(h, "logs/razar_ai_invocations.json")
	count := func() map[string]int {
		n := map[string]int{}
		for _, l := range jsonLines(t, inv) {
			if l["incident"] == id {
				n[fmt.Sprint(l["event"])]++
			}
		}
		return n
	}
	bustest.Eventually(t, 20*time.Second, func() bool { return count()["attempt"] >= 1 }, "the attempt never reached %s: %v", inv, bustest.Lazy(func() string { return fmt.Sprint(count()) }))
	if n := count(); n["escalation"] != 1 || n["attempt"] != 1 {
		t.Errorf("%s holds %v of incident %s, want one escalation and one attempt", inv, n, id)
	}
	for _, l := range strings.Split(razarProc.out.String(), "\n") {
		if strings.Contains(l, "bus reconnected") || strings.Contains(l, "could not") {
			t.Logf("razar: %s", l)
		}
	}
}

// TestClusterRungPoolSurvivesANodeLoss: two `razar agent k2` processes,
// each given a different node of the cluster, share consumer agent_k2;
// the node of one of them is killed; that process reconnects to another
// node it learned from the cluster, and both go on taking attempts: two
// incidents at once, one worker each, are answered by both, healed.
func TestClusterRungPoolSurvivesANodeLoss(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("three nats-server processes")
	}
	c := bustest.NewCluster(t, 3)
	h := home(t, heldK2Roster, map[string]string{
		"agents/k2.sh": heldK2,
		"config/boot_config.json": `{"components": [
			{"name": "web1", "priority": 1, "workdir": "w1", "start_grace": "100ms", "command": ["sleep", "600"], "health_check": ["sh", "-c", "test ! -f broken"]},
			{"name": "web2", "priority": 1, "workdir": "w2", "start_grace": "100ms", "command": ["sleep", "600"], "health_check": ["sh", "-c", "test ! -f broken"]}]}`,
		"w1/.keep": "", "w2/.keep": "",
	})
	razarProc, _ := boot(t, h, nil, "--nats", c.URLs(), "--replicas", "3", "--agents", "external")
	a2 := start(t, h, nil, "agent", "k2", "--workers", "1", "--nats", c.Nodes[1].URL())
	a3 := start(t, h, nil, "agent", "k2", "--workers", "1", "--nats", c.Nodes[2].URL())
	for _, a := range []*proc{a2, a3} {
		bustest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(a.out.String(), "rung is up") }, "rung process did not start:\n%s", a.out)
	}
	c.Nodes[2].Kill()
	killed := time.Now()
	bustest.Eventually(t, 30*time.Second, func() bool { return strings.Contains(a3.out.String(), "bus reconnected") },
		"the rung process on the killed node %s did not reconnect to another:\n%s", c.Nodes[2].Name, a3.out)
	t.Logf("rung process reconnected %v after its node was killed", time.Since(killed).Round(time.Millisecond))

	for _, w := range []string{"w1", "w2"} {
		if err := os.WriteFile(filepath.Join(h, w, "broken"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e1 := start(t, h, nil, "escalate", "web1", "--error", "web1: down")
	e2 := start(t, h, nil, "escalate", "web2", "--error", "web2: down")
	var runs []string
	bustest.Eventually(t, 30*time.Second, func() bool { runs = k2Runs(h); return len(runs) == 2 },
		"two attempts were not taken at once after the node loss: %v", bustest.Lazy(func() string { return fmt.Sprint(k2Runs(h)) }))
	pids := map[string]bool{fmt.Sprint(a2.cmd.Process.Pid): true, fmt.Sprint(a3.cmd.Process.Pid): true}
	if runs[0] == runs[1] || !pids[runs[0]] || !pids[runs[1]] {
		t.Fatalf("the attempts ran in processes %v, want one in each rung process %v", runs, pids)
	}
	if err := os.WriteFile(filepath.Join(h, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*proc{e1, e2} {
		if code := e.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("escalate after the node loss: exit %d\n%s\nrazar:\n%s", code, e.out, razarProc.out)
		}
	}
	for _, comp := range []string{"web1", "web2"} {
		var attempts []string
		for _, r := range auditOf(t, h, comp) {
			if r.Event == bus.EventAttempt {
				attempts = append(attempts, fmt.Sprintf("%d:%s:%s", r.Attempt, r.Agent, r.Outcome))
			}
		}
		if got := strings.Join(attempts, " "); got != "1:k2:healed" {
			t.Errorf("%s's attempts after the node loss: %s, want 1:k2:healed", comp, got)
		}
	}
}
