package jetstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// smallDisk mounts a tmpfs of size on a new directory and returns it,
// skipping the test where that cannot be done (not root, no mount).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	bustest.Tmpfs(t, dir, "size="+size)
	return dir
}

func TestFullStoreDiskDisablesTheStoreAndReenableBringsItBackWithEveryRecord(t *testing.T) {
	disk := smallDisk(t, "16m")
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: filepath.Join(disk, "state"), Listen: "127.0.0.1:-1", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx := context.Background()
	nc, err := bus.Connect(ctx, srv.ClientURL(), "fulldisk", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	// Limits that fit the small disk, as RAZAR_*_MAX_BYTES set them.
	st, err := jetstream.Open(ctx, nc, jetstream.WithLimits(jetstream.Limits{StreamMaxBytes: 4 << 20, ResultsMaxBytes: 1 << 20, StateMaxBytes: 1 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	env := struct {
		Server *jetstream.Server
		Store  *jetstream.Store
	}{srv, st}
	rec := func(i int) *bus.AuditRecord {
		return &bus.AuditRecord{Event: bus.EventLifecycle, Component: "c1", Verb: "stop", Actor: "t", Summary: fmt.Sprintf("record %d %s", i, bytes.Repeat([]byte("y"), 2000))}
	}
	stored := 0
	for ; stored < 20; stored++ {
		if err := env.Store.Audit(ctx, rec(stored), fmt.Sprintf("r-%d", stored)); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Server.StoreError(); err != nil {
		t.Fatalf("store error before the fill: %v", err)
	}
	filler := filepath.Join(disk, "filler")
	bustest.FillDisk(t, filler)
	// Write until a write fails.
	var failure error
	bustest.Eventually(t, 30*time.Second, func() bool {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if failure = env.Store.Audit(pctx, rec(stored), fmt.Sprintf("r-%d", stored)); failure == nil {
			stored++
		}
		return failure != nil
	}, "every write succeeded on a full disk")
	t.Logf("the write that failed: %v", failure)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Room again, but the stream still refuses: its write error sticks.
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := env.Store.Audit(pctx, rec(stored), fmt.Sprintf("r-%d", stored)); err == nil {
		t.Log("the stream took a write after the space returned, without a restart")
		stored++
	}
	cancel()
	err = env.Server.StoreError()
	if !errors.Is(err, jetstream.ErrStoreDisabled) {
		t.Fatalf("StoreError = %v, want ErrStoreDisabled", err)
	}
	if err := env.Server.Reenable(); err != nil {
		t.Fatalf("Reenable after freeing the disk: %v", err)
	}
	if err := env.Server.StoreError(); err != nil {
		t.Fatalf("store error after Reenable: %v", err)
	}
	bustest.Eventually(t, 30*time.Second, func() bool {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return env.Store.Audit(pctx, rec(1000), "r-after") == nil
	}, "no record could be stored after Reenable")
	n := 0
	for seq := uint64(1); ; seq++ {
		m, err := env.Store.Next(ctx, bus.AuditAll, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			break
		}
		seq = m.Seq
		n++
	}
	if n != stored+1 {
		t.Errorf("%d records on the stream after Reenable, want %d (every one stored before and the one after)", n, stored+1)
	}
}
