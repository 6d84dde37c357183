package main

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
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/memory"
)

const memoryHelp = `memory init checks every memory layer: stream RAZAR, bucket RAZAR_STATE, the
patch store (state/patches/, a private directory) and each layer of "memory"
in config/boot_config.json, probed like a health check. It writes the
razar_memory_init_* gauges of --source to monitoring/boot_metrics.prom (the
other sources' lines are kept) and one line to logs/razar.log. It only reads
the store, so it runs in the CLI, as the operator identity with RAZAR
running, or on the home's store with RAZAR stopped. Exit 1 when a layer failed.

memory audit writes --items items through the stream, the bucket and the
patch store, reads each back, checks its SHA-256 digest, removes them and
records a "memory" audit record. The stream and the bucket take writes from
the orchestrator alone, so with RAZAR running the audit runs inside it (verb
memory_audit); with RAZAR stopped it runs here on the home's store. Exit 1
when any item fails verification.
`

// memoryInit is `razar memory init [--source S]`.
func (c *cli) memoryInit(ctx context.Context, args []string) error {
	fs := c.newFlags("memory init")
	source := fs.String("source", memory.SourceMemory, "entry point the gauges are labelled with: "+strings.Join(memory.Sources, ", "))
	config := fs.String("config", "", "boot config `file` (default config/boot_config.json in the home)")
	natsURL := fs.String("nats", "", "NATS `URL`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("memory init takes no arguments, got %q", pos[0])
	}
	if err := memory.ValidSource(*source); err != nil {
		return usageErr("--source: %v", err)
	}
	if *config == "" {
		*config = c.path(bootConfigFile)
	}
	boot, err := loadBoot(*config, c.home)
	if err != nil {
		return err
	}
	// Check before writing: on a home RAZAR never ran in, the stream and
	// state layers cannot exist, and the log, gauges and patch store this
	// command would create there are litter, not a record.
	if *natsURL == "" && c.getenv("RAZAR_NATS_URL") == "" && neverBooted(c) {
		if err := c.homeExists(); err != nil {
			return err
		}
		return failed("memory init: RAZAR has never run in %s (no %s, no %s): its stream and state layers do not exist yet, so nothing was checked or written (fix: `razar boot` first, or --nats URL of the bus RAZAR uses)", c.home, natsURLFile, stateDir+"/jetstream")
	}
	log, closeLog, err := c.daemonLogger("memory")
	if err != nil {
		return err
	}
	defer closeLog()
	// Reads only: the operator identity of a running RAZAR, or the home's
	// store served privately when RAZAR is stopped.
	var store *jetstream.Store
	s, closeStore, storeErr := c.openStore(ctx, *natsURL, "razar-memory")
	if storeErr == nil {
		store = s
		defer closeStore()
	}
	r := c.initMemory(ctx, *source, store, storeErr, boot.Memory, log)
	for _, l := range r.Layers {
		line := fmt.Sprintf("%-10s %s", l.Name, l.Status)
		if l.Error != "" {
			line += ": " + l.Error
		}
		fmt.Fprintln(c.stdout, line)
	}
	fmt.Fprintf(c.stdout, "%d of %d layers ready in %.3fs (source %s); gauges in %s\n", r.Ready(), len(r.Layers), r.Duration.Seconds(), r.Source, memory.MetricsFile)
	if r.Errored() {
		return failed("memory init: %d of %d layers failed", r.Failed(), len(r.Layers))
	}
	return nil
}

// neverBooted reports whether RAZAR has never run in c's home: no bus
// address of a running RAZAR and no store of a stopped one.
func neverBooted(c *cli) bool {
	for _, p := range []string{c.path(natsURLFile), filepath.Join(c.path(stateDir), "jetstream")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			return false
		}
	}
	return true
}

// initMemory runs one initialization pass and records it in
// monitoring/boot_metrics.prom and on log.
func (c *cli) initMemory(ctx context.Context, source string, store *jetstream.Store, storeErr error, cfg *razar.MemoryConfig, log zerolog.Logger) *memory.Result {
	r := memory.Initialize(ctx, source, memory.Layers(store, storeErr, razar.Home(c.home).Patches(), c.home, cfg))
	if err := memory.WriteMetrics(c.path(memory.MetricsFile), r, func(w string) { log.Warn().Msg(w) }); err != nil {
		r.Err = errors.Join(r.Err, err)
		log.Error().Err(err).Str("file", memory.MetricsFile).Msg("could not write the memory gauges")
	}
	r.Log(log)
	return r
}

