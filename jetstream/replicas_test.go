package jetstream_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// TestReplicasOnASingleServerSayWhatIsWrong: asking a lone server for 3
// replicas fails before anything is declared, naming the fix.
func TestReplicasOnASingleServerSayWhatIsWrong(t *testing.T) {
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := bus.Connect(ctx, srv.ClientURL(), "t", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = jetstream.Open(ctx, conn, jetstream.WithReplicas(3))
	if err == nil || !strings.Contains(err.Error(), "single server") || !strings.Contains(err.Error(), "--replicas 1") {
		t.Fatalf("open with 3 replicas on one server: %v; want an error naming the single server and the fix", err)
	}
	js, _ := natsjs.New(conn.NATS())
	if _, err := js.Stream(ctx, bus.StreamName); err == nil {
		t.Fatal("the refused open declared the stream anyway")
	}
}

// TestReplicasThreeOnAClusterSurviveTheStreamLeader: on three real
// nats-servers, Open with 3 replicas declares the stream and the bucket
// replicated, and a record stored before the stream leader is killed is
// still there, and the store takes new ones, after it is gone.
func TestReplicasThreeOnAClusterSurviveTheStreamLeader(t *testing.T) {
	c, ctx, conn, st := replicatedStore(t)
	js, _ := natsjs.New(conn.NATS())
	for _, name := range []string{bus.StreamName, bus.ResultsStreamName, "KV_" + bus.KVBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Fatalf("%s has %d replicas, want 3", name, r)
		}
	}
	// The rungs' durable consumers are replicated as the stream is.
	if err := st.EnsureAgentConsumer(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	rs, _ := js.Stream(ctx, bus.StreamName)
	cons, err := rs.Consumer(ctx, bus.ConsumerName("k2"))
	if err != nil {
		t.Fatal(err)
	}
	if ci := cons.CachedInfo(); ci.Config.Replicas != 3 || ci.Cluster == nil || len(ci.Cluster.Replicas) != 2 {
		t.Fatalf("consumer %s: %d replicas configured, cluster %+v; want 3 (a leader and 2 followers)", bus.ConsumerName("k2"), ci.Config.Replicas, ci.Cluster)
	}
	if _, err := js.Publish(ctx, "razar.audit.before", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	leader := c.StreamLeader(bus.StreamName)
	if leader == "" {
		t.Fatal("no stream leader reported")
	}
	c.Node(leader).Kill()
	bustest.Eventually(t, 30*time.Second, func() bool {
		l := c.StreamLeader(bus.StreamName)
		return l != "" && l != leader
	}, "no new stream leader after %s was killed", leader)
	bustest.Eventually(t, 30*time.Second, func() bool {
		_, err := js.Publish(ctx, "razar.audit.after", []byte(`{}`))
		return err == nil
	}, "the store takes no record after its leader %s was killed", leader)
	s, _ := js.Stream(ctx, bus.StreamName)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs < 2 {
		t.Fatalf("stream holds %d messages after the leader's loss, want both records", info.State.Msgs)
	}
}

// TestReplicasFiveOnAThreeNodeClusterAreRefused: JetStream, not the
// client's view of the cluster, decides; Open turns its refusal into an
// error naming the replicas asked, the cluster and the fix, and declares
// nothing.
func TestReplicasFiveOnAThreeNodeClusterAreRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("three nats-server processes")
	}
	c := bustest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := bus.Connect(ctx, c.URLs(), "t", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = jetstream.Open(ctx, conn, jetstream.WithReplicas(5))
	if err == nil {
		t.Fatal("open with 5 replicas on a 3-node cluster succeeded")
	}
	for _, want := range []string{"--replicas 5", c.Name, "3 server(s)", "fix: --replicas 3 or fewer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("open with 5 replicas on 3 nodes: %v\nwant it to say %q", err, want)
		}
	}
	js, _ := natsjs.New(conn.NATS())
	for _, name := range []string{bus.StreamName, "KV_" + bus.KVBucket} {
		if _, err := js.Stream(ctx, name); err == nil {
			t.Errorf("the refused open declared %s anyway", name)
		}
	}
}

// TestClusterWritesDuringALeaderElectionAreStored: right after the node leading
// stream RAZAR is killed, and again after the one leading bucket
// RAZAR_STATE is, a publish and a bucket write wait out the election
// instead of failing with "no response from stream", and the record is
// stored once.
func TestClusterWritesDuringALeaderElectionAreStored(t *testing.T) {
	c, ctx, _, st := replicatedStore(t)
	leader := c.StreamLeader(bus.StreamName)
	c.Node(leader).Kill()
	rec := &bus.AuditRecord{Component: "web", Event: bus.EventLifecycle, Status: "ok"}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	seq, err := st.AuditSeq(wctx, rec, "election-1")
	wcancel()
	if err != nil {
		t.Fatalf("audit right after the stream leader %s was killed: %v", leader, err)
	}
	again, err := st.AuditSeq(ctx, rec, "election-1")
	if err != nil || again != seq {
		t.Fatalf("the retried record: seq %d, %v; want it stored once at %d", again, err, seq)
	}
	c.Node(leader).Start()
	c.WaitReady(30 * time.Second)

	kvLeader := c.StreamLeader("KV_" + bus.KVBucket)
	c.Node(kvLeader).Kill()
	wctx, wcancel = context.WithTimeout(ctx, 20*time.Second)
	err = st.PutRaw(wctx, "probe.election", []byte(`{}`))
	wcancel()
	if err != nil {
		t.Fatalf("bucket write right after the bucket leader %s was killed: %v", kvLeader, err)
	}
}

