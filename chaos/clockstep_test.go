package chaos

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/orchestrator"
)

// clockStepAcrossRestart is finding 18, in-process (a real process's
// clock cannot be stepped without CAP_SYS_TIME and without stepping every
// other process's): the orchestrator stops while rung k2 works on attempt
// 1 (timeout 4 s, its answer never comes), and the wall clock steps back
// an hour before the next orchestrator starts: the pending attempt's
// stored instants then lie an hour in the future of the new clock, which
// is what the test writes into the incident's record. The restarted
// orchestrator still gives the attempt no more than its 4 s: it times out,
// attempt 2 heals, and the incident ends once.
func clockStepAcrossRestart(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	dir := filepath.Join(home, "c1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	boot := &config.BootConfig{Components: []config.Component{{Name: "c1", Command: []string{"true"}, Workdir: dir,
		HealthCheck: &razar.HealthCheck{Command: []string{"test", "-f", "healed"}}}}}
	roster := &config.Roster{Agents: []config.AgentEntry{{Name: "k2", Backend: config.BackendExec, Timeout: razar.Duration(4 * time.Second)}}}
	started := make(chan struct{}, 1)
	backend := razar.AgentFunc(func(ctx context.Context, task razar.Task) (razar.Fix, error) {
		if task.Attempt == 1 {
			started <- struct{}{}
			<-ctx.Done() // never answers: the orchestrator's wait must end it
			return razar.Fix{}, ctx.Err()
		}
		if err := os.WriteFile(filepath.Join(task.Workdir, "healed"), nil, 0o644); err != nil {
			return razar.Fix{}, err
		}
		return razar.Fix{Status: razar.StatusFixed, Summary: "k2: healed"}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	newOrch := func() *orchestrator.Orchestrator {
		o, err := orchestrator.New(env.Store, orchestrator.Config{
			Threshold: orchestrator.DefaultThreshold, VerifyWindow: 200 * time.Millisecond,
			Roster:     func() (*config.Roster, error) { return roster, nil },
			Components: func() (*config.BootConfig, error) { return boot, nil },
			Log:        zerolog.Nop(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := o.DeclareRungs(ctx); err != nil {
			t.Fatal(err)
		}
		return o
	}
	run := func(o *orchestrator.Orchestrator) (stop func()) {
		octx, ocancel := context.WithCancel(ctx)
		done := make(chan struct{})
		wg.Add(1)
		go func() { defer wg.Done(); defer close(done); _ = o.Run(octx) }()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := o.Resumed(wctx); err != nil {
			t.Fatal(err)
		}
		return func() { ocancel(); <-done }
	}
	first := newOrch()
	stopFirst := run(first)
	rt, err := agents.New(env.Store, agents.Config{Name: "k2", AckWait: 30 * time.Second, Heartbeat: time.Hour, Log: zerolog.Nop(),
		Load: func(context.Context) (razar.Agent, error) { return backend, nil }})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = rt.Run(ctx) }()
	var id string
	bustest.Eventually(t, 10*time.Second, func() bool { id, _, err = first.Escalate(ctx, "c1", "c1: down", ""); return err == nil }, "escalate c1")
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("k2 never took attempt 1")
	}
	stopFirst()

	// The step: an hour back between the two orchestrators.
	rec, rev, err := env.Store.Incident(ctx, id)
	if err != nil || rec.Pending == nil || rec.Pending.Attempt != 1 {
		t.Fatalf("incident %s after the stop: %+v, %v; want attempt 1 pending", id, rec, err)
	}
	rec.Pending.Started = rec.Pending.Started.Add(time.Hour)
	rec.Pending.Deadline = rec.Pending.Deadline.Add(time.Hour)
	if _, err := env.Store.UpdateIncident(ctx, rec, rev); err != nil {
		t.Fatal(err)
	}

	second := newOrch()
	stopSecond := run(second)
	defer stopSecond()
	waitEnded(t, env.Store, 1, 60*time.Second)
	recs := incidents(env.Store)
	if len(recs) != 1 || recs[0].State != razar.IncidentHealed || len(recs[0].Attempts) != 2 || recs[0].Attempts[0].Outcome != razar.OutcomeTimeout {
		t.Errorf("incident after a clock step and a restart: %s, want healed by attempt 2 after attempt 1 timed out", describe(recs))
	}
	stopSecond()
	r, err := Check(context.Background(), env.Store, home)
	if err != nil {
		t.Fatal(err)
	}
	// No mirror runs here: logs/ is not this scenario's to check.
	r.Lost, r.Problems = 0, nil
	record(t, 1, r)
}
