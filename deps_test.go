package razar_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The layering of STYLE.md ("The house"), kept true by go list -deps
// (after tailscale's cmd/tailscaled/deps_test.go).

const (
	mod         = "github.com/razar/razar"
	pkgConfig   = mod + "/config"
	natsGo      = "github.com/nats-io/nats.go"
	natsGoJS    = "github.com/nats-io/nats.go/jetstream"
	natsServer  = "github.com/nats-io/nats-server"
	zerolog     = "github.com/rs/zerolog"
	pkgBus      = mod + "/bus"
	pkgJS       = mod + "/jetstream"
	pkgOrch     = mod + "/orchestrator"
	pkgAgents   = mod + "/agents"
	pkgSup      = mod + "/supervisor"
	pkgPatch    = mod + "/patch"
	pkgInternal = mod + "/internal"
	pkgAuth     = mod + "/auth"
	pkgChakra   = mod + "/chakra"
	promClient  = "github.com/prometheus/client_golang/prometheus"
	pkgMemory   = mod + "/memory"
	pkgFixmem   = mod + "/fixmem"
	pkgWS       = mod + "/workspace"
	pkgAlert    = mod + "/alert"
	pkgMirror   = mod + "/mirror"
	natsJWT     = "github.com/nats-io/jwt/v2"
	natsNkeys   = "github.com/nats-io/nkeys"
	agentsTree  = pkgAgents + "/..."
	natsSrvTree = natsServer + "/..."
)

// rungs are the rung packages; no rung imports another.
var rungs = []string{"crown", "kimicho", "k2", "airstar", "rstar"}

// depRule says what one package may depend on.
type depRule struct {
	pkg        string
	stdlibOnly bool     // no dependency outside the standard library
	allow      []string // if set, the only non-stdlib packages pkg itself may import
	forbid     []string // import paths; "x/..." means x and everything under it
	// via are packages pkg may import whose own dependencies are pinned by
	// their own rule: the walk does not go through them.
	via []string
}

// graph is an import graph: package -> its direct imports.
type graph map[string][]string

