package jetstream_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/jetstream"
)

// recordOf reads every audit record the store holds, in order, and the fix
// memory folded from them as the orchestrator folds it at start.
func recordOf(t *testing.T, ctx context.Context, st *jetstream.Store) ([]string, *fixmem.Memory) {
	t.Helper()
	var recs []string
	mem := fixmem.New()
	err := st.Scan(ctx, bus.AuditAll, time.Time{}, false, func(seq uint64, _ string, data []byte) error {
		recs = append(recs, string(data))
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err == nil {
			mem.Apply(&r, seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, mem
}

// TestResultFloodFromARungEvictsNoRecordNorFix: with both streams capped
// at 4 MiB, k2's identity publishes forty 900 KiB results to made-up
// incidents and a hundred small ones to one incident, then one over the
// message size, and tries to write an audit record. The flood fills
// RAZAR_RESULTS until it refuses more, and k2's subject keeps its newest
// answers only; every audit record of web, the fix learned among them, and
// rstar's answer stay, and still do after a restart.
func TestResultFloodFromARungEvictsNoRecordNorFix(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	tr, err := auth.Open(filepath.Join(home, "identities"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Ensure([]string{"k2", "rstar"}); err != nil {
		t.Fatal(err)
	}
	st, err := tr.Server()
	if err != nil {
		t.Fatal(err)
	}
	limits := jetstream.Limits{StreamMaxBytes: 4 << 20, ResultsMaxBytes: 4 << 20}
	type running struct {
		srv   *jetstream.Server
		orch  *bus.Conn
		store *jetstream.Store
	}
	boot := func() running {
		srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: filepath.Join(home, "state"), Listen: "127.0.0.1:-1", Log: zerolog.Nop(), Trust: st})
		if err != nil {
			t.Fatal(err)
		}
		orch, err := bus.Connect(ctx, srv.ClientURL(), "razar", zerolog.Nop(), bus.WithCreds(tr.Path(string(auth.Orchestrator))))
		if err != nil {
			srv.Shutdown()
			t.Fatal(err)
		}
		store, err := jetstream.Open(ctx, orch, jetstream.WithLimits(limits))
		if err != nil {
			orch.Close()
			srv.Shutdown()
			t.Fatal(err)
		}
		return running{srv, orch, store}
	}
	r := boot()
	stopped := false
	defer func() {
		if !stopped {
			r.orch.Close()
			r.srv.Shutdown()
		}
	}()

	// web's record: an incident healed by k2, its fix learned.
	sig := fixmem.Signature("web", "panic: config missing")
	for i, ev := range []bus.Event{bus.EventOpened, bus.EventAttempt, bus.EventPatch, bus.EventApplied, bus.EventHealed} {
		if err := r.store.Audit(ctx, &bus.AuditRecord{Event: ev, Component: "web", Incident: "inc-web-1", Agent: "k2", Message: fmt.Sprintf("step %d", i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.store.Audit(ctx, &bus.AuditRecord{Event: bus.EventFixLearned, Component: "web", Incident: "inc-web-1", Agent: "k2",
		Signature: sig, Fix: fixmem.FixID("the diff"), Diff: "the diff", Status: "learned"}, ""); err != nil {
		t.Fatal(err)
	}
	before, mem := recordOf(t, ctx, r.store)
	if len(mem.Show(sig)) != 1 {
		t.Fatalf("the fix was not learned before the flood: %d fixes", len(mem.Show(sig)))
	}
	publishAs := func(rung string) natsjs.JetStream {
		nc, err := bus.Connect(ctx, r.srv.ClientURL(), rung, zerolog.Nop(), bus.WithCreds(tr.Path(rung)), bus.WithInboxPrefix(auth.InboxPrefix(rung)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := natsjs.New(nc.NATS())
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	rstar := publishAs("rstar")
	rstarAnswer, _ := bus.Encode(&bus.Result{Incident: "inc-web-2", Attempt: 1, Rung: "rstar", Status: "fixed", Diff: "+ok\n"})
	if _, err := rstar.Publish(ctx, bus.ResultSubject("inc-web-2", "rstar"), rstarAnswer); err != nil {
		t.Fatal(err)
	}

	// The flood, from k2's identity.
	k2 := publishAs("k2")
	big := strings.Repeat("+A", 450<<10) // 900 KiB
	refused := 0
	for i := range 40 {
		data, _ := bus.Encode(&bus.Result{Incident: fmt.Sprintf("inc-flood-%d", i), Attempt: 1, Rung: "k2", Status: "fixed", Diff: big})
		if _, err := k2.Publish(ctx, bus.ResultSubject(fmt.Sprintf("inc-flood-%d", i), "k2"), data); err != nil {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no 900 KiB result was refused: the flood never reached the cap, so the test proves nothing")
	}
	for a := 1; a <= 100; a++ {
		data, _ := bus.Encode(&bus.Result{Incident: "inc-web-2", Attempt: a, Rung: "k2", Status: "no_fix"})
		_, _ = k2.Publish(ctx, bus.ResultSubject("inc-web-2", "k2"), data)
	}
	over, _ := bus.Encode(&bus.Result{Incident: "inc-web-2", Attempt: 101, Rung: "k2", Status: "fixed", Diff: strings.Repeat("x", bus.MaxResultBytes)})
	if _, err := k2.Publish(ctx, bus.ResultSubject("inc-web-2", "k2"), over); err == nil {
		t.Error("a result over the message size was stored")
	}
	forged, _ := bus.Encode(&bus.AuditRecord{Event: bus.EventFixForgotten, Component: "web", Signature: sig, Actor: "operator", TimestampISO: time.Now().UTC().Format(time.RFC3339Nano)})
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := k2.Publish(dctx, bus.AuditSubject("web", bus.EventFixForgotten), forged, natsjs.WithRetryAttempts(0)); err == nil {
		t.Error("k2 wrote an audit record")
	}
	dcancel()

	check := func(when string, store *jetstream.Store) {
		t.Helper()
		after, mem := recordOf(t, ctx, store)
		if !slices.Equal(after, before) {
			t.Errorf("%s: the audit trail holds %d records, want the %d written before the flood, unchanged", when, len(after), len(before))
		}
		if fixes := mem.Show(sig); len(fixes) != 1 || !fixes[0].Usable() {
			t.Errorf("%s: the fix memory has %d fixes for web's signature, want the 1 learned, usable", when, len(fixes))
		}
		if _, data, err := store.LastMsg(ctx, bus.ResultSubject("inc-web-2", "rstar")); err != nil || string(data) != string(rstarAnswer) {
			t.Errorf("%s: rstar's answer: %q, %v; want it kept", when, data, err)
		}
		n := 0
		_ = store.Scan(ctx, bus.ResultSubject("inc-web-2", "k2"), time.Time{}, false, func(uint64, string, []byte) error { n++; return nil })
		_, last, _ := store.LastMsg(ctx, bus.ResultSubject("inc-web-2", "k2"))
		var res bus.Result
		if n != jetstream.DefaultResultsMaxPerSubject || bus.Decode(last, &res) != nil || res.Attempt != 100 {
			t.Errorf("%s: k2's subject holds %d answers, the last attempt %d; want its newest %d, up to attempt 100", when, n, res.Attempt, jetstream.DefaultResultsMaxPerSubject)
		}
	}
	check("after the flood", r.store)

	r.orch.Close()
	r.srv.Shutdown()
	r = boot()
	check("after a restart", r.store)
}
