package jetstream_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// oldStreamConfig is stream RAZAR as the RAZAR before RAZAR_RESULTS
// declared it: escalations, results and audit records in one stream.
func oldStreamConfig(replicas int) natsjs.StreamConfig {
	return natsjs.StreamConfig{
		Replicas:    replicas,
		Name:        bus.StreamName,
		Description: "RAZAR escalations, results and audit records",
		Subjects:    []string{bus.EscalateAll, bus.ResultAll, bus.AuditAll},
		Storage:     natsjs.FileStorage,
		Retention:   natsjs.LimitsPolicy,
		Discard:     natsjs.DiscardOld,
		MaxAge:      jetstream.DefaultMaxAge,
		MaxBytes:    jetstream.DefaultStreamMaxBytes,
		MaxMsgSize:  jetstream.DefaultMaxMsgSize,
		Duplicates:  jetstream.DuplicateWindow,
		AllowDirect: true,
	}
}

// oldHome is what an old RAZAR left in its store: stored messages by
// subject, in order, and the fix it learned.
type oldHome struct {
	audit, escalations, results []bustest.Record
	fix                         string // the learned fix's signature
}

// writeOldLayout declares the old stream and bucket on nc's server and
// fills them as an old RAZAR did: audit records of two components (a fix
// learned among them), escalations, and results, one rung's answers to one
// incident more than RAZAR_RESULTS keeps on a subject by default.
func writeOldLayout(t *testing.T, ctx context.Context, nc *nats.Conn, replicas int) oldHome {
	t.Helper()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, oldStreamConfig(replicas)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(ctx, natsjs.KeyValueConfig{Bucket: bus.KVBucket, History: 10, Storage: natsjs.FileStorage, Replicas: replicas}); err != nil {
		t.Fatal(err)
	}
	var h oldHome
	put := func(subject, msgID string, p bus.Payload, into *[]bustest.Record) {
		t.Helper()
		if a, ok := p.(*bus.AuditRecord); ok {
			a.Stamp(time.Now())
		}
		data, err := bus.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		var opts []natsjs.PublishOpt
		if msgID != "" {
			opts = append(opts, natsjs.WithMsgID(msgID))
		}
		if _, err := js.Publish(ctx, subject, data, opts...); err != nil {
			t.Fatalf("old layout: publish %s: %v", subject, err)
		}
		*into = append(*into, bustest.Record{Subject: subject, Data: string(data)})
	}
	sig := fixmem.Signature("web", "panic: config missing")
	h.fix = sig
	for i := 1; i <= 3; i++ {
		inc := fmt.Sprintf("inc-old-%d", i)
		for _, comp := range []string{"web", "db"} {
			put(bus.AuditSubject(comp, bus.EventOpened), "", &bus.AuditRecord{Event: bus.EventOpened, Component: comp, Incident: inc, Message: "opened"}, &h.audit)
		}
		put(bus.EscalateSubject("k2"), bus.EscalationMsgID(inc, 1), &bus.Escalation{Incident: inc, Component: "web", Attempt: 1, Rung: "k2", Error: "boom"}, &h.escalations)
		put(bus.ResultSubject(inc, "k2"), bus.ResultMsgID(inc, 1), &bus.Result{Incident: inc, Attempt: 1, Rung: "k2", Status: "fixed", Diff: strings.Repeat("+x\n", 100*i)}, &h.results)
	}
	put(bus.AuditSubject("web", bus.EventFixLearned), "", &bus.AuditRecord{Event: bus.EventFixLearned, Component: "web", Incident: "inc-old-1",
		Signature: sig, Fix: fixmem.FixID("diff"), Diff: "diff", Agent: "k2", Status: "learned"}, &h.audit)
	// A long task: more answers from one rung to one incident than the
	// new stream keeps per subject by default.
	for a := 1; a <= jetstream.DefaultResultsMaxPerSubject+6; a++ {
		put(bus.ResultSubject("inc-long", "rstar"), bus.ResultMsgID("inc-long", a), &bus.Result{Incident: "inc-long", Attempt: a, Rung: "rstar", Status: "no_fix"}, &h.results)
	}
	return h
}

