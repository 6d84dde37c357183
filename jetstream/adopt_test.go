package jetstream_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// TestUpgradeKeepsTheRecordOfABusWithoutIdentities: a store written by a
// RAZAR from before identities is found in account RAZAR by the first
// server that trusts them, audit records and all.
func TestUpgradeKeepsTheRecordOfABusWithoutIdentities(t *testing.T) {
	home := t.TempDir()
	state := filepath.Join(home, "state")
	old := bustest.NewAt(t, state, "127.0.0.1:-1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec := &bus.AuditRecord{Event: bus.EventLifecycle, Component: "web", Verb: "stop", Actor: "before-identities"}
	if err := old.Store.Audit(ctx, rec, ""); err != nil {
		t.Fatal(err)
	}
	old.Close()

	tr, err := auth.Open(razar.Home(home).Identities())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Ensure(nil); err != nil {
		t.Fatal(err)
	}
	st, err := tr.Server()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: state, Listen: "127.0.0.1:-1", Log: zerolog.Nop(), Trust: st})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := bus.Connect(ctx, srv.ClientURL(), "t", zerolog.Nop(), bus.WithCreds(tr.Path("operator")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, err := jetstream.Bind(ctx, nc)
	if err != nil {
		t.Fatalf("the upgraded store has no stream RAZAR: %v", err)
	}
	var got []string
	if err := store.Scan(ctx, bus.AuditAll, time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if bus.Decode(data, &r) == nil {
			got = append(got, r.Actor)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "before-identities" {
		t.Fatalf("audit records after the upgrade: %q, want the one written before", got)
	}
}
