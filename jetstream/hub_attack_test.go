package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// leafHost is a RAZAR host (identities, JetStream domain h1) linked as a
// leaf node to a hub (JetStream domain "hub", no authentication: whoever
// reaches the hub is its client), both real in-process servers.
type leafHost struct {
	hub   *nats.Conn // a client of the hub: the attacker
	orch  *bus.Conn  // the host's orchestrator
	store *jetstream.Store
	trust *auth.Trust
	url   string // the host's client URL
}

func newLeafHost(t *testing.T, ctx context.Context) *leafHost {
	t.Helper()
	leafPort := bustest.FreePort(t)
	hubSrv, err := server.NewServer(&server.Options{
		ServerName: "hub", Host: "127.0.0.1", Port: -1, NoSigs: true,
		JetStream: true, JetStreamDomain: "hub", StoreDir: t.TempDir(),
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: leafPort},
	})
	if err != nil {
		t.Fatal(err)
	}
	hubSrv.Start()
	t.Cleanup(func() { hubSrv.Shutdown(); hubSrv.WaitForShutdown() })
	if !hubSrv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the hub did not come up")
	}

	home := t.TempDir()
	tr, err := auth.Open(filepath.Join(home, "identities"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Ensure([]string{"k2"}); err != nil {
		t.Fatal(err)
	}
	st, err := tr.Server()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := jetstream.StartServer(jetstream.ServerConfig{
		StoreDir: filepath.Join(home, "state"), Listen: "127.0.0.1:-1", Log: zerolog.Nop(), Trust: st,
		Domain: "h1", Leaf: &jetstream.Leaf{URLs: fmt.Sprintf("nats://127.0.0.1:%d", leafPort), Rungs: []string{"k2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	orch, err := bus.Connect(ctx, srv.ClientURL(), "razar", zerolog.Nop(), bus.WithCreds(tr.Path(string(auth.Orchestrator))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(orch.Close)
	store, err := jetstream.Open(ctx, orch)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := nats.Connect(hubSrv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	return &leafHost{hub: hub, orch: orch, store: store, trust: tr, url: srv.ClientURL()}
}

// TestLeafHubCannotPausePullOrTakeOverARungsConsumer: a client of the hub,
// through the leaf link, asks the host's JetStream (domain h1) to pause
// k2's consumer until 2031, to pull k2's escalation, to create or update a
// consumer under k2's durable name (legacy and named requests), to delete,
// unpin, reset or step down the consumer, and acks a delivery it forged.
// Every request goes unanswered, while the hub still reads the consumer's
// info and sources stream RAZAR; on the host the consumer is unchanged,
// not paused, its escalation undelivered, and k2's own process receives it.
func TestLeafHubCannotPausePullOrTakeOverARungsConsumer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newLeafHost(t, ctx)
	if err := h.store.EnsureAgentConsumer(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	esc := &bus.Escalation{Incident: "inc-hub-1", Component: "web", Attempt: 1, Rung: "k2", Error: "boom", Deadline: time.Now().Add(time.Hour)}
	if _, err := h.store.Escalate(ctx, bus.EscalateSubject("k2"), bus.EscalationMsgID(esc.Incident, 1), esc, 0); err != nil {
		t.Fatal(err)
	}

	// The hub sources the record through the link, as `razar boot --leaf`
	// declares it: the link lets its sourcing consumer through.
	if _, err := jetstream.SourceOnHub(ctx, h.orch, "hub", "h1", nil); err != nil {
		t.Fatalf("declare the hub's source: %v", err)
	}
	hubJS, err := natsjs.NewWithDomain(h.hub, "hub")
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 20*time.Second, func() bool {
		st, err := hubJS.Stream(ctx, jetstream.HubStream("h1"))
		return err == nil && st.CachedInfo().State.Msgs >= 1
	}, "the hub's %s never sourced the host's escalation", jetstream.HubStream("h1"))

	// The link works for reading: the hub sees k2's consumer.
	api := "$JS.h1.API."
	if m, err := h.hub.Request(api+"CONSUMER.INFO.RAZAR.agent_k2", nil, 5*time.Second); err != nil || !strings.Contains(string(m.Data), `"agent_k2"`) {
		t.Fatalf("the hub cannot read k2's consumer info through the link (so no denial below would mean anything): %v", err)
	}

	pause := `{"pause_until":"2031-01-01T00:00:00Z"}`
	hijack := `{"stream_name":"RAZAR","config":{"name":"agent_k2","durable_name":"agent_k2","filter_subject":"razar.escalate.k2","ack_policy":"explicit","pause_until":"2031-01-01T00:00:00Z"}}`
	legacy := `{"stream_name":"RAZAR","config":{"name":"agent_k2","filter_subject":"razar.escalate.k2","ack_policy":"explicit","pause_until":"2031-01-01T00:00:00Z"}}`
	for _, a := range []struct{ subject, body string }{
		{api + "CONSUMER.PAUSE.RAZAR.agent_k2", pause},
		{api + "CONSUMER.MSG.NEXT.RAZAR.agent_k2", `{"batch":1,"expires":1000000000}`},
		{api + "CONSUMER.CREATE.RAZAR", legacy},
		{api + "CONSUMER.CREATE.RAZAR.agent_k2", hijack},
		{api + "CONSUMER.CREATE.RAZAR.agent_k2.razar.escalate.k2", hijack},
		{api + "CONSUMER.DURABLE.CREATE.RAZAR.agent_k2", hijack},
		{api + "CONSUMER.DELETE.RAZAR.agent_k2", ""},
		{api + "CONSUMER.UNPIN.RAZAR.agent_k2", `{"group":"g"}`},
		{api + "CONSUMER.RESET.RAZAR.agent_k2", `{"seq":1}`},
		{api + "CONSUMER.LEADER.STEPDOWN.RAZAR.agent_k2", ""},
		{api + "STREAM.LEADER.STEPDOWN.RAZAR", ""},
		{api + "STREAM.PURGE.RAZAR_RESULTS", ""},
	} {
		m, err := h.hub.Request(a.subject, []byte(a.body), time.Second)
		if err == nil {
			t.Errorf("the hub's %s was answered: %s", a.subject, m.Data)
		} else if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("the hub's %s: %v", a.subject, err)
		}
	}
	// An ack forged for k2's first delivery.
	if err := h.hub.Publish("$JS.ACK.RAZAR.agent_k2.1.1.1.1.0", []byte("+ACK")); err != nil {
		t.Fatal(err)
	}
	if err := h.hub.Flush(); err != nil {
		t.Fatal(err)
	}

	// Nothing changed on the host.
	js, err := natsjs.New(h.orch.NATS())
	if err != nil {
		t.Fatal(err)
	}
	c, err := js.Consumer(ctx, bus.StreamName, bus.ConsumerName("k2"))
	if err != nil {
		t.Fatalf("k2's consumer: %v", err)
	}
	ci := c.CachedInfo()
	if ci.Paused || ci.Config.PauseUntil != nil || ci.Config.FilterSubject != bus.EscalateSubject("k2") || ci.Config.Durable != bus.ConsumerName("k2") {
		t.Errorf("k2's consumer changed: paused %v until %v, filter %q, durable %q", ci.Paused, ci.Config.PauseUntil, ci.Config.FilterSubject, ci.Config.Durable)
	}
	if ci.Delivered.Consumer != 0 || ci.NumAckPending != 0 || ci.NumPending != 1 {
		t.Errorf("k2's escalation was touched: delivered %d, ack pending %d, pending %d; want 0, 0, 1", ci.Delivered.Consumer, ci.NumAckPending, ci.NumPending)
	}

	// k2's own process, with k2's identity, receives its escalation.
	k2, err := bus.Connect(ctx, h.url, "k2", zerolog.Nop(), bus.WithCreds(h.trust.Path("k2")), bus.WithInboxPrefix(auth.InboxPrefix("k2")))
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	rung, err := jetstream.BindStream(ctx, k2)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- rung.Consume(cctx, jetstream.ConsumerConfig{Durable: bus.ConsumerName("k2"), Filter: bus.EscalateSubject("k2")}, func(_ context.Context, d *jetstream.Delivery) {
			var e bus.Escalation
			if bus.Decode(d.Data, &e) == nil {
				select {
				case got <- e.Incident:
				default:
				}
			}
			_ = d.Ack()
		})
	}()
	select {
	case inc := <-got:
		if inc != esc.Incident {
			t.Errorf("k2 received incident %q, want %q", inc, esc.Incident)
		}
	case <-ctx.Done():
		t.Error("k2 never received its escalation")
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("k2's consumer: %v", err)
	}
}

// TestLeafHubStreamDeclaredBeforeTheFilterIsGivenIt: a hub stream declared
// by an older RAZAR sources stream RAZAR without a filter, by the legacy
// consumer request the leaf link now refuses; SourceOnHub at boot gives
// it the filter ">", and the hub again holds every record of the host.
func TestLeafHubStreamDeclaredBeforeTheFilterIsGivenIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newLeafHost(t, ctx)
	for i := range 3 {
		if err := h.store.Audit(ctx, &bus.AuditRecord{Event: bus.EventOpened, Component: "web", Incident: fmt.Sprintf("inc-%d", i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	hubJS, err := natsjs.NewWithDomain(h.hub, "hub")
	if err != nil {
		t.Fatal(err)
	}
	old := jetstream.HubSourceConfig("h1")
	old.Sources[0].FilterSubject = ""
	bustest.Eventually(t, 20*time.Second, func() bool {
		_, err := hubJS.CreateStream(ctx, old)
		return err == nil
	}, "the hub never took the old-style stream")
	if _, err := jetstream.SourceOnHub(ctx, h.orch, "hub", "h1", nil); err != nil {
		t.Fatalf("SourceOnHub on the old-style stream: %v", err)
	}
	st, err := hubJS.Stream(ctx, jetstream.HubStream("h1"))
	if err != nil {
		t.Fatal(err)
	}
	if src := st.CachedInfo().Config.Sources; len(src) != 1 || src[0].FilterSubject != ">" {
		t.Fatalf("the hub stream's sources after SourceOnHub: %+v; want one, filtered \">\"", src)
	}
	bustest.Eventually(t, 20*time.Second, func() bool {
		st, err := hubJS.Stream(ctx, jetstream.HubStream("h1"))
		return err == nil && st.CachedInfo().State.Msgs == 3
	}, "the hub's stream never held the host's 3 records")
}

// TestSourceGivenTheFilterResumesWithoutCopyingAgain: the server names a
// source by its filter, an empty one as ">", so giving a running source the
// filter ">" (what SourceOnHub does to an old hub stream) neither copies
// what it has again nor misses what comes next.
func TestSourceGivenTheFilterResumesWithoutCopyingAgain(t *testing.T) {
	env := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, err := natsjs.New(env.NATS)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := env.Store.Audit(ctx, &bus.AuditRecord{Event: bus.EventOpened, Component: "web", Incident: fmt.Sprintf("inc-%d", i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	cfg := natsjs.StreamConfig{Name: "COPY", Storage: natsjs.FileStorage, Sources: []*natsjs.StreamSource{{Name: bus.StreamName}}}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	copied := func(n uint64) func() bool {
		return func() bool {
			st, err := js.Stream(ctx, "COPY")
			return err == nil && st.CachedInfo().State.Msgs == n
		}
	}
	bustest.Eventually(t, 10*time.Second, copied(5), "the copy never held the 5 records")
	cfg.Sources[0].FilterSubject = ">"
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 8; i++ {
		if err := env.Store.Audit(ctx, &bus.AuditRecord{Event: bus.EventOpened, Component: "web", Incident: fmt.Sprintf("inc-%d", i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	bustest.Eventually(t, 10*time.Second, copied(8), "after the filter the copy does not hold exactly the 8 records")
	// And stays so: nothing is copied twice a moment later.
	st, err := js.Stream(ctx, "COPY")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 8 {
		t.Fatalf("the copy holds %v messages, want 8: %v", info.State.Msgs, err)
	}
}