// storedOn reads every message of stream name on filter, in order.
func storedOn(t *testing.T, ctx context.Context, nc *nats.Conn, name, filter string) []bustest.Record {
	t.Helper()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	var out []bustest.Record
	for seq := uint64(1); ; {
		m, err := st.GetMsg(ctx, seq, natsjs.WithGetMsgSubject(filter))
		if err != nil {
			return out
		}
		out = append(out, bustest.Record{Subject: m.Subject, Data: string(m.Data)})
		seq = m.Sequence + 1
	}
}

// assertUpgraded checks a store opened by the new code holds everything
// the old one did, each where it now belongs.
func assertUpgraded(t *testing.T, ctx context.Context, nc *nats.Conn, h oldHome, when string) {
	t.Helper()
	for _, p := range upgradeProblems(t, ctx, nc, h, 1) {
		t.Errorf("%s: %s", when, p)
	}
}

// upgradeProblems says what an upgraded store lacks, nothing when it
// holds everything the old one did, each where it now belongs, with
// replicas replicas.
func upgradeProblems(t *testing.T, ctx context.Context, nc *nats.Conn, h oldHome, replicas int) []string {
	t.Helper()
	var out []string
	bad := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := js.Stream(ctx, bus.StreamName)
	if err != nil {
		return []string{err.Error()}
	}
	if got := rec.CachedInfo().Config.Subjects; !slices.Equal(got, bus.StreamSubjects) {
		bad("stream RAZAR captures %q, want %q", got, bus.StreamSubjects)
	}
	res, err := js.Stream(ctx, bus.ResultsStreamName)
	if err != nil {
		return append(out, fmt.Sprintf("stream %s: %v", bus.ResultsStreamName, err))
	}
	rc := res.CachedInfo().Config
	if len(rc.Sources) != 0 || !slices.Equal(rc.Subjects, bus.ResultsStreamSubjects) || rc.Discard != natsjs.DiscardNew || rc.Replicas != replicas {
		bad("stream %s: sources %v, subjects %q, discard %v, %d replicas; want none, %q, new, %d", bus.ResultsStreamName, rc.Sources, rc.Subjects, rc.Discard, rc.Replicas, bus.ResultsStreamSubjects, replicas)
	}
	if got := storedOn(t, ctx, nc, bus.StreamName, bus.AuditAll); !slices.Equal(got, h.audit) {
		bad("stream RAZAR holds %d audit records, want the %d stored before, unchanged", len(got), len(h.audit))
	}
	if got := storedOn(t, ctx, nc, bus.StreamName, bus.EscalateAll); !slices.Equal(got, h.escalations) {
		bad("stream RAZAR holds %d escalations, want the %d stored before", len(got), len(h.escalations))
	}
	if got := storedOn(t, ctx, nc, bus.StreamName, bus.ResultAll); len(got) != 0 {
		bad("stream RAZAR still holds %d results", len(got))
	}
	if got := storedOn(t, ctx, nc, bus.ResultsStreamName, bus.ResultAll); !slices.Equal(got, h.results) {
		bad("stream %s holds %d results, want the %d stored before, in order, unchanged", bus.ResultsStreamName, len(got), len(h.results))
	}
	mem := fixmem.New()
	for i, r := range storedOn(t, ctx, nc, bus.StreamName, bus.AuditAll) {
		var a bus.AuditRecord
		if err := bus.Decode([]byte(r.Data), &a); err == nil {
			mem.Apply(&a, uint64(i+1))
		}
	}
	if len(mem.Show(h.fix)) != 1 {
		bad("the fix memory folded from the record has %d fixes for the learned signature, want 1", len(mem.Show(h.fix)))
	}
	return out
}

