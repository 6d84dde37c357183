package jetstream_test

import (
	"context"
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
	if testing.Short() {
		t.Skip("three nats-server processes")
	}
	c := bustest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := bus.Connect(ctx, c.URLs(), "t", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st, err := jetstream.Open(ctx, conn, jetstream.WithReplicas(3))
	if err != nil {
		t.Fatalf("open with 3 replicas on a 3-node cluster: %v", err)
	}
	js, _ := natsjs.New(conn.NATS())
	for _, name := range []string{bus.StreamName, "KV_" + bus.KVBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Fatalf("%s has %d replicas, want 3", name, r)
		}
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
	_ = st
	s, _ := js.Stream(ctx, bus.StreamName)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs < 2 {
		t.Fatalf("stream holds %d messages after the leader's loss, want both records", info.State.Msgs)
	}
}
