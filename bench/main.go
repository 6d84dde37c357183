// Command bench measures RAZAR's ledger against the bus's own limits, on
// one embedded server, in one run, and writes bench/results.json: each
// figure is a ratio against a baseline measured the same way in the same
// run (these machines are noisy; absolute times are not comparable).
//
//	go run ./bench [-out bench/results.json] [-runs 5] [-incidents 200]
//
// Each figure is taken in rounds, baseline then measurement back to back
// (B M B M ...), and reported as the median of the rounds' ratios with
// their minimum and maximum: the spread says what a rerun will reproduce.
//
// It lives beside the packages it measures and may use nats.go directly:
// its baselines are raw JetStream round trips (TestNoRawConnOutsideTheBus
// allows this package).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
)

// Result is one line of bench/results.json.
type Result struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Baseline float64 `json:"baseline"`
	Ratio    float64 `json:"ratio"`
	Goal     string  `json:"goal"`
	Met      bool    `json:"met"`
	// RatioMin and RatioMax are the lowest and highest of the rounds'
	// ratios, Ratio their median; Rounds is how many there were.
	RatioMin float64 `json:"ratio_min"`
	RatioMax float64 `json:"ratio_max"`
	Rounds   int     `json:"rounds"`
}

func main() {
	patch.SandboxMain() // the validation sandbox's init, when this binary was started as one
	out := flag.String("out", "bench/results.json", "where to write the results")
	runs := flag.Int("runs", 5, "rounds of each measurement, each a baseline then its measurement; the median ratio is reported with the lowest and highest")
	incidents := flag.Int("incidents", 200, "concurrent incidents of the throughput run")
	handovers := flag.Int("handovers", 200, "incidents (of 5 attempts) of the hand-over run")
	attempts := flag.Int("attempts", 200, "attempts of the history run (at least 20)")
	components := flag.Int("components", 200, "components of the boot run")
	open := flag.Int("open", 2000, "open incidents of the memory run")
	scaleOut := flag.String("scale", "", "instead, measure the ladder on a 3-node cluster (R1 and R3) against the embedded server and write `FILE` (bench/scale.json)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to `FILE`")
	corpusOut := flag.String("corpus", "", "instead, run the failure corpus (examples/corpus) through the ladder and write `FILE` (bench/corpus.json)")
	corpusDir := flag.String("corpus-dir", "examples/corpus", "the corpus to run")
	endpoint := flag.String("endpoint", "", "with -corpus: the OpenAI-compatible endpoint the rungs use (default: the stand-in model, in process)")
	model := flag.String("model", "", "with -endpoint: the model's name")
	keyEnv := flag.String("key-env", "", "with -endpoint: the environment variable `VAR` that holds the endpoint's key (never the key itself)")
	cases := flag.String("cases", "", "with -corpus: only these cases, comma-separated")
	razarBin := flag.String("razar", "", "with -corpus: the razar binary to run (default: built from ./cmd/razar)")
	sloppy := flag.Bool("sloppy", true, "with -corpus and the stand-in: hunk headers without line numbers (@@ ... @@)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *corpusOut != "" {
		o := corpusOpts{Dir: *corpusDir, Razar: *razarBin, Endpoint: *endpoint, Model: *model, Sloppy: *sloppy}
		if *cases != "" {
			o.Only = strings.Split(*cases, ",")
		}
		if *keyEnv != "" {
			if o.Key = os.Getenv(*keyEnv); o.Key == "" {
				fmt.Fprintf(os.Stderr, "bench: -key-env %s: the variable is empty or unset; export the endpoint's key in it\n", *keyEnv)
				os.Exit(2)
			}
		}
		if *endpoint == "" && (*model != "" || *keyEnv != "") {
			fmt.Fprintln(os.Stderr, "bench: -model and -key-env go with -endpoint")
			os.Exit(2)
		}
		if err := corpusBench(context.Background(), *corpusOut, o, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *scaleOut != "" {
		if err := scale(*scaleOut, *runs, *incidents, *handovers); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*out, sizes{runs: *runs, incidents: *incidents, handovers: *handovers, attempts: *attempts, components: *components, open: *open}); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// sizes are how much each measurement does.
type sizes struct{ runs, incidents, handovers, attempts, components, open int }

// A figure is one measurement over rounds. Each round takes the baseline
// and then the measured value, back to back on the same server (B M B M
// ...), so a machine that slows down between rounds slows both sides of a
// round alike: the figure is the median of the rounds' ratios, and their
// minimum and maximum say how far one run can be trusted.
type figure struct {
	name, unit, goal string
	bound            float64
	atLeast          bool // the goal is a lower bound
	base, value      []float64
}

// add records one round: its baseline and its measured value.
func (f *figure) add(base, value float64) {
	f.base, f.value = append(f.base, base), append(f.value, value)
}

// result is the figure over its rounds: the medians of the values and the
// baselines, and the median, minimum and maximum of the rounds' ratios.
func (f *figure) result() Result {
	r := Result{Name: f.name, Value: median(f.value), Unit: f.unit, Baseline: median(f.base), Goal: f.goal, Rounds: len(f.value)}
	var ratios []float64
	for i, b := range f.base {
		if b > 0 {
			ratios = append(ratios, f.value[i]/b)
		}
	}
	if len(ratios) > 0 {
		r.Ratio, r.RatioMin, r.RatioMax = median(ratios), slices.Min(ratios), slices.Max(ratios)
	}
	if f.atLeast {
		r.Met = r.Ratio >= f.bound
	} else {
		r.Met = r.Ratio <= f.bound
	}
	return r
}

func run(out string, sz sizes) error {
	rounds, attempts := max(sz.runs, 1), max(sz.attempts, 20)
	p50 := &figure{name: "hand-over p50", unit: "ms", goal: "<= 3", bound: 3}
	p99 := &figure{name: "hand-over p99", unit: "ms", goal: "<= 4", bound: 4}
	hist := &figure{name: fmt.Sprintf("history: attempt %d vs attempt 5", attempts), unit: "ms", goal: "<= 1.5", bound: 1.5}
	thr := &figure{name: fmt.Sprintf("ladder throughput, %d incidents", sz.incidents), unit: "incidents/s", goal: ">= 0.25 of the bus floor", bound: 0.25, atLeast: true}
	bootF := &figure{name: fmt.Sprintf("boot of %d components", sz.components), unit: "ms", goal: "<= 1.3 of a bare start-and-probe loop", bound: 1.3}
	// Memory is against the budget (16 KiB and a handful of
	// goroutines per open incident), not a measured baseline.
	heap := &figure{name: fmt.Sprintf("heap per open incident, %d open", sz.open), unit: "KiB", goal: "<= 16 KiB (1.0 of the budget)", bound: 1}
	gor := &figure{name: fmt.Sprintf("goroutines per open incident, %d open", sz.open), unit: "goroutines", goal: "<= 4 (1.0 of the budget)", bound: 1}

	steps := []struct {
		name  string
		round func() error
	}{
		{"hand-over", func() error {
			m, err := handover(sz.handovers)
			p50.add(m.base50, m.p50)
			p99.add(m.base99, m.p99)
			return err
		}},
		{"history", func() error {
			h, err := history(attempts)
			hist.add(h.early, h.late)
			return err
		}},
		{"throughput", func() error {
			t, err := throughput(sz.incidents)
			thr.add(t.floor, t.rate)
			return err
		}},
		{"boot", func() error {
			b, err := boot(sz.components)
			bootF.add(b.bare, b.razar)
			return err
		}},
		{"memory", func() error {
			mem, err := memory(sz.open)
			heap.add(16, mem.perIncident)
			gor.add(4, mem.goroutines)
			return err
		}},
	}
	for _, s := range steps {
		for range rounds {
			if err := s.round(); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	var results []Result
	for _, f := range []*figure{p50, p99, hist, thr, bootF, heap, gor} {
		results = append(results, f.result())
	}
	if err := write(out, results); err != nil {
		return err
	}
	fmt.Printf("ratio: the median of %d rounds, each a baseline and its measurement back to back; min and max: the spread of the rounds' ratios; written to %s\n", rounds, out)
	return nil
}

// write stores results atomically in out and prints them as a table.
func write(out string, results []Result) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // goals read "<= 3", not "\u003c= 3"
	enc.SetIndent("", "  ")
	if err := enc.Encode(results); err != nil {
		return err
	}
	if err := homedir.WriteAtomic(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVALUE\tBASELINE\tRATIO\tMIN\tMAX\tGOAL\tMET")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%.3f %s\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t%v\n", r.Name, r.Value, r.Unit, r.Baseline, r.Ratio, r.RatioMin, r.RatioMax, r.Goal, r.Met)
	}
	tw.Flush()
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[len(s)/2]
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return float64(s[i]) / float64(time.Millisecond)
}

// env is one embedded server with RAZAR's stream and bucket.
type env struct {
	dir   string
	srv   *jetstream.Server
	conn  *bus.Conn
	store *jetstream.Store
}

// target is the bus the measurements run on: the embedded server (url
// empty, the default), or an external cluster with the given replicas
// (the -scale run).
var target struct {
	url      string
	replicas int
}

func newEnv() (*env, error) {
	dir, err := os.MkdirTemp("", "razar-bench-")
	if err != nil {
		return nil, err
	}
	if target.url != "" {
		return newExternalEnv(dir)
	}
	srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: filepath.Join(dir, "state"), Listen: "127.0.0.1:-1", Log: zerolog.Nop()})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := bus.Connect(ctx, srv.ClientURL(), "bench", zerolog.Nop())
	if err != nil {
		srv.Shutdown()
		return nil, err
	}
	store, err := jetstream.Open(ctx, conn)
	if err != nil {
		conn.Close()
		srv.Shutdown()
		return nil, err
	}
	return &env{dir: dir, srv: srv, conn: conn, store: store}, nil
}

func (e *env) close() {
	if e.srv == nil {
		e.clean() // an external bus: leave it as it was found
	}
	e.conn.Close()
	if e.srv != nil {
		e.srv.Shutdown()
	}
	os.RemoveAll(e.dir)
}

var ladder = []string{"crown", "kimicho", "k2", "airstar", "rstar"}

// mesh runs an orchestrator and the five rungs in this process; fixer is
// the rung that answers fixed (the others answer no_fix at once).
type mesh struct {
	*env
	orch   *orchestrator.Orchestrator
	stop   func()
	boot   *config.BootConfig
	roster *config.Roster
}

func newMesh(components int, fixer string, cfg orchestrator.Config) (*mesh, error) {
	return newMeshOf(components, func(n string) razar.Agent {
		status := razar.StatusNoFix
		if n == fixer {
			status = razar.StatusFixed
		}
		return razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
			return razar.Fix{Status: status, Summary: n + " answers at once"}, nil
		})
	}, cfg)
}

