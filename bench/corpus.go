package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/agents"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/standin"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/patch"
)

// The failure corpus (examples/corpus) run through RAZAR's ladder: each
// case in a fresh home of its own, `razar boot --once` on it with repair
// rungs that are openai backends, then what the record says: healed or
// not, the attempts, the bytes shown, the tokens, the tool calls, and where
// the time to heal went.

// corpusOpts says how to run the corpus.
type corpusOpts struct {
	Dir   string // examples/corpus
	Razar string // the razar binary; built from ./cmd/razar when empty
	// Endpoint, Model and Key name a real OpenAI-compatible model; with
	// Endpoint empty the stand-in (internal/standin) serves the rungs.
	Endpoint, Model, Key string
	// Tools offers the rungs RAZAR's tools; without, max_turns -1: the
	// workspace-only prompt.
	Tools bool
	// Sloppy makes the stand-in write hunk headers without line numbers.
	Sloppy bool
	// Only runs these cases (all when empty).
	Only []string
	// Timeout bounds one case's boot.
	Timeout time.Duration
}

// caseResult is one case's outcome, as the record tells it.
type caseResult struct {
	Case      string   `json:"case"`
	Component string   `json:"component"`
	Healed    bool     `json:"healed"`
	Skipped   string   `json:"skipped,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Attempts  int      `json:"attempts"` // model rungs' attempts
	Bytes     int      `json:"bytes"`    // file bytes shown to the rungs
	Prompt    int      `json:"prompt_tokens"`
	Complete  int      `json:"completion_tokens"`
	ToolCalls int      `json:"tool_calls"`
	Requests  int      `json:"requests"`      // chat completions the model served
	Sent      int      `json:"request_bytes"` // the bodies RAZAR sent the model
	Placement []string `json:"placement,omitempty"`
	// The time to heal, broken down (milliseconds): from the boot's
	// start to the incident's opening (start grace, local restarts);
	// RAZAR handing each attempt over (opened or the previous attempt's
	// end to the rung being shown its workspace); the model's own time
	// (its HTTP answers); the rest of the rungs' time up to their
	// patch record (the rung's runtime, RAZAR's tool answers, placing the
	// diff in a stage and validating it); promotion, restart and probe.
	// Place is the placement and validation alone: the healing diff
	// replayed through the patch engine on a fresh copy of the broken
	// workdir (Check, Stage, Validate), part of Placement2.
	Detection, Handover, Model, Placement2, Place, Restart, Total float64
	diff                                                          string
}

// razarShare is RAZAR's own share of a heal: the hand-over and the
// placement and validation, against the whole time from the incident's
// opening to its healing.
func (r caseResult) razarShare() float64 {
	whole := r.Handover + r.Model + r.Placement2 + r.Restart
	if whole <= 0 {
		return 0
	}
	return (r.Handover + r.Placement2) / whole
}

// corpusCases reads the corpus's boot_config.json: each component, keyed
// by its case (the first part of its workdir).
func corpusCases(dir string) ([]string, map[string]json.RawMessage, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config", "boot_config.json"))
	if err != nil {
		return nil, nil, err
	}
	var cfg struct {
		Components []json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, nil, fmt.Errorf("%s/config/boot_config.json: %w", dir, err)
	}
	var names []string
	byCase := map[string]json.RawMessage{}
	for _, c := range cfg.Components {
		var comp struct {
			Workdir string `json:"workdir"`
		}
		if err := json.Unmarshal(c, &comp); err != nil {
			return nil, nil, err
		}
		name, _, _ := strings.Cut(comp.Workdir, "/")
		names = append(names, name)
		byCase[name] = c
	}
	return names, byCase, nil
}

// runCorpus runs the corpus's cases one after another.
func runCorpus(ctx context.Context, o corpusOpts, progress io.Writer) ([]caseResult, error) {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	names, byCase, err := corpusCases(o.Dir)
	if err != nil {
		return nil, err
	}
	if len(o.Only) > 0 {
		for _, n := range o.Only {
			if byCase[n] == nil {
				return nil, fmt.Errorf("corpus case %q: not in %s/config/boot_config.json (cases: %s)", n, o.Dir, strings.Join(names, ", "))
			}
		}
		names = o.Only
	}
	tmp, err := os.MkdirTemp("", "razar-corpus-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if o.Razar == "" {
		if o.Razar, err = buildRazar(tmp); err != nil {
			return nil, err
		}
	}
	model, err := newModelTap(o)
	if err != nil {
		return nil, err
	}
	defer model.close()
	var out []caseResult
	for _, name := range names {
		r, err := runCase(ctx, o, model, filepath.Join(tmp, name), name, byCase[name])
		if err != nil {
			return out, fmt.Errorf("corpus case %s: %w", name, err)
		}
		if progress != nil {
			state := "healed"
			switch {
			case r.Skipped != "":
				state = "skipped: " + r.Skipped
			case !r.Healed:
				state = "not healed: " + r.Reason
			}
			fmt.Fprintf(progress, "  %-14s %s\n", name, state)
		}
		out = append(out, r)
	}
	return out, nil
}

// buildRazar builds ./cmd/razar into dir.
func buildRazar(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "razar")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/razar")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/razar: %v\n%s", err, out)
	}
	return bin, nil
}

func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("no go.mod above the working directory: run from the repository")
		}
		d = p
	}
}

// modelTap serves the rungs' endpoint on loopback: the stand-in, or a
// proxy to a real endpoint. It counts the requests, their bytes and the
// time the model took to answer.
type modelTap struct {
	srv  *httptest.Server
	key  string
	mu   sync.Mutex
	reqs int
	sent int
	took time.Duration
}

func newModelTap(o corpusOpts) (*modelTap, error) {
	t := &modelTap{key: o.Key}
	var h http.Handler
	if o.Endpoint == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		t.key = "standin-" + hex.EncodeToString(b)
		h = standin.New(standin.Config{Sloppy: o.Sloppy, Key: t.key})
	} else {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("-endpoint %q: not a URL (want e.g. http://127.0.0.1:8080/v1)", o.Endpoint)
		}
		p := httputil.NewSingleHostReverseProxy(u)
		base := strings.TrimSuffix(u.Path, "/")
		d := p.Director
		p.Director = func(r *http.Request) {
			// RAZAR asks the tap for <tap>/v1/chat/completions; the
			// endpoint's own base path replaces /v1.
			r.URL.Path = strings.TrimPrefix(r.URL.Path, "/v1")
			d(r)
			r.URL.Path = base + strings.TrimPrefix(r.URL.Path, base)
			r.Host = u.Host
		}
		h = p
	}
	t.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		start := time.Now()
		h.ServeHTTP(w, r)
		t.mu.Lock()
		t.reqs++
		t.sent += len(body)
		t.took += time.Since(start)
		t.mu.Unlock()
	}))
	return t, nil
}

func (t *modelTap) close() { t.srv.Close() }

// take returns the counts since the last take and resets them.
func (t *modelTap) take() (reqs, sent int, took time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	reqs, sent, took = t.reqs, t.sent, t.took
	t.reqs, t.sent, t.took = 0, 0, 0
	return
}

// corpusRoster: Crown (builtin) first, as in any roster, then two openai
// rungs on the endpoint; with tools they may call RAZAR's tools, without
// they get the workspace-only prompt (max_turns -1).
func corpusRoster(model string, tools bool) []byte {
	turns := 0
	if !tools {
		turns = -1
	}
	rung := func(name string) map[string]any {
		r := map[string]any{"name": name, "backend": "openai", "endpoint": "${RAZAR_CORPUS_ENDPOINT}", "model": model,
			"auth": map[string]any{"type": "bearer", "token": "${RAZAR_CORPUS_KEY}"}, "timeout": "60s"}
		if turns != 0 {
			r["max_turns"] = turns
		}
		return r
	}
	b, _ := json.MarshalIndent(map[string]any{"agents": []any{
		map[string]any{"name": "crown", "backend": "builtin"}, rung("k2"), rung("airstar"),
	}}, "", "  ")
	return append(b, '\n')
}

// runCase boots one case in a fresh home and reads its record.
func runCase(ctx context.Context, o corpusOpts, model *modelTap, home, name string, comp json.RawMessage) (caseResult, error) {
	var c struct {
		Name    string `json:"name"`
		Workdir string `json:"workdir"`
	}
	_ = json.Unmarshal(comp, &c)
	r := caseResult{Case: name, Component: c.Name}
	src := filepath.Join(o.Dir, name)
	if needs := interpreterMissing(src); needs != "" {
		r.Skipped = needs + " is not installed"
		return r, nil
	}
	if err := copyDir(src, filepath.Join(home, name)); err != nil {
		return r, err
	}
	cfg := []byte(`{"components": [` + string(comp) + "]}\n")
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o755); err != nil {
		return r, err
	}
	if err := os.WriteFile(filepath.Join(home, "config", "boot_config.json"), cfg, 0o644); err != nil {
		return r, err
	}
	m := o.Model
	if m == "" {
		m = "standin"
	}
	if err := os.WriteFile(filepath.Join(home, "config", "razar_ai_agents.json"), corpusRoster(m, o.Tools), 0o644); err != nil {
		return r, err
	}
	env := append(os.Environ(), "RAZAR_METRICS_PORT=0", "RAZAR_CHAKRA_PORT=0", "RAZAR_CORPUS_ENDPOINT="+model.srv.URL+"/v1", "RAZAR_CORPUS_KEY="+model.key)
	bctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	model.take()
	boot := exec.CommandContext(bctx, o.Razar, "--home", home, "boot", "--once", "--retries", "1", "--nats-listen", "127.0.0.1:0")
	boot.Env = env
	var log bytes.Buffer
	boot.Stdout, boot.Stderr = &log, &log
	bootErr := boot.Run()
	reqs, sent, took := model.take()
	r.Requests, r.Sent, r.Model = reqs, sent, ms(took)
	audit := exec.CommandContext(ctx, o.Razar, "--home", home, "audit", "--json")
	audit.Env = env
	js, err := audit.Output()
	if err != nil {
		return r, fmt.Errorf("razar audit --json: %v (boot: %v)\n%s", err, bootErr, tail(log.String(), 2000))
	}
	if err := readRecord(&r, js); err != nil {
		return r, err
	}
	if !r.Healed && r.Reason == "" {
		r.Reason = fmt.Sprintf("boot: %v; %s", bootErr, tail(log.String(), 300))
	}
	if r.Healed && r.diff != "" {
		var v struct {
			Validate []string `json:"validate"`
		}
		_ = json.Unmarshal(comp, &v)
		d, err := replay(ctx, r.diff, filepath.Join(src, "workdir"), filepath.Join(home, "replay"), v.Validate)
		if err != nil {
			return r, fmt.Errorf("replaying the healing diff: %w", err)
		}
		r.Place = min(ms(d), r.Placement2)
	}
	return r, nil
}

// replay times the patch engine on diff: placed and checked against a
// fresh copy of the broken workdir, staged, and validated.
func replay(ctx context.Context, diff, workdir, tmp string, validate []string) (time.Duration, error) {
	dir := filepath.Join(tmp, "workdir")
	if err := copyDir(workdir, dir); err != nil {
		return 0, err
	}
	staging := filepath.Join(tmp, "staging")
	if err := os.MkdirAll(staging, 0o700); err != nil {
		return 0, err
	}
	start := time.Now()
	plan, err := patch.Check(diff, dir, patch.Limits{})
	if err != nil {
		return 0, err
	}
	stage, cleanup, err := patch.Stage(plan, dir, staging)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	if len(validate) > 0 {
		if out, err := patch.Validate(ctx, validate, stage, nil, time.Minute); err != nil {
			return 0, fmt.Errorf("%v: %s", err, out)
		}
	}
	return time.Since(start), nil
}

// record is what the corpus reads of an audit record.
type record struct {
	Event     string   `json:"event"`
	Agent     string   `json:"agent"`
	Incident  string   `json:"incident"`
	Attempt   int      `json:"attempt"`
	Outcome   string   `json:"outcome"`
	Reason    string   `json:"reason"`
	Bytes     int      `json:"bytes"`
	Placement []string `json:"placement"`
	Diff      string   `json:"diff"`
	Usage     *struct {
		Prompt     int `json:"prompt_tokens"`
		Completion int `json:"completion_tokens"`
	} `json:"usage"`
	Timestamp float64 `json:"timestamp"`
}

// readRecord fills r from the audit stream's records, one JSON a line.
func readRecord(r *caseResult, js []byte) error {
	var recs []record
	sc := bufio.NewScanner(bytes.NewReader(js))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("razar audit --json: %v", err)
		}
		recs = append(recs, rec)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Timestamp < recs[j].Timestamp })
	var start, opened, mark, healed float64
	shown := map[int]float64{}
	for _, rec := range recs {
		if start == 0 && rec.Event == "handshake" {
			start = rec.Timestamp
		}
		model := rec.Agent != "" && rec.Agent != "crown" && rec.Agent != "memory"
		switch rec.Event {
		case "opened":
			if opened == 0 {
				opened, mark = rec.Timestamp, rec.Timestamp
			}
		case "shown":
			shown[rec.Attempt] = rec.Timestamp
			if model {
				r.Bytes += rec.Bytes
			}
			r.Handover += 1000 * (rec.Timestamp - mark)
		case "context":
			r.ToolCalls++
		case "patch", "rejected":
			if t, ok := shown[rec.Attempt]; ok && model {
				r.Placement2 += 1000 * (rec.Timestamp - t)
				delete(shown, rec.Attempt)
				mark = rec.Timestamp
			}
			r.Placement = append(r.Placement, rec.Placement...)
		case "attempt":
			if model {
				r.Attempts++
			}
			if rec.Usage != nil {
				r.Prompt += rec.Usage.Prompt
				r.Complete += rec.Usage.Completion
			}
			if rec.Outcome == "healed" {
				r.diff = rec.Diff
			}
			if t, ok := shown[rec.Attempt]; ok {
				// No patch: the attempt's whole time was the rung's.
				if model {
					r.Placement2 += 1000 * (rec.Timestamp - t)
				}
				delete(shown, rec.Attempt)
			} else if rec.Outcome == "healed" {
				r.Restart += 1000 * (rec.Timestamp - mark)
			}
			mark = rec.Timestamp
		case "healed":
			r.Healed, healed = true, rec.Timestamp
		case "failed":
			r.Reason = rec.Reason
		}
	}
	if start > 0 && opened > 0 {
		r.Detection = 1000 * (opened - start)
	}
	if healed > 0 {
		r.Total = 1000 * (healed - opened)
	}
	// The model's own time was inside the rungs' time: the rest of it is
	// RAZAR's (the runtime, the tools, placement and validation).
	r.Placement2 = max(0, r.Placement2-r.Model)
	return nil
}

// interpreterMissing names an interpreter a case's files run that is not
// on PATH.
func interpreterMissing(dir string) string {
	missing := ""
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || missing != "" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, in := range []string{"python3"} {
			if bytes.Contains(b, []byte(in)) {
				if _, err := exec.LookPath(in); err != nil {
					missing = in
				}
			}
		}
		return nil
	})
	return missing
}

// copyDir copies a case's tree with its files' modes.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// corpusSummary is the corpus's figures for one way of running it.
type corpusSummary struct {
	Mode       string       `json:"mode"`
	Cases      int          `json:"cases"`
	Skipped    int          `json:"skipped"`
	Healed     int          `json:"healed"`
	HealRate   float64      `json:"heal_rate"`
	Attempts   float64      `json:"attempts_per_heal"`
	Bytes      float64      `json:"bytes_shown_per_heal"`
	Tokens     float64      `json:"tokens_per_heal"`
	ToolCalls  float64      `json:"tool_calls_per_heal"`
	RazarShare float64      `json:"razar_share"`
	Phases     [6]float64   `json:"phases_ms"` // mean per heal: detection, hand-over, the model, the rung's runtime and tool answers, placement and validation, restart and probe
	Results    []caseResult `json:"results"`
}

func summarize(mode string, rs []caseResult) corpusSummary {
	s := corpusSummary{Mode: mode, Results: rs}
	var share float64
	for _, r := range rs {
		if r.Skipped != "" {
			s.Skipped++
			continue
		}
		s.Cases++
		if !r.Healed {
			continue
		}
		s.Healed++
		s.Attempts += float64(r.Attempts)
		s.Bytes += float64(r.Bytes)
		s.Tokens += float64(r.Prompt + r.Complete)
		s.ToolCalls += float64(r.ToolCalls)
		share += r.razarShare()
		for i, v := range []float64{r.Detection, r.Handover, r.Model, r.Placement2 - r.Place, r.Place, r.Restart} {
			s.Phases[i] += v
		}
	}
	if s.Cases > 0 {
		s.HealRate = float64(s.Healed) / float64(s.Cases)
	}
	if h := float64(s.Healed); h > 0 {
		s.Attempts, s.Bytes, s.Tokens, s.ToolCalls, s.RazarShare = s.Attempts/h, s.Bytes/h, s.Tokens/h, s.ToolCalls/h, share/h
		for i := range s.Phases {
			s.Phases[i] /= h
		}
	}
	return s
}

// printCorpus writes the table a person reads.
func printCorpus(w io.Writer, ss []corpusSummary) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\thealed\tattempts/heal\tbytes shown/heal\ttokens/heal\ttool calls/heal\tRAZAR's share of time to heal")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%d/%d (%.0f%%)\t%.2f\t%.0f\t%.0f\t%.1f\t%.2f\n", s.Mode, s.Healed, s.Cases, 100*s.HealRate, s.Attempts, s.Bytes, s.Tokens, s.ToolCalls, s.RazarShare)
	}
	tw.Flush()
	fmt.Fprintln(w, "time to heal, mean per heal (ms): detection, hand-over, the model, the rung's runtime and RAZAR's tool answers, placement and validation, promotion, restart and probe")
	for _, s := range ss {
		fmt.Fprintf(w, "  %s: %.0f, %.0f, %.0f, %.0f, %.0f, %.0f\n", s.Mode, s.Phases[0], s.Phases[1], s.Phases[2], s.Phases[3], s.Phases[4], s.Phases[5])
	}
	for _, s := range ss {
		for _, r := range s.Results {
			if r.Skipped == "" && !r.Healed {
				fmt.Fprintf(w, "  %s: %s not healed: %s\n", s.Mode, r.Case, tail(r.Reason, 200))
			}
		}
	}
}

// corpusBench runs the corpus with tools and without, prints the table
// and writes both summaries to out.
func corpusBench(ctx context.Context, out string, o corpusOpts, w io.Writer) error {
	var ss []corpusSummary
	for _, tools := range []bool{true, false} {
		o.Tools = tools
		mode := "tools"
		if !tools {
			mode = "workspace only"
		}
		fmt.Fprintf(w, "corpus, %s:\n", mode)
		rs, err := runCorpus(ctx, o, w)
		if err != nil {
			return err
		}
		ss = append(ss, summarize(mode, rs))
	}
	printCorpus(w, ss)
	hist, err := promptHistory([]int{1, 2, 5, 10, 20, 40, 80})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "one incident's request to the model against its history (workspace-only prompt): attempt, request bytes, prompt tokens")
	for _, p := range hist {
		fmt.Fprintf(w, "  %3d  %7d  %6d\n", p.Attempt, p.Bytes, p.Prompt)
	}
	b, err := json.MarshalIndent(map[string]any{"corpus": ss, "history": hist}, "", "  ")
	if err != nil {
		return err
	}
	return homedir.WriteAtomic(out, append(b, '\n'), 0o644)
}

// historyPoint is what one attempt's request to the model weighed.
type historyPoint struct {
	Attempt int `json:"attempt"`
	Bytes   int `json:"request_bytes"`
	Prompt  int `json:"prompt_tokens"`
}

// promptHistory runs one long incident (every attempt's diff rejected)
// whose rungs are the openai backend on the stand-in without tools, and
// returns the request's size and prompt tokens at the given attempts:
// the history RAZAR sends grows with the incident, by one line per
// earlier attempt once the newest are sent in full.
func promptHistory(at []int) ([]historyPoint, error) {
	last := at[len(at)-1]
	var mu sync.Mutex
	var bodyBytes int
	model := standin.New(standin.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodyBytes = len(b)
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		model.ServeHTTP(w, r)
	}))
	defer srv.Close()
	o, err := agents.NewOpenAI(agents.OpenAIConfig{Name: "k2", Endpoint: srv.URL + "/v1", Model: "standin", MaxTurns: -1})
	if err != nil {
		return nil, err
	}
	want := map[int]bool{}
	for _, n := range at {
		want[n] = true
	}
	var pts []historyPoint
	// A diff of a file the workdir lacks, with lines to remove: rejected,
	// and kept in the history with its reason.
	var diff strings.Builder
	diff.WriteString("--- a/missing.conf\n+++ b/missing.conf\n@@ -1,30 +1,1 @@\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&diff, "-setting_%02d = a value the model thought was there\n", i)
	}
	diff.WriteString("+port = 8450\n")
	reached := make(chan struct{})
	var once sync.Once
	m, err := newMeshWith(1, func(ctx context.Context, t razar.Task) (razar.Fix, error) {
		fix, err := o.Repair(ctx, t)
		if err != nil {
			return fix, err
		}
		mu.Lock()
		if want[t.Attempt] {
			pts = append(pts, historyPoint{Attempt: t.Attempt, Bytes: bodyBytes, Prompt: int(fix.Usage.Prompt)})
		}
		mu.Unlock()
		if t.Attempt >= last {
			once.Do(func() { close(reached) })
		}
		return razar.Fix{Status: razar.StatusFixed, Summary: "set the port in missing.conf", Diff: diff.String(), Usage: fix.Usage}, nil
	}, orchestrator.Config{Threshold: 4, LongTask: true, Backoff: orchestrator.Backoff{Base: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		return nil, err
	}
	defer m.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, _, err := m.orch.Escalate(ctx, "c0", "c0 exited 1: no port configured", ""); err != nil {
		return nil, err
	}
	select {
	case <-reached:
	case <-ctx.Done():
		return nil, fmt.Errorf("history: attempt %d never came: %w", last, ctx.Err())
	}
	_, _ = m.orch.Abort(ctx, "c0", "bench")
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(pts, func(i, j int) bool { return pts[i].Attempt < pts[j].Attempt })
	return pts, nil
}