// TestOpenMovesTheResultsOfAnOldStoreLosingNothing: a home created before
// RAZAR_RESULTS (results inside stream RAZAR) is upgraded in place by
// boot's Open: every audit record, escalation and fix stays in RAZAR,
// every result moves, in order, to RAZAR_RESULTS (a subject with more
// answers than the default keeps them all), and a restart changes nothing.
func TestOpenMovesTheResultsOfAnOldStoreLosingNothing(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	serve := func() (*jetstream.Server, *bus.Conn) {
		srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: dir, Listen: "127.0.0.1:0", Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := bus.Connect(ctx, srv.ClientURL(), "razar", zerolog.Nop())
		if err != nil {
			srv.Shutdown()
			t.Fatal(err)
		}
		return srv, nc
	}
	srv, nc := serve()
	h := writeOldLayout(t, ctx, nc.NATS(), 1)
	var logged []string
	store, err := jetstream.Open(ctx, nc, jetstream.WithLimits(jetstream.DefaultLimits()), jetstream.WithLog(func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }))
	if err != nil {
		t.Fatalf("boot's Open on the old store: %v", err)
	}
	assertUpgraded(t, ctx, nc.NATS(), h, "after the upgrade")
	if !slices.ContainsFunc(logged, func(l string) bool { return strings.Contains(l, "upgraded the store") }) {
		t.Errorf("the upgrade was not logged: %q", logged)
	}
	// The store's readers find the moved answers where they now are.
	if _, data, err := store.LastMsg(ctx, bus.ResultSubject("inc-old-2", "k2")); err != nil || string(data) != h.results[1].Data {
		t.Errorf("LastMsg of a moved result: %q, %v", data, err)
	}
	nc.Close()
	srv.Shutdown()

	srv, nc = serve()
	defer srv.Shutdown()
	defer nc.Close()
	if _, err := jetstream.Open(ctx, nc, jetstream.WithLimits(jetstream.DefaultLimits())); err != nil {
		t.Fatalf("Open after a restart: %v", err)
	}
	assertUpgraded(t, ctx, nc.NATS(), h, "after a restart")
}

// TestOpenFinishesAnUpgradeCutShort: a crash after RAZAR stopped taking
// results, with RAZAR_RESULTS still a copy being filled, is finished by
// the next Open, nothing lost.
func TestOpenFinishesAnUpgradeCutShort(t *testing.T) {
	env := bustest.NewAt(t, t.TempDir(), "127.0.0.1:-1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js, err := natsjs.New(env.NATS)
	if err != nil {
		t.Fatal(err)
	}
	// bustest declared the new layout: put the old one in its place.
	for _, name := range []string{bus.StreamName, bus.ResultsStreamName, "KV_" + bus.KVBucket} {
		if err := js.DeleteStream(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	h := writeOldLayout(t, ctx, env.NATS, 1)
	// What the first steps of the move leave: the copy, and RAZAR no
	// longer capturing results.
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: bus.ResultsStreamName, Storage: natsjs.FileStorage, MaxBytes: -1, MaxMsgSize: jetstream.DefaultMaxMsgSize,
		Sources: []*natsjs.StreamSource{{Name: bus.StreamName, FilterSubject: bus.ResultAll}}}); err != nil {
		t.Fatal(err)
	}
	cfg := oldStreamConfig(1)
	cfg.Subjects = bus.StreamSubjects
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := jetstream.Open(ctx, env.NC, jetstream.WithLimits(jetstream.DefaultLimits())); err != nil {
		t.Fatalf("Open after the cut-short upgrade: %v", err)
	}
	assertUpgraded(t, ctx, env.NATS, h, "after finishing the upgrade")
}

// TestClusterOpenUpgradesAnOldStoreWithItsReplicas: on three real
// nats-servers, an old store of 3 replicas is upgraded by Open with
// --replicas 3 as on one server: RAZAR_RESULTS replicated, nothing lost.
func TestClusterOpenUpgradesAnOldStoreWithItsReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("three nats-server processes")
	}
	c := bustest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	conn, err := bus.Connect(ctx, c.URLs(), "t", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := writeOldLayout(t, ctx, conn.NATS(), 3)
	if _, err := jetstream.Open(ctx, conn, jetstream.WithReplicas(3), jetstream.WithLimits(jetstream.DefaultLimits())); err != nil {
		t.Fatalf("Open with 3 replicas on the old store: %v", err)
	}
	var why []string
	// Direct gets are answered by any replica: one may lag a moment.
	bustest.Eventually(t, 30*time.Second, func() bool {
		why = upgradeProblems(t, ctx, conn.NATS(), h, 3)
		return len(why) == 0
	}, "the upgraded cluster store: %v", bustest.Lazy(func() string { return strings.Join(why, "; ") }))
}
