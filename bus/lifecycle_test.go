package bus_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// lifecycleOn serves a lifecycle bus whose requester is whoever identify
// says, with one verb per role check, and returns the audit records.
func lifecycleOn(t *testing.T, identify func(bus.RequestInfo) (auth.Identity, error)) (*bustest.Env, func() []bus.AuditRecord, func() []string) {
	t.Helper()
	env := bustest.New(t)
	var mu sync.Mutex
	var recs []bus.AuditRecord
	ran := new([]string)
	lc, err := bus.NewLifecycle(env.NC, bus.LifecycleConfig{
		Audit: func(_ context.Context, r *bus.AuditRecord) error {
			mu.Lock()
			recs = append(recs, *r)
			mu.Unlock()
			return nil
		},
		Identify: identify,
		Log:      zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []bus.Verb{bus.VerbStop, bus.VerbStatus} {
		lc.Handle(v, func(_ context.Context, c string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
			mu.Lock()
			*ran = append(*ran, string(v)+" by "+req.ActorName())
			mu.Unlock()
			return &bus.LifecycleReply{Message: "done"}, nil
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = lc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	bustest.Eventually(t, 5*time.Second, func() bool {
		_, err := bus.Command(context.Background(), env.NC, bus.VerbStatus, "web", nil)
		return err == nil || !errors.Is(err, bus.ErrNotRunning)
	}, "lifecycle bus did not start")
	mu.Lock()
	*ran, recs = nil, nil // the start-up probes
	mu.Unlock()
	return env, func() []bus.AuditRecord { mu.Lock(); defer mu.Unlock(); return append([]bus.AuditRecord(nil), recs...) },
		func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), *ran...) }
}

// TestLifecycleRefusesWhatTheIdentityMayNotDo: an observer's stop is
// answered forbidden, never reaches the handler, and is recorded refused
// under the observer's name; its status is served.
func TestLifecycleRefusesWhatTheIdentityMayNotDo(t *testing.T) {
	env, records, ran := lifecycleOn(t, func(bus.RequestInfo) (auth.Identity, error) {
		return auth.Identity{Name: "grafana", Role: auth.Observer}, nil
	})
	rep, err := bus.Command(context.Background(), env.NC, bus.VerbStop, "web", &bus.LifecycleRequest{Actor: "alice"})
	if err == nil || rep == nil || rep.Code != bus.CodeForbidden {
		t.Fatalf("observer stop: %+v, %v; want code forbidden", rep, err)
	}
	if _, err := bus.Command(context.Background(), env.NC, bus.VerbStatus, "web", nil); err != nil {
		t.Fatalf("observer status: %v", err)
	}
	if r := ran(); len(r) != 1 || r[0] != "status by grafana" {
		t.Fatalf("handlers ran %q, want only the status", r)
	}
	recs := records()
	if len(recs) != 1 || recs[0].Actor != "grafana" || recs[0].Status != "refused" || recs[0].Verb != "stop" {
		t.Fatalf("records %+v, want one refused stop by grafana", recs)
	}
}

// TestLifecycleRefusesARequestWithoutAnIdentity: a request the server did
// not vouch for (no Nats-Request-Info) is refused, whatever actor it types.
func TestLifecycleRefusesARequestWithoutAnIdentity(t *testing.T) {
	env, records, ran := lifecycleOn(t, func(ri bus.RequestInfo) (auth.Identity, error) {
		return auth.IdentifyJWT(ri.JWT, ri.User)
	})
	rep, err := bus.Command(context.Background(), env.NC, bus.VerbStop, "web", &bus.LifecycleRequest{Actor: "operator"})
	if err == nil || rep == nil || rep.Code != bus.CodeForbidden {
		t.Fatalf("unidentified stop: %+v, %v; want code forbidden", rep, err)
	}
	if r := ran(); len(r) != 0 {
		t.Fatalf("a handler ran for an unidentified request: %q", r)
	}
	if recs := records(); len(recs) != 1 || recs[0].Status != "refused" {
		t.Fatalf("records %+v, want the refusal recorded", recs)
	}
}

// TestLifecycleWithoutAuthenticationMarksTheTypedActor: on a bus without
// identities the typed actor is recorded, marked unverified.
func TestLifecycleWithoutAuthenticationMarksTheTypedActor(t *testing.T) {
	env, records, _ := lifecycleOn(t, nil)
	if _, err := bus.Command(context.Background(), env.NC, bus.VerbStop, "web", &bus.LifecycleRequest{Actor: "alice@ops-1"}); err != nil {
		t.Fatal(err)
	}
	if recs := records(); len(recs) != 1 || recs[0].Actor != "alice@ops-1 (unverified)" {
		t.Fatalf("records %+v, want actor alice@ops-1 (unverified)", recs)
	}
}
