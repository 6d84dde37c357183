package jetstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

func TestIncidentCompareAndSet(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	rec := &bus.IncidentRecord{ID: "inc-1", Component: "web", State: razar.IncidentOpen}
	rev, err := env.Store.CreateIncident(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.CreateIncident(ctx, rec); !errors.Is(err, jetstream.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	rec.Escalations = 1
	rev2, err := env.Store.UpdateIncident(ctx, rec, rev)
	if err != nil {
		t.Fatal(err)
	}
	rec.Escalations = 2
	if _, err := env.Store.UpdateIncident(ctx, rec, rev); !errors.Is(err, jetstream.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	got, gotRev, err := env.Store.Incident(ctx, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if gotRev != rev2 || got.Escalations != 1 {
		t.Fatalf("got rev %d escalations %d, want rev %d escalations 1", gotRev, got.Escalations, rev2)
	}
	if _, _, err := env.Store.Incident(ctx, "nope"); !errors.Is(err, razar.ErrNotFound) {
		t.Fatalf("missing incident: %v", err)
	}
}

func TestScanAndDedupe(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		rec := &bus.AuditRecord{Event: bus.EventOpened, Component: "web", Incident: "inc-1"}
		// The same msg id three times is stored once.
		if err := env.Store.Audit(ctx, rec, "same-id"); err != nil {
			t.Fatal(err)
		}
	}
	other := &bus.AuditRecord{Event: bus.EventFailed, Component: "db", Incident: "inc-2"}
	if err := env.Store.Audit(ctx, other, ""); err != nil {
		t.Fatal(err)
	}
	var subjects []string
	err := env.Store.Scan(ctx, bus.AuditAll, time.Time{}, false, func(_ uint64, subj string, _ []byte) error {
		subjects = append(subjects, subj)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(subjects) != 2 || subjects[0] != "razar.audit.web.opened" || subjects[1] != "razar.audit.db.failed" {
		t.Fatalf("scan: %v", subjects)
	}
	// A filter that matches nothing returns at once with nothing.
	n := 0
	if err := env.Store.Scan(ctx, bus.AuditComponent("nothing"), time.Time{}, false, func(uint64, string, []byte) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("empty scan: n=%d err=%v", n, err)
	}
}

func TestURLFileWrittenAndRemoved(t *testing.T) {
	dir := t.TempDir()
	urlFile := dir + "/nats.url"
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: dir + "/js", Listen: "127.0.0.1:0", URLFile: urlFile})
	if err != nil {
		t.Fatal(err)
	}
	got, err := jetstream.ReadURLFile(urlFile)
	if err != nil || got != srv.ClientURL() {
		t.Fatalf("url file: %q %v, want %q", got, err, srv.ClientURL())
	}
	srv.Shutdown()
	srv.Shutdown()
	if _, err := jetstream.ReadURLFile(urlFile); err == nil {
		t.Fatal("url file still there after shutdown")
	}
}

func TestLockStoreIsExclusive(t *testing.T) {
	dir := t.TempDir()
	unlock, err := jetstream.LockStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open files: a second open in this process conflicts too.
	if _, err := jetstream.LockStore(dir); !errors.Is(err, jetstream.ErrStoreLocked) {
		t.Fatalf("second lock: %v, want ErrStoreLocked", err)
	}
	unlock()
	again, err := jetstream.LockStore(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again()
}

// TestAuditRecordsWithoutANaturalIDGetADistinctOne: records sent without
// a message id are stored with a random one each, so two such records are
// both kept and either may be sent again safely after a lost ack.
func TestAuditRecordsWithoutANaturalIDGetADistinctOne(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	var ids []string
	for range 2 {
		rec := &bus.AuditRecord{Event: bus.EventLifecycle, Component: "web"}
		seq, err := env.Store.AuditSeq(ctx, rec, "")
		if err != nil {
			t.Fatal(err)
		}
		m, err := env.Store.Next(ctx, bus.AuditAll, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Seq != seq || !strings.HasPrefix(m.MsgID, "audit-once-") {
			t.Fatalf("record %d stored with message id %q, want audit-once-<hex>", seq, m.MsgID)
		}
		ids = append(ids, m.MsgID)
	}
	if ids[0] == ids[1] {
		t.Fatalf("two records share the message id %s", ids[0])
	}
}
