package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/memory"
)

// MemoryInitOptions are `razar memory init`'s.
type MemoryInitOptions struct {
	Source string // --source: the entry point the gauges are labelled with
	Config string // --config: the boot config (default config/boot_config.json)
	NATS   string // --nats URL
}

// MemoryInit checks every memory layer, writes the gauges of the source to
// monitoring/boot_metrics.prom and prints one line per layer: exit 1 when
// a layer failed.
func (c *Client) MemoryInit(ctx context.Context, o MemoryInitOptions) error {
	if err := memory.ValidSource(o.Source); err != nil {
		return usageErr("--source: %v", err)
	}
	if o.Config == "" {
		o.Config = c.home().BootConfig()
	}
	boot, err := config.LoadBoot(o.Config, c.Home)
	if err != nil {
		return err
	}
	// Check before writing: on a home RAZAR never ran in, the stream and
	// state layers cannot exist, and the log, gauges and patch store this
	// command would create there are litter, not a record.
	if o.NATS == "" && c.Getenv("RAZAR_NATS_URL") == "" && c.neverBooted() {
		if err := c.HomeExists(); err != nil {
			return err
		}
		return failed("memory init: RAZAR has never run in %s (no %s, no %s): its stream and state layers do not exist yet, so nothing was checked or written (fix: `razar boot` first, or --nats URL of the bus RAZAR uses)", c.Home, razar.Home("").NATSURLFile(), razar.Home("").StateDir()+"/jetstream")
	}
	log, closeLog, err := c.DaemonLogger("memory")
	if err != nil {
		return err
	}
	defer closeLog()
	// Reads only: the operator identity of a running RAZAR, or the home's
	// store served privately when RAZAR is stopped.
	var store *jetstream.Store
	s, closeStore, storeErr := c.OpenStore(ctx, o.NATS, "razar-memory")
	if storeErr == nil {
		store = s
		defer closeStore()
	}
	r := InitMemory(ctx, c.Home, o.Source, store, storeErr, boot.Memory, log)
	for _, l := range r.Layers {
		line := fmt.Sprintf("%-10s %s", l.Name, l.Status)
		if l.Error != "" {
			line += ": " + l.Error
		}
		fmt.Fprintln(c.Stdout, line)
	}
	fmt.Fprintf(c.Stdout, "%d of %d layers ready in %.3fs (source %s); gauges in %s\n", r.Ready(), len(r.Layers), r.Duration.Seconds(), r.Source, razar.Home("").BootMetrics())
	if r.Errored() {
		return failed("memory init: %d of %d layers failed", r.Failed(), len(r.Layers))
	}
	return nil
}

// neverBooted reports whether RAZAR has never run in c's home: no bus
// address of a running RAZAR and no store of a stopped one.
func (c *Client) neverBooted() bool {
	for _, p := range []string{c.home().NATSURLFile(), filepath.Join(c.home().StateDir(), "jetstream")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			return false
		}
	}
	return true
}

// InitMemory runs one initialization pass of home's memory layers and
// records it in monitoring/boot_metrics.prom and on log.
func InitMemory(ctx context.Context, home, source string, store *jetstream.Store, storeErr error, cfg *config.MemoryConfig, log zerolog.Logger) *memory.Result {
	r := memory.Initialize(ctx, source, memory.Layers(store, storeErr, razar.Home(home).Patches(), home, cfg))
	if err := memory.WriteMetrics(razar.Home(home).BootMetrics(), r, func(w string) { log.Warn().Msg(w) }); err != nil {
		r.Err = errors.Join(r.Err, err)
		log.Error().Err(err).Str("file", razar.Home("").BootMetrics()).Msg("could not write the memory gauges")
	}
	r.Log(log)
	return r
}

// MemoryAuditOptions are `razar memory audit`'s.
type MemoryAuditOptions struct {
	Items int    // --items: items to write through each layer
	NATS  string // --nats URL
}

