package mirror

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir/homedirtest"
	"github.com/razar/razar/jetstream/bustest"
)

// TestMirrorRefusesAPlantedLinkThenCatchesUpOnceItIsRemoved: the mirror
// reports the link, leaves its target alone, and mirrors the record once the
// operator removes the link: the stream keeps it meanwhile.
func TestMirrorRefusesAPlantedLinkThenCatchesUpOnceItIsRemoved(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	victim, want := homedirtest.PlantLink(t, razar.Home(home).Invocations())
	logs := &syncWriter{}
	m := New(env.Store, home, zerolog.New(logs))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	rec := &bus.AuditRecord{Event: bus.EventAttempt, Component: "web", Incident: "inc-1", Agent: "k2", Attempt: 1, Outcome: "no_fix"}
	if err := env.Store.Audit(ctx, rec, ""); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "remove the symlink") },
		"the mirror did not report the link; log:\n%s", logs)
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, want) {
		t.Fatalf("victim changed: %q", got)
	}
	if err := os.Remove(razar.Home(home).Invocations()); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		b, err := os.ReadFile(razar.Home(home).Invocations())
		return err == nil && strings.Contains(string(b), `"incident":"inc-1"`)
	}, "the record never reached %s once the link was gone", razar.Home("").Invocations())
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, want) {
		t.Fatalf("victim changed: %q", got)
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
func (w *syncWriter) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.b.String() }

// TestMirrorRewritesATornLastLineFromTheStreamAtStart: a mirror file whose
// last line was torn while RAZAR was down (its position already past that
// record) gets the record back, whole and once, when the mirror starts.
func TestMirrorRewritesATornLastLineFromTheStreamAtStart(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	ctx := context.Background()
	run := func() (stop func()) {
		m := New(env.Store, home, zerolog.Nop())
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.Run(rctx) }()
		return func() { cancel(); <-done }
	}
	stop := run()
	for i := 1; i <= 3; i++ {
		rec := &bus.AuditRecord{Event: bus.EventAttempt, Component: "web", Incident: "inc-1", Agent: "k2", Attempt: i, Outcome: "no_fix"}
		if err := env.Store.Audit(ctx, rec, ""); err != nil {
			t.Fatal(err)
		}
	}
	path := razar.Home(home).Invocations()
	bustest.Eventually(t, 10*time.Second, func() bool {
		pos, _ := os.ReadFile(razar.Home(home).MirrorPos())
		return strings.TrimSpace(string(pos)) == "3"
	}, "the mirror never saved position 3")
	stop()
	data, err := os.ReadFile(path)
	if err != nil || strings.Count(string(data), "\n") != 3 {
		t.Fatalf("%s before the tear: %v\n%s", razar.Home("").Invocations(), err, data)
	}
	if err := os.Truncate(path, int64(len(data)-15)); err != nil { // half of the last line, no newline
		t.Fatal(err)
	}

	stop = run()
	defer stop()
	bustest.Eventually(t, 10*time.Second, func() bool {
		data, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(lines) != 3 || !strings.HasSuffix(string(data), "\n") {
			return false
		}
		for i, l := range lines {
			var r bus.AuditRecord
			if json.Unmarshal([]byte(l), &r) != nil || r.Attempt != i+1 {
				return false
			}
		}
		return true
	}, "%s does not hold attempts 1, 2, 3 whole and once after the start:\n%s", razar.Home("").Invocations(),
		bustest.Lazy(func() string { d, _ := os.ReadFile(path); return string(d) }))
}
