package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/alert"
	"github.com/razar/razar/config"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/supervisor"
)

const bootGrace = 50 * time.Millisecond

type bootResult struct{ razar, bare float64 }

// boot measures a boot cycle of n trivial components of one priority
// (sleep, a start grace, a `true` health check) through the supervisor,
// against a bare loop that starts the same processes in parallel, waits
// the same grace and runs the same probe, run just before.
func boot(n int) (bootResult, error) {
	var r bootResult
	m, err := newMesh(0, "", orchestrator.Config{})
	if err != nil {
		return r, err
	}
	defer m.stop()
	home := filepath.Join(m.dir, "home")
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
		return r, err
	}
	if err := os.WriteFile(filepath.Join(home, "config/razar_ai_agents.json"), []byte(`{"agents": [{"name": "crown", "backend": "builtin"}]}`+"\n"), 0o644); err != nil {
		return r, err
	}
	cfg := &config.BootConfig{}
	for i := 0; i < n; i++ {
		cfg.Components = append(cfg.Components, config.Component{
			Name: fmt.Sprintf("b%d", i), Priority: 1, Command: []string{"sleep", "60"}, Workdir: m.dir,
			StartGrace: razar.Duration(bootGrace), HealthCheck: &razar.HealthCheck{Command: []string{"true"}},
		})
	}
	sup, err := supervisor.New(m.store, m.orch, cfg, supervisor.Config{
		Home: home, HandshakeWait: time.Millisecond, StopGrace: time.Second,
		Alerts: alert.New(m.store, zerolog.Nop()), Log: zerolog.Nop(),
	})
	if err != nil {
		return r, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The baseline first, then the boot it is the floor of.
	if r.bare, err = bareBoot(n); err != nil {
		return r, err
	}
	start := time.Now()
	err = sup.Boot(ctx)
	r.razar = float64(time.Since(start)) / float64(time.Millisecond)
	sup.Close()
	if err != nil {
		return r, fmt.Errorf("boot: %w", err)
	}
	return r, nil
}

func bareBoot(n int) (float64, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := exec.Command("sleep", "60")
			c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := c.Start(); err != nil {
				errs <- err
				return
			}
			cmds[i] = c
			time.Sleep(bootGrace)
			errs <- exec.Command("true").Run()
		}()
	}
	wg.Wait()
	elapsed := float64(time.Since(start)) / float64(time.Millisecond)
	close(errs)
	for _, c := range cmds {
		if c != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return elapsed, nil
}

type memoryResult struct{ perIncident, goroutines float64 }

// memory opens n incidents whose rungs never answer and reports the heap
// and goroutines each open incident costs (the process's own, server
// included, measured before and after).
func memory(n int) (memoryResult, error) {
	var r memoryResult
	m, err := newMeshWith(n, func(ctx context.Context, _ razar.Task) (razar.Fix, error) {
		<-ctx.Done()
		return razar.Fix{}, ctx.Err()
	}, orchestrator.Config{Threshold: 4})
	if err != nil {
		return r, err
	}
	defer m.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	heap := func() (uint64, int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, runtime.NumGoroutine()
	}
	h0, g0 := heap()
	for i := 0; i < n; i++ {
		if _, _, err := m.orch.Escalate(ctx, fmt.Sprintf("c%d", i), "down", ""); err != nil {
			return r, err
		}
	}
	// Every incident has handed its first attempt over.
	for {
		open := 0
		for i := 0; i < n; i++ {
			if _, rung := m.orch.OpenIncident(fmt.Sprintf("c%d", i)); rung != "" {
				open++
			}
		}
		if open == n {
			break
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("%d of %d incidents waiting: %w", open, n, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	h1, g1 := heap()
	// A GC between the two readings can make a small run negative: noise.
	r.perIncident = max(0, float64(int64(h1)-int64(h0))/float64(n)/1024)
	r.goroutines = float64(g1-g0) / float64(n)
	for i := 0; i < n; i++ {
		_, _ = m.orch.Abort(ctx, fmt.Sprintf("c%d", i), "bench")
	}
	return r, nil
}