// MemoryAudit writes items through every store layer, reads them back and
// verifies them: in the running RAZAR, or here on the home's store when
// RAZAR is known to be stopped. Exit 1 when any item fails verification.
func (c *Client) MemoryAudit(ctx context.Context, o MemoryAuditOptions) error {
	if o.Items < 1 || o.Items > memory.MaxAuditItems {
		return usageErr("--items %d: want 1 to %d", o.Items, memory.MaxAuditItems)
	}
	var rep *memory.AuditReport
	nc, err := c.Connect(ctx, o.NATS, "razar-memory", c.Logger())
	if err == nil {
		defer nc.Close()
		rep, err = c.memoryAuditRemote(ctx, nc, o.Items)
	}
	if err != nil {
		// Only a RAZAR known to be stopped is audited here: one that runs
		// but cannot be reached owns the store.
		if !c.RazarDown(o.NATS) {
			var ee *ExitError
			if errors.As(err, &ee) {
				return err
			}
			return failed("%v", err)
		}
		if rep, err = c.memoryAuditOffline(ctx, o.Items); err != nil {
			return err
		}
	}
	c.printAudit(rep)
	if !rep.OK() {
		return failed("memory audit %s: items failed verification", rep.Run)
	}
	return nil
}

// memoryAuditRemote has the running RAZAR run the audit; a terminal gets
// a line with the time spent while it works.
func (c *Client) memoryAuditRemote(ctx context.Context, nc *bus.Conn, items int) (*memory.AuditReport, error) {
	stop := c.progress().wait(fmt.Sprintf("auditing %d items per layer in the running RAZAR", items))
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	reply, err := bus.Command(cctx, nc, bus.VerbMemoryAudit, bus.AllComponents, &bus.LifecycleRequest{Items: items, Actor: c.Actor()})
	stop()
	if err != nil {
		if errors.Is(err, bus.ErrNotRunning) {
			return nil, err
		}
		return nil, ReplyErr(bus.AllComponents, reply, err)
	}
	var rep memory.AuditReport
	if err := json.Unmarshal(reply.Data, &rep); err != nil {
		return nil, failed("memory audit: RAZAR's report does not decode: %v", err)
	}
	return &rep, nil
}

// memoryAuditOffline runs the audit on the home's store with RAZAR stopped,
// as its owner, and records it there.
func (c *Client) memoryAuditOffline(ctx context.Context, items int) (*memory.AuditReport, error) {
	store, closeStore, err := c.OpenStore(ctx, "", "razar-memory")
	if err != nil {
		return nil, err
	}
	defer closeStore()
	log, closeLog, err := c.DaemonLogger("memory")
	if err != nil {
		return nil, err
	}
	defer closeLog()
	rep := RunMemoryAudit(ctx, store, razar.Home(c.Home).Patches(), items, c.progress().bar)
	RecordMemoryAudit(ctx, c.Home, store, rep, c.Actor(), log)
	return rep, nil
}

// RecordMemoryAudit records an audit of home's stores: a memory audit
// record on the stream, the razar_memory_audit_* gauges in
// monitoring/boot_metrics.prom and one log line.
func RecordMemoryAudit(ctx context.Context, home string, store *jetstream.Store, rep *memory.AuditReport, actor string, log zerolog.Logger) {
	if err := store.Audit(ctx, memoryRecord(rep, actor), ""); err != nil {
		log.Error().Err(err).Msg("could not record the memory audit")
	}
	if err := memory.WriteAuditMetrics(razar.Home(home).BootMetrics(), rep, time.Now(), func(w string) { log.Warn().Msg(w) }); err != nil {
		log.Error().Err(err).Str("file", razar.Home("").BootMetrics()).Msg("could not write the memory audit gauges")
	}
	layers := zerolog.Dict()
	for _, l := range rep.Layers {
		layers.Dict(l.Layer, zerolog.Dict().Int("written", l.Written).Int("read", l.Read).Int("verified", l.Verified).
			Int("failed", l.Failed).Float64("duration", l.Duration))
	}
	ev := log.Info()
	if !rep.OK() {
		ev = log.Warn()
	}
	ev.Str("subsystem", "memory").Str("run", rep.Run).Int("memory_audit_items", rep.Items).Bool("memory_audit_verified", rep.OK()).
		Float64("memory_audit_duration", rep.Duration).Dict("memory_audit_layers", layers).Str("actor", actor).Msg("memory audit")
}