// newMeshWith is newMesh with every rung answering through fn.
func newMeshWith(components int, fn func(context.Context, razar.Task) (razar.Fix, error), cfg orchestrator.Config) (*mesh, error) {
	return newMeshOf(components, func(string) razar.Agent { return razar.AgentFunc(fn) }, cfg)
}

func newMeshOf(components int, agent func(rung string) razar.Agent, cfg orchestrator.Config) (*mesh, error) {
	e, err := newEnv()
	if err != nil {
		return nil, err
	}
	m := &mesh{env: e, boot: &config.BootConfig{}, roster: &config.Roster{}}
	for i := 0; i < components; i++ {
		m.boot.Components = append(m.boot.Components, config.Component{Name: fmt.Sprintf("c%d", i), Command: []string{"true"}, Workdir: e.dir})
	}
	for _, n := range ladder {
		m.roster.Agents = append(m.roster.Agents, config.AgentEntry{Name: n, Backend: config.BackendExec, Takeover: n == "rstar", Timeout: razar.Duration(30 * time.Second)})
	}
	cfg.Roster = func() (*config.Roster, error) { return m.roster, nil }
	cfg.Components = func() (*config.BootConfig, error) { return m.boot, nil }
	cfg.Verify = func(context.Context, config.Component) error { return nil }
	cfg.Log = zerolog.Nop()
	o, err := orchestrator.New(e.store, cfg)
	if err != nil {
		e.close()
		return nil, err
	}
	m.orch = o
	ctx, cancel := context.WithCancel(context.Background())
	if err := o.DeclareRungs(ctx); err != nil {
		cancel()
		e.close()
		return nil, err
	}
	var wg sync.WaitGroup
	for _, n := range ladder {
		a := agent(n)
		rt, err := agents.New(e.store, agents.Config{
			Name: n, Workers: 64, Heartbeat: time.Hour, Log: zerolog.Nop(),
			Load: func(context.Context) (razar.Agent, error) { return a, nil },
		})
		if err != nil {
			cancel()
			e.close()
			return nil, err
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = rt.Run(ctx) }()
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	if err := o.Resumed(ctx); err != nil {
		cancel()
		return nil, err
	}
	m.stop = func() { cancel(); <-done; wg.Wait(); e.close() }
	return m, nil
}

// incident opens an incident on component and waits for its end.
func (m *mesh) incident(ctx context.Context, component string) (*bus.IncidentRecord, error) {
	id, _, err := m.orch.Escalate(ctx, component, component+": down", "")
	if err != nil {
		return nil, err
	}
	return m.orch.Wait(ctx, id)
}

type handoverResult struct{ p50, p99, base50, base99 float64 }

// handover measures the attempts of n incidents through the real
// orchestrator and instant rungs (escalation stored, pulled, answered,
// routed, judged, stored), against a raw JetStream round trip of an
// escalation-sized payload (publish, durable pull, publish the reply,
// consume it) taken just before on the same server.
func handover(n int) (handoverResult, error) {
	var r handoverResult
	m, err := newMesh(1, "rstar", orchestrator.Config{Threshold: 4})
	if err != nil {
		return r, err
	}
	defer m.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The baseline first, on the same server, as many round trips as the
	// incidents will make attempts (one per rung).
	base, err := rawRoundTrips(m.conn.NATS(), n*len(ladder))
	if err != nil {
		return r, err
	}
	r.base50, r.base99 = percentile(base, 0.5), percentile(base, 0.99)
	var samples []time.Duration
	for i := 0; i < n; i++ {
		rec, err := m.incident(ctx, "c0")
		if err != nil {
			return r, err
		}
		if rec.State != razar.IncidentHealed {
			return r, fmt.Errorf("incident %s %s: %s", rec.ID, rec.State, rec.Reason)
		}
		for _, a := range rec.Attempts {
			samples = append(samples, a.Finished.Sub(a.Started))
		}
	}
	r.p50, r.p99 = percentile(samples, 0.5), percentile(samples, 0.99)
	return r, nil
}

// rawRoundTrips is the bus floor of one hand-over: a stored request
// pulled by a durable consumer, a stored reply read by an ordered one.
func rawRoundTrips(nc *nats.Conn, n int) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, err
	}
	st, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: natsjs.FileStorage})
	if err != nil {
		return nil, err
	}
	pull, err := st.CreateOrUpdateConsumer(ctx, natsjs.ConsumerConfig{Durable: "worker", FilterSubject: "bench.req", AckPolicy: natsjs.AckExplicitPolicy})
	if err != nil {
		return nil, err
	}
	replies, err := st.OrderedConsumer(ctx, natsjs.OrderedConsumerConfig{FilterSubjects: []string{"bench.rep"}, DeliverPolicy: natsjs.DeliverNewPolicy})
	if err != nil {
		return nil, err
	}
	it, err := replies.Messages()
	if err != nil {
		return nil, err
	}
	defer it.Stop()
	payload, _ := bus.Encode(&bus.Escalation{Incident: "inc-20261201-000000-abcdef", Component: "c0", Error: "c0: down", Attempt: 1, Rung: "crown", Pass: 1, Deadline: time.Now()})
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := js.Publish(ctx, "bench.req", payload); err != nil {
			return nil, err
		}
		batch, err := pull.Fetch(1, natsjs.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		for msg := range batch.Messages() {
			_ = msg.Ack()
			if _, err := js.Publish(ctx, "bench.rep", msg.Data()); err != nil {
				return nil, err
			}
		}
		if _, err := it.Next(); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	_ = js.DeleteStream(ctx, "BENCH")
	return out, nil
}

