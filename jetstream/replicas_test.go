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