// RunMemoryAudit audits RAZAR's store layers.
func RunMemoryAudit(ctx context.Context, store *jetstream.Store, patchDir string, items int, progress memory.Progress) *memory.AuditReport {
	run := memory.NewRun()
	return memory.Audit(ctx, run, items, memory.AuditLayers(store, patchDir, run), progress)
}

// memoryRecord is the audit record of one audit.
func memoryRecord(rep *memory.AuditReport, actor string) *bus.AuditRecord {
	status := "verified"
	if !rep.OK() {
		status = "failed"
	}
	var parts []string
	for _, l := range rep.Layers {
		parts = append(parts, fmt.Sprintf("%s %d/%d verified", l.Layer, l.Verified, rep.Items))
	}
	data, _ := json.Marshal(rep)
	return &bus.AuditRecord{Event: bus.EventMemory, Component: bus.SystemComponent, Status: status, Actor: actor,
		Message: fmt.Sprintf("memory audit %s: %d items per layer; %s", rep.Run, rep.Items, strings.Join(parts, "; ")), Data: data}
}

func (c *Client) printAudit(rep *memory.AuditReport) {
	fmt.Fprintf(c.Stdout, "memory audit %s: %d items per layer in %.3fs\n", rep.Run, rep.Items, rep.Duration)
	fmt.Fprintf(c.Stdout, "%-8s %8s %8s %8s %8s %10s\n", "LAYER", "WRITTEN", "READ", "VERIFIED", "FAILED", "SECONDS")
	for _, l := range rep.Layers {
		fmt.Fprintf(c.Stdout, "%-8s %8d %8d %8d %8d %10.3f\n", l.Layer, l.Written, l.Read, l.Verified, l.Failed, l.Duration)
		if l.Error != "" {
			fmt.Fprintf(c.Stdout, "  %s: %s\n", l.Layer, l.Error)
		}
	}
	if rep.OK() {
		fmt.Fprintln(c.Stdout, "all items verified")
	}
}

// progress shows how far a long command is on stderr: a bar redrawn in
// place on a terminal, a plain line per step otherwise.
type progress struct {
	w   io.Writer
	tty bool
	mu  sync.Mutex
	at  map[string]int // last percent printed, per layer (plain lines)
}

func (c *Client) progress() *progress {
	p := &progress{w: c.Stderr, at: map[string]int{}}
	if f, ok := c.Stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// bar is a memory.Progress.
func (p *progress) bar(layer string, done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pct := 100 * done / max(total, 1)
	if p.tty {
		const width = 30
		n := width * done / max(total, 1)
		fmt.Fprintf(p.w, "\r%-8s [%s%s] %3d%% %d/%d", layer, strings.Repeat("#", n), strings.Repeat(".", width-n), pct, done, total)
		if done == total {
			fmt.Fprintln(p.w)
		}
		return
	}
	// Plain: a line at each quarter.
	if last, seen := p.at[layer]; !seen || pct/25 > last/25 || done == total {
		if done == total && seen && last == 100 {
			return
		}
		p.at[layer] = pct
		fmt.Fprintf(p.w, "%s: %d/%d (%d%%)\n", layer, done, total, pct)
	}
}

// wait shows what is being waited for until stop is called: on a terminal
// with the seconds spent, redrawn; otherwise one line.
func (p *progress) wait(what string) (stop func()) {
	if !p.tty {
		fmt.Fprintln(p.w, what)
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			fmt.Fprintf(p.w, "\r%s ... %.0fs", what, time.Since(start).Seconds())
			select {
			case <-done:
				fmt.Fprintln(p.w)
				return
			case <-t.C:
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
