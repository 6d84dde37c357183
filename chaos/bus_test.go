package chaos

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// restartNATS: `razar boot --nats URL` on a real nats-server process with
// several incidents at kimicho; the server is SIGKILLed and started again
// on the same store (once; full: three times back to back). Every incident
// ends once, healed.
func restartNATS(t *testing.T) {
	n, restarts := 3, 1
	if full {
		n, restarts = 10, 3
	}
	c := bustest.NewServer(t)
	node := c.Nodes[0]
	h, markers := chaosHome(t, ladderRoster, n, map[string]string{"agents/kimicho.sh": hangScript, "agents/fix.sh": fixScript})
	b := boot(t, h, nil, "--nats", node.URL())
	bustest.Eventually(t, 60*time.Second, func() bool { return lines(filepath.Join(h, "kimicho.runs")) > 0 },
		"kimicho never took an attempt; output:\n%s", bustest.Lazy(func() string { return tail(b.out.String(), 6000) }))
	for range restarts { // back to back, while RAZAR reconnects
		node.Kill()
		node.Start()
		c.WaitReady(60 * time.Second)
	}
	st := live(t, h, node.URL())
	waitEnded(t, st, n, 120*time.Second)
	for _, r := range incidents(st) {
		if r.State != "healed" {
			t.Errorf("incident %s of %s ended %s, want healed", r.ID, r.Component, r.State)
		}
	}
	finishOn(t, h, b, markers, restarts, st)
}

// replaceClusterNode: `razar boot --nats <3 nodes> --replicas 3` with
// incidents at kimicho; one node is SIGKILLed, its store deleted, and it is
// started again empty. The incidents keep ending, and the node catches up:
// the stream's replica on it is current with no lag and the same count.
func replaceClusterNode(t *testing.T) {
	n := 3
	if full {
		n = 10
	}
	c := bustest.NewCluster(t, 3)
	h, markers := chaosHome(t, ladderRoster, n, map[string]string{"agents/kimicho.sh": hangScript, "agents/fix.sh": fixScript})
	b := boot(t, h, nil, "--nats", c.URLs(), "--replicas", "3")
	bustest.Eventually(t, 60*time.Second, func() bool { return lines(filepath.Join(h, "kimicho.runs")) > 0 },
		"kimicho never took an attempt; output:\n%s", bustest.Lazy(func() string { return tail(b.out.String(), 6000) }))
	victim := c.Nodes[2]
	victim.Kill()
	if err := os.RemoveAll(victim.StoreDir); err != nil {
		t.Fatal(err)
	}
	victim.Start()
	c.WaitReady(60 * time.Second)
	st := live(t, h, c.URLs())
	waitEnded(t, st, n, 120*time.Second)
	nats := natsCLI(t)
	var last string
	bustest.Eventually(t, 60*time.Second, func() bool {
		var ok bool
		ok, last = caughtUp(nats, c.Nodes[0].URL(), "RAZAR", victim.Name)
		return ok
	}, "node %s never caught up on stream RAZAR: %s", victim.Name, bustest.Lazy(func() string { return last }))
	finishOn(t, h, b, markers, 1, st)
	// After the stop: the last records (the stop's own) are on the node too.
	bustest.Eventually(t, 60*time.Second, func() bool {
		var ok bool
		ok, last = caughtUp(nats, c.Nodes[0].URL(), "RAZAR", victim.Name)
		return ok
	}, "node %s fell behind after the stop: %s", victim.Name, bustest.Lazy(func() string { return last }))
}

// caughtUp asks the cluster, through the nats CLI, whether node's replica
// of stream is current with no lag.
func caughtUp(nats, url, stream, node string) (bool, string) {
	out, err := exec.Command(nats, "--server", url, "stream", "info", stream, "--json").Output()
	if err != nil {
		return false, err.Error()
	}
	var info struct {
		State struct {
			Messages uint64 `json:"messages"`
			LastSeq  uint64 `json:"last_seq"`
		} `json:"state"`
		Cluster struct {
			Leader   string `json:"leader"`
			Replicas []struct {
				Name    string `json:"name"`
				Current bool   `json:"current"`
				Lag     uint64 `json:"lag"`
			} `json:"replicas"`
		} `json:"cluster"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return false, err.Error()
	}
	if info.Cluster.Leader == node {
		return true, "leader"
	}
	for _, r := range info.Cluster.Replicas {
		if r.Name == node {
			return r.Current && r.Lag == 0, strings.TrimSpace(string(out))
		}
	}
	return false, strings.TrimSpace(string(out))
}

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