// memoryAudit is `razar memory audit [--items N]`.
func (c *cli) memoryAudit(ctx context.Context, args []string) error {
	fs := c.newFlags("memory audit")
	items := fs.Int("items", memory.DefaultAuditItems, "items to write through each layer")
	natsURL := fs.String("nats", "", "NATS `URL`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("memory audit takes no arguments, got %q", pos[0])
	}
	if *items < 1 || *items > memory.MaxAuditItems {
		return usageErr("--items %d: want 1 to %d", *items, memory.MaxAuditItems)
	}
	log := c.cliLogger()
	var rep *memory.AuditReport
	nc, err := c.connect(ctx, *natsURL, "razar-memory", log)
	if err == nil {
		defer nc.Close()
		rep, err = c.memoryAuditRemote(ctx, nc, *items)
	}
	if err != nil {
		// Only a RAZAR known to be stopped is audited here: one that runs
		// but cannot be reached owns the store.
		if !c.razarDown(*natsURL) {
			var ee *exitError
			if errors.As(err, &ee) {
				return err
			}
			return failed("%v", err)
		}
		if rep, err = c.memoryAuditOffline(ctx, *items); err != nil {
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
func (c *cli) memoryAuditRemote(ctx context.Context, nc *bus.Conn, items int) (*memory.AuditReport, error) {
	stop := c.progress().wait(fmt.Sprintf("auditing %d items per layer in the running RAZAR", items))
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	reply, err := bus.Command(cctx, nc, bus.VerbMemoryAudit, bus.AllComponents, &bus.LifecycleRequest{Items: items, Actor: c.actor()})
	stop()
	if err != nil {
		if errors.Is(err, bus.ErrNotRunning) {
			return nil, err
		}
		return nil, replyErr(bus.AllComponents, reply, err)
	}
	var rep memory.AuditReport
	if err := json.Unmarshal(reply.Data, &rep); err != nil {
		return nil, failed("memory audit: RAZAR's report does not decode: %v", err)
	}
	return &rep, nil
}

// memoryAuditOffline runs the audit on the home's store with RAZAR stopped,
// as its owner, and records it there.
func (c *cli) memoryAuditOffline(ctx context.Context, items int) (*memory.AuditReport, error) {
	store, closeStore, err := c.openStore(ctx, "", "razar-memory")
	if err != nil {
		return nil, err
	}
	defer closeStore()
	log, closeLog, err := c.daemonLogger("memory")
	if err != nil {
		return nil, err
	}
	defer closeLog()
	rep := runMemoryAudit(ctx, store, razar.Home(c.home).Patches(), items, c.progress().bar)
	c.recordMemoryAudit(ctx, store, rep, c.actor(), log)
	return rep, nil
}

// recordMemoryAudit records an audit: a memory audit record on the stream,
// the razar_memory_audit_* gauges in monitoring/boot_metrics.prom and one
// log line.
func (c *cli) recordMemoryAudit(ctx context.Context, store *jetstream.Store, rep *memory.AuditReport, actor string, log zerolog.Logger) {
	if err := store.Audit(ctx, memoryRecord(rep, actor), ""); err != nil {
		log.Error().Err(err).Msg("could not record the memory audit")
	}
	if err := memory.WriteAuditMetrics(c.path(memory.MetricsFile), rep, time.Now(), func(w string) { log.Warn().Msg(w) }); err != nil {
		log.Error().Err(err).Str("file", memory.MetricsFile).Msg("could not write the memory audit gauges")
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

// runMemoryAudit audits RAZAR's store layers.
func runMemoryAudit(ctx context.Context, store *jetstream.Store, patchDir string, items int, progress memory.Progress) *memory.AuditReport {
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

func (c *cli) printAudit(rep *memory.AuditReport) {
	fmt.Fprintf(c.stdout, "memory audit %s: %d items per layer in %.3fs\n", rep.Run, rep.Items, rep.Duration)
	fmt.Fprintf(c.stdout, "%-8s %8s %8s %8s %8s %10s\n", "LAYER", "WRITTEN", "READ", "VERIFIED", "FAILED", "SECONDS")
	for _, l := range rep.Layers {
		fmt.Fprintf(c.stdout, "%-8s %8d %8d %8d %8d %10.3f\n", l.Layer, l.Written, l.Read, l.Verified, l.Failed, l.Duration)
		if l.Error != "" {
			fmt.Fprintf(c.stdout, "  %s: %s\n", l.Layer, l.Error)
		}
	}
	if rep.OK() {
		fmt.Fprintln(c.stdout, "all items verified")
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

func (c *cli) progress() *progress {
	p := &progress{w: c.stderr, at: map[string]int{}}
	if f, ok := c.stderr.(*os.File); ok {
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
