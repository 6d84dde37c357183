package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/agents/crown"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/supervisor"
)

// TestHandshakeRecordsTheFingerprintEveryBoot: Crown's rung starts beside
// the boot, as in-process rungs do; the handshake waits for its
// subscription instead of falling back, in 50 of 50 boots.
func TestHandshakeRecordsTheFingerprintEveryBoot(t *testing.T) {
	const boots = 50
	b := newBootMesh(t, nil, fiveRungs(nil), orchestrator.Config{}, supervisor.Config{HandshakeWait: 5 * time.Second})
	if err := os.MkdirAll(filepath.Join(b.home, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(razar.Home(b.home).IdentitySummary(), []byte(`{"mission": "razar"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Crown's rung starts only once the brief is on its way: the moment
	// the race was lost in.
	briefs := make(chan struct{}, boots)
	sub, err := b.env.NATS.Subscribe(bus.AuditSubject(bus.SystemComponent, bus.EventHandshake), func(m *nats.Msg) {
		var r bus.AuditRecord
		if bus.Decode(m.Data, &r) == nil && r.Role == "razar" && r.Status == "" {
			briefs <- struct{}{}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for i := 0; i < boots; i++ {
		rt, err := agents.New(b.env.Store, agents.Config{Name: "crown", Handshake: crown.Handshake(b.home), Heartbeat: time.Hour, Log: zerolog.Nop(),
			Load: func(context.Context) (razar.Agent, error) { return noFix("crown"), nil }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-briefs:
			case <-ctx.Done():
				return
			}
			_ = rt.Run(ctx)
		}()
		err = b.sup.Boot(context.Background())
		cancel()
		wg.Wait()
		if err != nil {
			t.Fatalf("boot %d: %v", i+1, err)
		}
	}
	var acks, fallbacks int
	for _, r := range b.handshakes() {
		switch {
		case r.Role == "crown" && r.IdentityFingerprint != nil && r.IdentityFingerprint.SHA256 != "":
			acks++
		case r.Status == "fallback":
			fallbacks++
		}
	}
	if acks != boots || fallbacks != 0 {
		t.Fatalf("%d of %d boots recorded Crown's fingerprint, %d fell back", acks, boots, fallbacks)
	}
}

// handshakes returns the handshake records on the audit stream.
func (b *bootMesh) handshakes() []bus.AuditRecord {
	b.t.Helper()
	var out []bus.AuditRecord
	err := b.env.Store.Scan(context.Background(), bus.AuditSubject(bus.SystemComponent, bus.EventHandshake), time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}