type historyResult struct{ early, late float64 }

// history measures one long incident (--long-task, every rung no_fix):
// the median attempt among attempts 3 to 7 against among 196 to 200.
func history(n int) (historyResult, error) {
	var r historyResult
	m, err := newMesh(1, "", orchestrator.Config{Threshold: 4, LongTask: true,
		Backoff: orchestrator.Backoff{Base: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		return r, err
	}
	defer m.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	id, _, err := m.orch.Escalate(ctx, "c0", "c0: down", "")
	if err != nil {
		return r, err
	}
	// The stored incident keeps the newest attempts: read the early ones
	// while they are there.
	pick := func(rec *bus.IncidentRecord, from, to int) []time.Duration {
		var d []time.Duration
		for _, a := range rec.Attempts {
			if a.Number >= from && a.Number <= to {
				d = append(d, a.Finished.Sub(a.Started))
			}
		}
		return d
	}
	var early, late []time.Duration
	for late == nil {
		rec, _, err := m.store.Incident(ctx, id)
		if err != nil {
			return r, err
		}
		if early == nil && rec.NextAttempt() > 10 {
			early = pick(rec, 3, 7)
		}
		if rec.NextAttempt() > n {
			late = pick(rec, n-4, n)
			break
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	_, _ = m.orch.Abort(ctx, "c0", "bench")
	if len(early) == 0 || len(late) == 0 {
		return r, fmt.Errorf("attempts 3-7 or %d-%d missing from the stored incident", n-4, n)
	}
	r.early, r.late = percentile(early, 0.5), percentile(late, 0.5)
	return r, nil
}

type throughputResult struct{ rate, floor float64 }

// throughput runs n concurrent incidents through the ladder (four no_fix,
// rStar fixes) and compares incidents per second with the bus floor: the
// raw async publish rate of the same server divided by the bus writes
// (stream messages and bucket updates) one incident needed.
func throughput(n int) (throughputResult, error) {
	var r throughputResult
	m, err := newMesh(n, "rstar", orchestrator.Config{Threshold: 4})
	if err != nil {
		return r, err
	}
	defer m.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	js, err := natsjs.New(m.conn.NATS())
	if err != nil {
		return r, err
	}
	writes := func() (uint64, error) {
		var total uint64
		for _, s := range []string{bus.StreamName, bus.ResultsStreamName, "KV_" + bus.KVBucket} {
			st, err := js.Stream(ctx, s)
			if err != nil {
				return 0, err
			}
			total += st.CachedInfo().State.LastSeq
		}
		return total, nil
	}
	// The baseline first: the server's async publish rate, just before the
	// incidents on the same server.
	pubRate, err := asyncPublishRate(js, 20000)
	if err != nil {
		return r, err
	}
	before, err := writes()
	if err != nil {
		return r, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := m.incident(ctx, fmt.Sprintf("c%d", i))
			if err == nil && rec.State != razar.IncidentHealed {
				err = fmt.Errorf("incident %s %s: %s", rec.ID, rec.State, rec.Reason)
			}
			errs <- err
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			return r, err
		}
	}
	after, err := writes()
	if err != nil {
		return r, err
	}
	perIncident := float64(after-before) / float64(n)
	r.rate = float64(n) / elapsed.Seconds()
	r.floor = pubRate / perIncident
	return r, nil
}

// asyncPublishRate is how many stored messages per second the server takes
// from async publishes of an audit-record-sized payload.
func asyncPublishRate(js natsjs.JetStream, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "BENCHPUB", Subjects: []string{"benchpub.>"}, Storage: natsjs.FileStorage}); err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.Background(), "BENCHPUB")
	payload := make([]byte, 512)
	start := time.Now()
	// In windows, so a slow server (a loaded CI machine) is waited for,
	// not overrun: the figure is what it takes, not how fast we can queue.
	const window = 512
	for i := 0; i < n; i++ {
		if _, err := js.PublishAsync("benchpub.x", payload); err != nil {
			return 0, err
		}
		if (i+1)%window == 0 || i == n-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
