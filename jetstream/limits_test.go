package jetstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// configs returns the server's view of stream RAZAR and of the stream
// behind bucket RAZAR_STATE.
func configs(t *testing.T, nc *nats.Conn) (stream, kv natsjs.StreamConfig) {
	t.Helper()
	ctx := context.Background()
	js, err := natsjs.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]*natsjs.StreamConfig{bus.StreamName: &stream, "KV_" + bus.KVBucket: &kv} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		*out = info.Config
	}
	return stream, kv
}

func TestNewStoreHasTheDocumentedLimits(t *testing.T) {
	env := bustest.New(t)
	stream, kv := configs(t, env.NATS)
	if stream.MaxBytes != 1<<30 || stream.MaxMsgSize != 1<<20 || stream.MaxAge != 90*24*time.Hour || stream.Discard != natsjs.DiscardOld {
		t.Errorf("stream RAZAR: max bytes %d, max msg size %d, max age %v, discard %v; want 1 GiB, 1 MiB, 90 days, old",
			stream.MaxBytes, stream.MaxMsgSize, stream.MaxAge, stream.Discard)
	}
	if kv.MaxBytes != 256<<20 || kv.MaxMsgSize != 1<<20 {
		t.Errorf("bucket RAZAR_STATE: max bytes %d, max value size %d; want 256 MiB, 1 MiB", kv.MaxBytes, kv.MaxMsgSize)
	}
}

// TestOversizedMessagesAreRefusedAndTheStoreStillWorks: a record or a
// value over the limits is refused by the server, not stored, and the
// store goes on taking the next ones.
func TestOversizedMessagesAreRefusedAndTheStoreStillWorks(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	store, err := jetstream.Open(ctx, env.NC, jetstream.WithLimits(jetstream.Limits{StreamMaxMsgSize: 64 << 10, StateMaxValueSize: 64 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 100<<10) // under the connection's 1 MiB max payload: the stream refuses it
	err = store.Audit(ctx, &bus.AuditRecord{Event: bus.EventAlert, Component: "web", Message: big}, "")
	var apiErr *natsjs.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != natsjs.JSErrCodeStreamMessageExceedsMaximum {
		t.Fatalf("oversized audit record: %v, want the server's message-too-large error", err)
	}
	if err := store.PutRaw(ctx, "component.web", []byte(`"`+big+`"`)); err == nil {
		t.Fatal("an oversized value was stored")
	}

	if err := store.Audit(ctx, &bus.AuditRecord{Event: bus.EventAlert, Component: "web", Message: "small"}, ""); err != nil {
		t.Fatalf("audit after the refusal: %v", err)
	}
	var msgs []string
	if err := store.Scan(ctx, bus.AuditAll, time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err != nil {
			return err
		}
		msgs = append(msgs, r.Message)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0] != "small" {
		t.Fatalf("stream holds %d records %q, want only the small one", len(msgs), msgs)
	}
	if err := store.PutRaw(ctx, "component.web", []byte(`{"name":"web"}`)); err != nil {
		t.Fatalf("put after the refusal: %v", err)
	}
}

// TestFullStreamDiscardsTheOldestAndKeepsTakingRecords: past its byte
// limit the stream drops its oldest records, never the new one.
func TestFullStreamDiscardsTheOldestAndKeepsTakingRecords(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	store, err := jetstream.Open(ctx, env.NC, jetstream.WithLimits(jetstream.Limits{StreamMaxBytes: 64 << 10, StreamMaxMsgSize: 8 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 100 // about 4 KiB each: several times the stream's room
	for i := range n {
		rec := &bus.AuditRecord{Event: bus.EventAlert, Component: "web", Attempt: i + 1, Message: strings.Repeat("m", 4<<10)}
		if err := store.Audit(ctx, rec, ""); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
	}
	var first, last, count int
	if err := store.Scan(ctx, bus.AuditAll, time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err != nil {
			return err
		}
		if count == 0 {
			first = r.Attempt
		}
		last = r.Attempt
		count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if last != n || first == 1 || count >= n {
		t.Fatalf("stream holds %d records, %d..%d; want the newest few ending at %d", count, first, last, n)
	}
}

// TestOpenUpdatesTheLimitsOfAnExistingStore: a store declared by an older
// RAZAR, without limits, gets them from `razar boot` (WithLimits); a later
// Open without them (a rung, a CLI command) keeps what boot set.
func TestOpenUpdatesTheLimitsOfAnExistingStore(t *testing.T) {
	dir := t.TempDir()
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: dir, Listen: "127.0.0.1:0", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, srv.ClientURL(), "old-razar", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := natsjs.New(nc.NATS())
	if err != nil {
		t.Fatal(err)
	}
	// As the RAZAR before limits declared them.
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: bus.StreamName, Subjects: bus.StreamSubjects, Storage: natsjs.FileStorage,
		MaxAge: jetstream.DefaultMaxAge, Duplicates: jetstream.DuplicateWindow}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(ctx, natsjs.KeyValueConfig{Bucket: bus.KVBucket, History: 10, Storage: natsjs.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if err := publishOK(ctx, js); err != nil {
		t.Fatal(err)
	}

	want := jetstream.Limits{StreamMaxBytes: 512 << 20, StreamMaxMsgSize: 512 << 10, StreamMaxAge: 30 * 24 * time.Hour, StateMaxBytes: 128 << 20, StateMaxValueSize: 256 << 10}
	if _, err := jetstream.Open(ctx, nc, jetstream.WithLimits(want)); err != nil {
		t.Fatalf("boot's Open on the old store: %v", err)
	}
	check := func(when string) {
		t.Helper()
		stream, kv := configs(t, nc.NATS())
		if stream.MaxBytes != want.StreamMaxBytes || stream.MaxMsgSize != want.StreamMaxMsgSize || stream.MaxAge != want.StreamMaxAge || stream.Discard != natsjs.DiscardOld {
			t.Errorf("%s: stream %d bytes, %d msg size, %v age, discard %v; want %+v", when, stream.MaxBytes, stream.MaxMsgSize, stream.MaxAge, stream.Discard, want)
		}
		if kv.MaxBytes != want.StateMaxBytes || kv.MaxMsgSize != want.StateMaxValueSize {
			t.Errorf("%s: bucket %d bytes, %d value size; want %+v", when, kv.MaxBytes, kv.MaxMsgSize, want)
		}
	}
	check("after boot's Open")
	store, err := jetstream.Open(ctx, nc)
	if err != nil {
		t.Fatalf("a rung's Open: %v", err)
	}
	check("after a rung's Open")
	// The record stored before the update is still there.
	n := 0
	if err := store.Scan(ctx, bus.AuditAll, time.Time{}, false, func(uint64, string, []byte) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("records after the update: %d, %v; want the 1 stored before", n, err)
	}
}

func publishOK(ctx context.Context, js natsjs.JetStream) error {
	data, err := bus.Encode(&bus.AuditRecord{Event: bus.EventAlert, Component: "web", Message: "before the update"})
	if err != nil {
		return err
	}
	_, err = js.Publish(ctx, bus.AuditSubject("web", bus.EventAlert), data)
	return err
}
