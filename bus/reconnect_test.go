package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// logLines hands each log line the connection writes to the test.
type logLines struct {
	ch chan string
}

func (b *logLines) Write(p []byte) (int, error) { b.ch <- string(p); return len(p), nil }

// TestReconnectLogsTheOutage: when the server comes back, the connection
// logs one info line "bus reconnected" saying how long the bus was gone.
func TestReconnectLogsTheOutage(t *testing.T) {
	store := filepath.Join(t.TempDir(), "state")
	listen := fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t))
	env := bustest.NewAt(t, store, listen)
	logs := &logLines{ch: make(chan string, 64)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, env.URL, "t", zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	env.Close()
	bustest.NewAt(t, store, listen)
	for {
		select {
		case <-ctx.Done():
			t.Fatal("no \"bus reconnected\" line after the server came back")
		case line := <-logs.ch:
			if !strings.Contains(line, "bus reconnected") {
				continue
			}
			var rec struct {
				Level  string  `json:"level"`
				Outage float64 `json:"outage"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Level != "info" || rec.Outage <= 0 {
				t.Fatalf("reconnect line %s: want level info and the outage's duration", line)
			}
			return
		}
	}
}