// TestClusterBindWaitsOutALeadersLoss: a rung process attaching to its consumer
// (a bound store) just after the node leading that consumer is killed, and
// a CLI binding the bucket just after the node leading it is killed, wait
// for the new leader instead of failing (which stopped the rung process,
// and failed `razar escalate`).
func TestClusterBindWaitsOutALeadersLoss(t *testing.T) {
	c, ctx, conn, st := replicatedStore(t)
	if err := st.EnsureAgentConsumer(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	js, _ := natsjs.New(conn.NATS())
	rs, _ := js.Stream(ctx, bus.StreamName)
	cons, err := rs.Consumer(ctx, bus.ConsumerName("k2"))
	if err != nil {
		t.Fatal(err)
	}
	leader := cons.CachedInfo().Cluster.Leader
	var rungURL string
	for _, n := range c.Nodes {
		if n.Name != leader {
			rungURL = n.URL()
		}
	}
	rungConn, err := bus.Connect(ctx, rungURL, "rung", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer rungConn.Close()
	rung, err := jetstream.BindStream(ctx, rungConn)
	if err != nil {
		t.Fatal(err)
	}
	c.Node(leader).Kill()
	bctx, bcancel := context.WithTimeout(ctx, 30*time.Second)
	defer bcancel()
	if err := rung.EnsureAgentConsumer(bctx, "k2"); err != nil {
		t.Fatalf("bind consumer %s right after its leader %s was killed: %v", bus.ConsumerName("k2"), leader, err)
	}
	c.Node(leader).Start()
	c.WaitReady(30 * time.Second)

	kvLeader := c.StreamLeader("KV_" + bus.KVBucket)
	c.Node(kvLeader).Kill()
	if _, err := jetstream.Bind(bctx, conn); err != nil {
		t.Fatalf("bind right after the bucket's leader %s was killed: %v", kvLeader, err)
	}
}

// TestClusterFollowKeepsDeliveringAfterANodesLoss: the orchestrator's route for
// the rungs' answers (Follow) delivers a result stored after the node
// leading stream RAZAR (or holding Follow's consumer) was killed, and the
// one stored before, each once: nothing of the route died with the node.
func TestClusterFollowKeepsDeliveringAfterANodesLoss(t *testing.T) {
	c, ctx, conn, st := replicatedStore(t)
	got := make(chan string, 16)
	stop, err := st.Follow(ctx, bus.ResultAll, func(_ uint64, subject string, _ []byte) { got <- subject })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res := &bus.Result{Incident: "inc-1", Rung: "k2", Attempt: 1, Status: "fixed"}
	if err := st.Publish(ctx, bus.ResultSubject("inc-1", "k2"), "before", res); err != nil {
		t.Fatal(err)
	}
	// The node to lose: the stream's leader, or the one holding the
	// consumer Follow reads through, if it keeps one.
	leader := c.StreamLeader(bus.StreamName)
	js, _ := natsjs.New(conn.NATS())
	rs, _ := js.Stream(ctx, bus.StreamName)
	for name := range rs.ConsumerNames(ctx).Name() {
		if ci, err := rs.Consumer(ctx, name); err == nil && ci.CachedInfo().Cluster != nil {
			leader = ci.CachedInfo().Cluster.Leader
		}
	}
	c.Node(leader).Kill()
	killed := time.Now()
	if err := st.Publish(ctx, bus.ResultSubject("inc-2", "k2"), "after", res); err != nil {
		t.Fatal(err)
	}
	stored := time.Now()
	t.Logf("result stored %v after %s was killed", stored.Sub(killed).Round(time.Millisecond), leader)
	// Within a few polls of Tail's 1 s safety net; an ordered consumer
	// lost with its node took 10 s to notice and be made again.
	var seen []string
	bustest.Eventually(t, 5*time.Second, func() bool {
		for {
			select {
			case s := <-got:
				seen = append(seen, s)
				continue
			default:
			}
			return len(seen) >= 2
		}
	}, "Follow delivered %v within 5s of storing the result after the loss of %s, want both results", bustest.Lazy(func() string { return fmt.Sprint(seen) }), leader)
	t.Logf("and delivered %v after the kill", time.Since(killed).Round(time.Millisecond))
	if want := bus.ResultSubject("inc-1", "k2") + " " + bus.ResultSubject("inc-2", "k2"); strings.Join(seen, " ") != want {
		t.Fatalf("Follow delivered %v, want %s once each", seen, want)
	}
}

// replicatedStore opens RAZAR's store with 3 replicas on a cluster of
// three real nats-servers, for a test of up to a minute.
func replicatedStore(t *testing.T) (*bustest.Cluster, context.Context, *bus.Conn, *jetstream.Store) {
	t.Helper()
	if testing.Short() {
		t.Skip("three nats-server processes")
	}
	c := bustest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	conn, err := bus.Connect(ctx, c.URLs(), "t", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	st, err := jetstream.Open(ctx, conn, jetstream.WithReplicas(3))
	if err != nil {
		t.Fatalf("open with 3 replicas on a 3-node cluster: %v", err)
	}
	return c, ctx, conn, st
}
