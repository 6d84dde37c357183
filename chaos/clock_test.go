package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/clock"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/mirror"
	"github.com/razar/razar/orchestrator"
)

// clockJumps runs in-process, as e2e's meshes do: a real process's clock
// cannot be jumped without CAP_SYS_TIME, so the orchestrator runs here on
// internal/clock's Fake clock, with real rung runtimes and the real log
// mirror on an embedded server. The ladder is --long-task with T=1: crown,
// then rStar again and again, paced by backoffs on the fake clock, until
// rStar's second answer heals. Every rung's answer jumps the clock
// mid-attempt, three hours back or five forward, and every backoff is cut
// short by a jump of hours (back, then forward). Each incident still ends
// once, healed, its attempts numbered 1, 2, 3 once each.
func clockJumps(t *testing.T) {
	n := 3
	if full {
		n = 10
	}
	clk := clock.NewFake(time.Now())
	var jumps atomic.Int64
	jump := func(d time.Duration) { clk.Advance(d); jumps.Add(1) }
	env := bustest.New(t)
	home := t.TempDir()
	boot := &config.BootConfig{}
	for i := 1; i <= n; i++ {
		dir := filepath.Join(home, fmt.Sprintf("c%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		boot.Components = append(boot.Components, config.Component{Name: fmt.Sprintf("c%d", i), Command: []string{"true"}, Workdir: dir,
			HealthCheck: &razar.HealthCheck{Command: []string{"test", "-f", "healed"}}})
	}
	roster := &config.Roster{}
	for _, r := range []string{"crown", "rstar"} {
		roster.Agents = append(roster.Agents, config.AgentEntry{Name: r, Backend: config.BackendExec, Takeover: r == "rstar", Timeout: razar.Duration(20 * time.Second)})
	}
	var calls sync.Map // incident: rstar calls so far
	backend := func(rung string) razar.Agent {
		return razar.AgentFunc(func(_ context.Context, task razar.Task) (razar.Fix, error) {
			if task.Attempt%2 == 1 {
				jump(-3 * time.Hour)
			} else {
				jump(5 * time.Hour)
			}
			if rung == "crown" {
				return razar.Fix{Status: razar.StatusNoFix, Summary: "crown: nothing"}, nil
			}
			c, _ := calls.LoadOrStore(task.Incident, new(atomic.Int64))
			if c.(*atomic.Int64).Add(1) < 2 {
				return razar.Fix{Status: razar.StatusNoFix, Summary: "rstar: not yet"}, nil
			}
			if err := os.WriteFile(filepath.Join(task.Workdir, "healed"), nil, 0o644); err != nil {
				return razar.Fix{}, err
			}
			return razar.Fix{Status: razar.StatusFixed, Summary: "rstar: healed"}, nil
		})
	}
	o, err := orchestrator.New(env.Store, orchestrator.Config{
		Threshold: 1, LongTask: true, Clock: clk, VerifyWindow: 200 * time.Millisecond,
		Backoff:    orchestrator.Backoff{Base: 30 * time.Minute, Max: 2 * time.Hour},
		Roster:     func() (*config.Roster, error) { return roster, nil },
		Components: func() (*config.BootConfig, error) { return boot, nil },
		Log:        zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	if err := o.DeclareRungs(ctx); err != nil {
		t.Fatal(err)
	}
	stopWatch, err := o.WatchRungs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stopWatch()
	mir := mirror.New(env.Store, home, zerolog.Nop())
	octx, ocancel := context.WithCancel(ctx)
	mctx, mcancel := context.WithCancel(ctx)
	wg.Add(2)
	go func() { defer wg.Done(); _ = o.Run(octx) }()
	go func() { defer wg.Done(); _ = mir.Run(mctx) }()
	rctx, rcancel := context.WithCancel(ctx)
	for _, r := range roster.Agents {
		rt, err := agents.New(env.Store, agents.Config{Name: r.Name, AckWait: 30 * time.Second, Heartbeat: time.Hour, Log: zerolog.Nop(),
			Load: func(context.Context) (razar.Agent, error) { return backend(r.Name), nil }})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = rt.Run(rctx) }()
	}
	for _, r := range roster.Agents {
		bustest.Eventually(t, 10*time.Second, func() bool { _, err := env.Store.AgentStatus(ctx, r.Name); return err == nil }, "rung %s never reported", r.Name)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := o.Resumed(wctx); err != nil {
		t.Fatal(err)
	}
	// The backoffs: each is cut short by a jump back, then one forward.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for clk.WaitFor(octx, func(d time.Duration) bool { return d >= 30*time.Minute }) {
			jump(-2 * time.Hour)
			jump(5 * time.Hour)
		}
	}()
	for _, c := range boot.Components {
		bustest.Eventually(t, 5*time.Second, func() bool { _, _, err := o.Escalate(ctx, c.Name, c.Name+": down", ""); return err == nil }, "escalate %s", c.Name)
	}
	waitEnded(t, env.Store, n, 60*time.Second)
	for _, rec := range incidents(env.Store) {
		if rec.State != razar.IncidentHealed || len(rec.Attempts) != 3 {
			t.Errorf("incident %s of %s: %s after %d attempts, want healed after 3 (crown, rstar, rstar)", rec.ID, rec.Component, rec.State, len(rec.Attempts))
		}
		for i, a := range rec.Attempts {
			if a.Number != i+1 || a.Finished.Before(a.Started) {
				t.Errorf("incident %s attempt %d: numbered %d, %v to %v", rec.ID, i+1, a.Number, a.Started, a.Finished)
			}
		}
	}
	ocancel()
	rcancel()
	mir.Flush(10 * time.Second)
	mcancel()
	r, err := Check(context.Background(), env.Store, home)
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	_ = env.Store.Scan(context.Background(), bus.AuditAll, time.Time{}, false, func(_ uint64, _ string, data []byte) error {
		var rec bus.AuditRecord
		if bus.Decode(data, &rec) == nil && rec.Event == bus.EventAttempt {
			attempts++
		}
		return nil
	})
	if attempts != 3*n {
		t.Errorf("%d attempt records on the stream, want %d (3 per incident, once each)", attempts, 3*n)
	}
	record(t, int(jumps.Load()), r)
}