// matches reports whether path is pattern, or under it for "x/...".
func matches(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

// isStd reports whether path is a standard-library import path: no dot in
// its first element.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// violations walks g from r.pkg and returns one line per forbidden
// dependency, with the import chain that reaches it.
func (r depRule) violations(g graph) []string {
	var out []string
	for _, imp := range g[r.pkg] {
		if len(r.allow) > 0 && !isStd(imp) && !slices.Contains(r.allow, imp) {
			out = append(out, r.pkg+" imports "+imp+", which is not one of "+strings.Join(r.allow, ", "))
		}
	}
	parent := map[string]string{r.pkg: ""}
	queue := []string{r.pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != r.pkg {
			why := ""
			if r.stdlibOnly && !isStd(p) && !matches(r.pkg, p) {
				why = "outside the standard library"
			}
			for _, f := range r.forbid {
				if matches(f, p) {
					why = "forbidden (" + f + ")"
				}
			}
			if why != "" {
				chain := []string{p}
				for q := parent[p]; q != ""; q = parent[q] {
					chain = append(chain, q)
				}
				slices.Reverse(chain)
				out = append(out, p+" is "+why+": "+strings.Join(chain, " -> "))
			}
			if slices.Contains(r.via, p) {
				continue
			}
		}
		for _, imp := range g[p] {
			if _, seen := parent[imp]; !seen {
				parent[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return out
}

// goList runs the go command at the module root (where this file lives).
func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go command not found: %v", err)
	}
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// depGraph is the import graph of pkg and everything it depends on.
func depGraph(t *testing.T, pkg string) graph {
	t.Helper()
	out := goList(t, "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", pkg)
	g := graph{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			g[f[0]] = f[1:]
		}
	}
	if _, ok := g[pkg]; !ok {
		t.Fatalf("go list -deps %s did not list %s itself", pkg, pkg)
	}
	return g
}

func depRules(t *testing.T) []depRule {
	rules := []depRule{
		// The domain says what the words mean (Task, Fix, Attempt, the
		// Agent interface, the sentinels every layer matches on): every
		// package imports it, so it may import nothing of RAZAR's and no
		// module, or every layer would depend on everything.
		{pkg: mod, stdlibOnly: true},
		{
			// The wire contract is what a rung in any language reads: the
			// subjects, the payloads and the core NATS client that carries
			// them. Streams, consumers and KV are jetstream's alone (the
			// one importer of nats.go/jetstream and nats-server), so the
			// contract cannot come to depend on how the record is stored;
			// the orchestrator and the rungs sit above it, never below.
			// internal/cut is the one way text is shortened (bus.Clip is it).
			pkg:    pkgBus,
			allow:  []string{mod, pkgAuth, natsGo, zerolog, pkgInternal + "/cut"},
			forbid: []string{pkgJS + "/...", pkgOrch + "/...", agentsTree, natsGoJS + "/...", natsSrvTree},
			via:    []string{pkgAuth},
		},
		{
			// The identities and their permissions are signed data: keys,
			// JWTs and files, no connection. The server embeds them
			// (jetstream), the lifecycle server verifies them (bus).
			pkg:    pkgAuth,
			allow:  []string{natsJWT, natsNkeys, pkgInternal + "/homedir"},
			forbid: []string{natsGo + "/...", natsSrvTree, pkgBus + "/...", pkgJS + "/..."},
		},
		// JetStream is storage and the embedded server: the orchestrator
		// and the rungs use it, so it must not know either, or the record
		// of truth would depend on who writes it.
		{pkg: pkgJS, forbid: []string{pkgOrch + "/...", agentsTree}},
		{
			// The orchestrator reaches rungs only over the bus and the host
			// only through the Verify callback cmd wires: importing either
			// would let it call their internals again.
			// Alerts and the logs/ mirror are the host's, driven through
			// the Alerter interface the orchestrator defines: importing
			// them would make it the god package it was split from.
			pkg:    pkgOrch,
			forbid: []string{agentsTree, natsSrvTree, pkgSup + "/...", pkgAlert + "/...", pkgMirror + "/..."},
			// The orchestrator may use jetstream, the one package that embeds
			// nats-server; its subtest pins jetstream's own dependencies.
			via: []string{pkgJS},
		},
		{
			// The supervisor asks for repairs through the Escalator it
			// defines, so it must not import the orchestrator that satisfies
			// it, nor a rung, nor talk NATS itself: bus and jetstream hold
			// every subject and connection. It runs each component as its
			// "user" through internal/runas, the one place that resolves one,
			// and writes its state files through internal/homedir, the one
			// atomic writer.
			pkg: pkgSup,
			allow: []string{mod, pkgBus, pkgJS, zerolog, pkgInternal + "/backoff", pkgInternal + "/clock", pkgInternal + "/cut",
				pkgInternal + "/homedir", pkgInternal + "/logrot", pkgInternal + "/pgcmd", pkgInternal + "/probe", pkgInternal + "/proc", pkgInternal + "/runas"},
			forbid: []string{pkgOrch + "/...", agentsTree},
			via:    []string{pkgJS, pkgBus},
		},
		{
			// Alerts are a sink of the record: they publish on the bus,
			// audit on the stream and post to a webhook and Alertmanager.
			// The orchestrator and the supervisor drive them through
			// interfaces of their own, so alert must not import either (a
			// cycle), nor a rung, the patch engine or the log mirror.
			pkg:    pkgAlert,
			allow:  []string{mod, pkgBus, pkgJS, zerolog, pkgInternal + "/backoff", pkgInternal + "/homedir"},
			forbid: []string{pkgOrch + "/...", pkgSup + "/...", agentsTree, pkgPatch + "/...", pkgMirror + "/..."},
			via:    []string{pkgJS, pkgBus},
		},
		{
			// The log mirror only reads the audit stream and writes logs/:
			// nothing in RAZAR depends on its files, so it must not reach
			// the orchestrator, the supervisor, a rung, the patch engine or
			// the alerts, and it keeps its files whole through internal/jsonl,
			// the one writer an offline rollback shares with it.
			pkg: pkgMirror,
			allow: []string{mod, pkgBus, pkgJS, zerolog, pkgInternal + "/backoff", pkgInternal + "/clock",
				pkgInternal + "/homedir", pkgInternal + "/jsonl", pkgInternal + "/logrot"},
			forbid: []string{pkgOrch + "/...", pkgSup + "/...", agentsTree, pkgPatch + "/...", pkgAlert + "/..."},
			via:    []string{pkgJS, pkgBus},
		},
		{
			// The chakra service is pure bookkeeping of beats and a scrape:
			// the daemon subscribes and decodes the heartbeats and hands it
			// names, so it is tested with a fake clock and no bus, and it
			// cannot reach for a connection or the supervisor it observes.
			pkg:    pkgChakra,
			allow:  []string{mod, pkgInternal + "/clock", promClient, promClient + "/promhttp"},
			forbid: []string{pkgBus + "/...", pkgJS + "/...", pkgOrch + "/...", pkgSup + "/...", agentsTree, natsGo + "/...", natsServer + "/..."},
		},
		{
			// The patch engine works on files alone: it is fuzzed and reused
			// offline (rollback-patch with RAZAR stopped), so no bus, no
			// store, no orchestrator.
			pkg:    pkgPatch,
			forbid: []string{pkgBus + "/...", pkgJS + "/...", pkgOrch + "/...", pkgSup + "/...", agentsTree, natsGo + "/...", natsServer + "/..."},
		},
		{
			// The workspace is the gate between a component's files and a
			// model: files in, redacted text out. It answers the tools but
			// never talks on the bus itself (the orchestrator does), so it
			// is tested on files alone and cannot reach a connection, a
			// store or the patch engine.
			pkg:    pkgWS,
			allow:  []string{mod, pkgInternal + "/logrot"},
			forbid: []string{pkgBus + "/...", pkgJS + "/...", pkgOrch + "/...", pkgSup + "/...", agentsTree, pkgPatch + "/...", natsGo + "/...", natsServer + "/..."},
		},
		{
			// The memory bundle checks and audits RAZAR's stores through
			// jetstream's methods and probes configured layers like health
			// checks; it is used by `razar boot` and by the CLI (offline
			// too), so it must not pull in the orchestrator, the supervisor
			// or a rung, nor talk NATS itself.
			pkg:    pkgMemory,
			allow:  []string{mod, pkgBus, pkgJS, zerolog, pkgInternal + "/cut", pkgInternal + "/homedir", pkgInternal + "/probe"},
			forbid: []string{pkgOrch + "/...", pkgSup + "/...", agentsTree, pkgPatch + "/..."},
			via:    []string{pkgJS, pkgBus},
		},
		{
			// The fix memory is signatures and a fold of audit records:
			// pure bookkeeping, tested without a bus. Trying a fix is the
			// orchestrator's, through the patch pipeline, so no store, no
			// patch engine, no orchestrator here.
			pkg:    pkgFixmem,
			allow:  []string{mod, pkgBus},
			forbid: []string{pkgJS + "/...", pkgOrch + "/...", pkgSup + "/...", agentsTree, pkgPatch + "/...", natsGo + "/...", natsServer + "/..."},
			via:    []string{pkgBus},
		},
		{
			// The status page's views read the record of truth through the
			// Source interface the store satisfies and render it: no
			// connection, no store, no orchestrator, so a view is only
			// ever a reading, and it can leave cmd (issue 21) as it is.
			pkg:    mod + "/statuspage",
			allow:  []string{mod, pkgBus, pkgInternal + "/cut", pkgInternal + "/tailfile"},
			forbid: []string{pkgJS + "/...", pkgOrch + "/...", pkgSup + "/...", agentsTree, pkgPatch + "/...", natsGo + "/...", natsServer + "/..."},
			via:    []string{pkgBus},
		},
		{
			// The host is the daemon's life: it wires every layer below cmd
			// and may import any of them, but never cmd, which fills its
			// Config: an import back would put decisions in cmd again.
			pkg:    mod + "/host",
			forbid: []string{mod + "/cmd/..."},
		},
		{
			// The host's scrape-time series read the supervisor and the
			// orchestrator through the Source interface hostmetrics
			// defines, so the collector is tested without either running;
			// only the orchestrator's exported Metrics (for ZeroSeries) is
			// imported, never the supervisor, a rung, a store or NATS.
			pkg:    mod + "/hostmetrics",
			allow:  []string{pkgBus, pkgOrch, promClient},
			forbid: []string{pkgSup + "/...", agentsTree, mod + "/host", mod + "/cmd/...", natsGo + "/...", natsServer + "/..."},
			via:    []string{pkgBus, pkgOrch, promClient},
		},
		{
			// Key rotation is the agents side's: its verbs and workflow
			// speak the bus and auth's approvals and read the rungs'
			// roster, never the orchestrator or the supervisor that run
			// beside them, nor the host that registers the verbs.
			pkg:    pkgAgents + "/rotation",
			allow:  []string{mod, pkgAgents, pkgAuth, pkgBus, pkgJS, zerolog, pkgInternal + "/cut", pkgInternal + "/homedir"},
			forbid: []string{pkgOrch + "/...", pkgSup + "/...", mod + "/host", mod + "/cmd/..."},
			via:    []string{pkgAgents, pkgAuth, pkgBus, pkgJS},
		},
		{
			// Monitoring verification is an HTTP client of /metrics and
			// nothing else: `razar verify-monitoring` runs it with RAZAR
			// stopped, so it reaches for no bus, no store and no layer that
			// runs, and reads a scrape with the Prometheus libraries alone.
			pkg: mod + "/monitoring",
			allow: []string{mod, pkgInternal + "/cut", "github.com/prometheus/client_model/go",
				"github.com/prometheus/common/expfmt", "github.com/prometheus/common/model"},
			forbid: []string{pkgBus + "/...", pkgJS + "/...", pkgOrch + "/...", pkgSup + "/...", agentsTree, pkgPatch + "/...", natsGo + "/...", natsServer + "/..."},
		},
		{
			// ctl is the operator's client: it reaches a running RAZAR only
			// over the bus (bus, jetstream's client side, auth) and, with
			// RAZAR stopped, the home's files through the offline verbs the
			// orchestrator and the supervisor export (rollback-patch,
			// release); rotate-keys prints agents/rotation's workflow. Its own imports are pinned, and it must never pull
			// in the daemon (host), a rung or cmd: a client that ran RAZAR's
			// machinery could act where only the daemon may, and it must
			// not talk NATS past bus and jetstream.
			pkg: mod + "/ctl",
			allow: []string{mod, pkgAgents, pkgAgents + "/rotation", pkgAuth, pkgBus, pkgFixmem, pkgInternal + "/cut", pkgInternal + "/logrot", pkgInternal + "/tailfile", pkgJS, pkgMemory, pkgOrch,
				pkgPatch, mod + "/statuspage", pkgSup, zerolog},
			forbid: []string{mod + "/host/...", mod + "/hostmetrics/...", mod + "/cmd/...", natsGo + "/...", natsServer + "/...",
				pkgAgents + "/crown/...", pkgAgents + "/kimicho/...", pkgAgents + "/k2/...", pkgAgents + "/airstar/...", pkgAgents + "/rstar/..."},
			via: []string{pkgAgents, pkgAgents + "/rotation", pkgAuth, pkgBus, pkgFixmem, pkgJS, pkgMemory, pkgOrch, pkgPatch, mod + "/statuspage", pkgSup},
		},
	}
	// Every package under internal/ is a leaf mechanism (a clock, a backoff,
	// a process identity): importing RAZAR's layers would make it a cycle
	// waiting to happen.
	for _, p := range strings.Fields(string(goList(t, "./internal/..."))) {
		rules = append(rules, depRule{pkg: p, forbid: []string{pkgBus + "/...", pkgJS + "/...", pkgOrch + "/...", pkgSup + "/...", agentsTree, pkgPatch + "/...", natsGo + "/...", natsServer + "/..."}})
	}
	// clihelp is how the CLI's cobra tree reads (help, flag errors,
	// did-you-mean): presentation only, so it takes cobra, pflag and
	// config's edit distance and nothing that runs, and cmd/razar keeps
	// every command's wording and wiring.
	rules = append(rules, depRule{pkg: pkgInternal + "/clihelp", allow: []string{pkgConfig, "github.com/spf13/cobra", "github.com/spf13/pflag"}})
	// The stand-in model plays a remote model: it must know nothing of
	// RAZAR but the chat-completions API, so no RAZAR type can hand it
	// what a real model would not be sent.
	rules = append(rules, depRule{pkg: pkgInternal + "/standin", stdlibOnly: true})
	// Every package under agents/, so a new one is covered the day it
	// appears. A rung answers escalations it takes from the bus: importing
	// the orchestrator or the supervisor would let it judge its own patch
	// or restart what it repairs, and one rung importing another would tie
	// two repairers the ladder keeps apart.
	listed := strings.Fields(string(goList(t, "./agents/...")))
	for _, r := range rungs {
		if !slices.Contains(listed, pkgAgents+"/"+r) {
			t.Errorf("rung package %s/%s is missing from go list ./agents/...", pkgAgents, r)
		}
	}
	for _, p := range listed {
		rule := depRule{pkg: p, forbid: []string{pkgOrch + "/...", pkgSup + "/..."}}
		// A rung (and anything under it) must not import another rung.
		self, _, _ := strings.Cut(strings.TrimPrefix(p, pkgAgents+"/"), "/")
		if p != pkgAgents && slices.Contains(rungs, self) {
			for _, r := range rungs {
				if r != self {
					rule.forbid = append(rule.forbid, pkgAgents+"/"+r+"/...")
				}
			}
		}
		rules = append(rules, rule)
	}
	// config reads the operator's files and says what is wrong in them:
	// bytes in, values or a *razar.ConfigError out. Nearly every package
	// imports it, so anything it pulled in (a connection, a store, a
	// process) would reach them all, and its parsers are fuzzed on bytes
	// alone.
	rules = append(rules, depRule{
		pkg:    pkgConfig,
		allow:  []string{mod},
		forbid: []string{pkgBus + "/...", pkgJS + "/...", pkgOrch + "/...", pkgSup + "/...", agentsTree, pkgPatch + "/...", pkgWS + "/...", pkgInternal + "/...", natsGo + "/...", natsServer + "/..."},
	})
	// config is the domain's parsing and imports nothing but the domain,
	// so a package allowed the domain may read the operator's files too:
	// the boot config's Component, the roster's AgentEntry.
	for i, r := range rules {
		if slices.Contains(r.allow, mod) && r.pkg != pkgConfig && !slices.Contains(r.allow, pkgConfig) {
			rules[i].allow = append(r.allow, pkgConfig)
		}
	}
	return rules
}

func TestDeps(t *testing.T) {
	for _, r := range depRules(t) {
		name := strings.TrimPrefix(r.pkg, mod+"/")
		if r.pkg == mod {
			name = "razar"
		}
		t.Run(name, func(t *testing.T) {
			for _, v := range r.violations(depGraph(t, r.pkg)) {
				t.Error(v)
			}
		})
	}
}

// TestDepRuleCatches runs the rules on made-up graphs, so TestDeps is known
// to fail when the layering breaks.
func TestDepRuleCatches(t *testing.T) {
	orch := depRule{pkg: pkgOrch, forbid: []string{agentsTree, natsSrvTree}, via: []string{pkgJS}}
	bus := depRule{pkg: pkgBus, allow: []string{mod, natsGo, zerolog}, forbid: []string{natsGoJS + "/..."}}
	sup := depRule{pkg: pkgSup, allow: []string{mod, pkgBus, pkgJS}, forbid: []string{pkgOrch + "/..."}, via: []string{pkgJS, pkgBus}}
	tests := []struct {
		name string
		rule depRule
		g    graph
		want int // violations
	}{
		{"stdlib only", depRule{pkg: mod, stdlibOnly: true}, graph{mod: {"fmt", "encoding/json"}}, 0},
		{"stdlib only breached", depRule{pkg: mod, stdlibOnly: true}, graph{mod: {"fmt", zerolog}}, 1},
		{"stdlib only breached deep", depRule{pkg: mod, stdlibOnly: true}, graph{mod: {"fmt"}, "fmt": {"golang.org/x/sys/unix"}}, 1},
		{"nats-server through jetstream", orch, graph{pkgOrch: {pkgJS, mod}, pkgJS: {natsServer + "/v2/server"}}, 0},
		{"nats-server directly", orch, graph{pkgOrch: {natsServer + "/v2/server"}}, 1},
		{"nats-server through another package", orch, graph{pkgOrch: {mod + "/x"}, mod + "/x": {natsServer + "/v2/server"}}, 1},
		{"rung", orch, graph{pkgOrch: {pkgAgents + "/k2"}, pkgAgents + "/k2": {pkgAgents}}, 2},
		{"bus allowed", bus, graph{pkgBus: {mod, natsGo, zerolog, "fmt"}, natsGo: {"github.com/nats-io/nkeys"}}, 0},
		{"bus extra import", bus, graph{pkgBus: {mod, "github.com/prometheus/client_golang/prometheus"}}, 1},
		{"bus jetstream API", bus, graph{pkgBus: {natsGo}, natsGo: {natsGoJS}}, 1},
		{"supervisor through jetstream", sup, graph{pkgSup: {pkgJS, mod}, pkgJS: {natsGo, natsServer + "/v2/server"}}, 0},
		{"supervisor imports nats.go", sup, graph{pkgSup: {natsGo}}, 1},
		{"supervisor imports the orchestrator", sup, graph{pkgSup: {pkgOrch}}, 2},
	}
	for _, tt := range tests {
		if got := tt.rule.violations(tt.g); len(got) != tt.want {
			t.Errorf("%s: %d violations, want %d: %q", tt.name, len(got), tt.want, got)
		}
	}
	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{agentsTree, pkgAgents, true},
		{agentsTree, pkgAgents + "/k2", true},
		{agentsTree, mod + "/agentsx", false},
		{natsSrvTree, natsServer + "/v2/server", true},
		{natsGoJS + "/...", natsGo, false},
		{pkgJS, pkgJS + "/bustest", false},
	} {
		if got := matches(tt.pattern, tt.path); got != tt.want {
			t.Errorf("matches(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

// natsImporters are the packages whose own imports may name nats.go.
// bench measures RAZAR against raw JetStream round trips, its baselines.
func natsImporter(pkg string) bool {
	return matches(pkgBus, pkg) || matches(pkgJS+"/...", pkg) || pkg == mod+"/bench"
}

// TestNoRawConnOutsideTheBus: nats.go is imported by bus/ and jetstream/
// alone (and their tests), and no other package reaches for the raw
// connection behind bus.Conn: every subject, permission and connection
// option stays where the contract is kept.
func TestNoRawConnOutsideTheBus(t *testing.T) {
	out := goList(t, "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...")
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 || natsImporter(f[0]) {
			continue
		}
		for _, imp := range f[1:] {
			if matches(natsGo+"/...", imp) {
				t.Errorf("%s imports %s: talk to the bus through package bus (bus.Conn) or jetstream", f[0], imp)
			}
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	files := goList(t, "-f", "{{.Dir}}{{range .GoFiles}} {{.}}{{end}}", "./...")
	for line := range strings.Lines(string(files)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		rel, err := filepath.Rel(wd, f[0])
		if err != nil {
			t.Fatal(err)
		}
		if rel == "bus" || rel == "jetstream" || rel == "bench" || strings.HasPrefix(rel, "jetstream"+string(filepath.Separator)) {
			continue
		}
		for _, name := range f[1:] {
			b, err := os.ReadFile(filepath.Join(f[0], name))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(".NATS()")) {
				t.Errorf("%s calls bus.Conn.NATS(): only package jetstream may hold the raw connection", filepath.Join(rel, name))
			}
		}
	}
}
