package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/patch"
)

func TestMain(m *testing.M) {
	patch.SandboxMain() // the validation sandbox's init, when this binary was started as one
	os.Exit(m.Run())
}

// TestBenchWritesARatioForEveryMeasurement: a small run of `make bench`
// writes results.json with every measurement, each against a baseline of
// the same run. (The figures are not asserted: speed is for `make bench`.)
func TestBenchWritesARatioForEveryMeasurement(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results.json")
	if err := run(out, sizes{runs: 1, incidents: 10, handovers: 10, attempts: 20, components: 10, open: 20}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rs []Result
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatalf("results.json: %v\n%s", err, b)
	}
	if len(rs) != 7 {
		t.Fatalf("%d results, want 7:\n%s", len(rs), b)
	}
	for _, r := range rs {
		if r.Value < 0 || r.Baseline <= 0 || r.Ratio < 0 || r.Goal == "" {
			t.Errorf("result %+v lacks a value, a baseline, a ratio or a goal", r)
		}
		if r.Rounds != 1 || r.RatioMin > r.Ratio || r.Ratio > r.RatioMax {
			t.Errorf("result %+v: want 1 round and min <= ratio <= max", r)
		}
	}
}

// TestFigureIsTheMedianOfItsRoundsRatios: a figure's ratio is the median
// of its rounds' ratios (each round's value over that round's baseline,
// not one median over another), with the lowest and highest as its
// spread, and the goal judged on the median.
func TestFigureIsTheMedianOfItsRoundsRatios(t *testing.T) {
	f := &figure{name: "x", unit: "ms", goal: "<= 3", bound: 3}
	// A machine that slows down: both sides of a round move together.
	for _, r := range [][2]float64{{1, 2.5}, {4, 10}, {2, 7}, {0.5, 1.5}, {8, 16}} {
		f.add(r[0], r[1])
	}
	r := f.result()
	if r.Rounds != 5 || r.Ratio != 2.5 || r.RatioMin != 2 || r.RatioMax != 3.5 || !r.Met {
		t.Errorf("result %+v, want 5 rounds, ratio 2.5 (of 2.5 2.5 3.5 3 2), min 2, max 3.5, met", r)
	}
	if r.Value != 7 || r.Baseline != 2 {
		t.Errorf("value %v, baseline %v: want the medians 7 and 2", r.Value, r.Baseline)
	}
	low := &figure{name: "y", goal: ">= 0.25", bound: 0.25, atLeast: true}
	low.add(100, 20)
	if r := low.result(); r.Met || r.Ratio != 0.2 {
		t.Errorf("lower-bound figure %+v: want ratio 0.2, not met", r)
	}
}

// TestBenchScaleWritesEveryClusterFigure: a small run of the -scale
// measurement starts a real 3-node cluster and writes every figure with
// the embedded server's as its baseline. (Not asserted: the figures.)
func TestBenchScaleWritesEveryClusterFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("three nats-server processes")
	}
	out := filepath.Join(t.TempDir(), "scale.json")
	if err := scale(out, 1, 5, 5); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rs []Result
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatalf("scale.json: %v\n%s", err, b)
	}
	if len(rs) != 6 {
		t.Fatalf("%d results, want 6 (hand-over p50, p99 and throughput at R1 and R3):\n%s", len(rs), b)
	}
	for _, r := range rs {
		if r.Value <= 0 || r.Baseline <= 0 || r.Ratio <= 0 || r.Goal == "" {
			t.Errorf("result %+v lacks a value, a baseline, a ratio or a goal", r)
		}
	}
}

// TestCorpusSliceHealsWithTheStandInFromWhatTheRecordSays: a bounded slice
// of `make bench`'s corpus run: each case booted by the real razar binary
// with openai rungs served by the stand-in (sloppy hunk headers), healed
// by a model rung, and the record shows the bytes shown, the tokens,
// the tool calls and the placement that was not exact.
func TestCorpusSliceHealsWithTheStandInFromWhatTheRecordSays(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots razar")
	}
	cases := []string{"config-typo", "missing-dir", "exec-bit"}
	for _, tools := range []bool{true, false} {
		rs, err := runCorpus(context.Background(), corpusOpts{Dir: "../examples/corpus", Only: cases, Tools: tools, Sloppy: true, Timeout: 2 * time.Minute}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := summarize("slice", rs)
		if s.Healed != len(cases) {
			t.Fatalf("tools=%v: healed %d of %d: %+v", tools, s.Healed, len(cases), rs)
		}
		for _, r := range rs {
			if r.Attempts < 1 || r.Bytes <= 0 || r.Prompt <= 0 || r.Complete <= 0 || r.Requests == 0 || r.Sent <= 0 {
				t.Errorf("tools=%v %s: attempts %d, bytes shown %d, tokens %d+%d, requests %d (%d bytes): want every figure counted",
					tools, r.Case, r.Attempts, r.Bytes, r.Prompt, r.Complete, r.Requests, r.Sent)
			}
			if r.Place <= 0 || r.Place > r.Placement2 {
				t.Errorf("tools=%v %s: placement and validation %.1f ms, outside the rung's %.1f ms", tools, r.Case, r.Place, r.Placement2)
			}
			if tools != (r.ToolCalls > 0) {
				t.Errorf("tools=%v %s: %d tool calls recorded", tools, r.Case, r.ToolCalls)
			}
			if r.Case == "config-typo" && !slices.ContainsFunc(r.Placement, func(n string) bool { return strings.Contains(n, "no line numbers") }) {
				t.Errorf("tools=%v config-typo: the sloppy hunk header's placement is not noted: %q", tools, r.Placement)
			}
		}
	}
}

// TestCorpusRefusesAnUnknownCase: a case name not in the corpus is an
// error naming the cases there are.
func TestCorpusRefusesAnUnknownCase(t *testing.T) {
	_, err := runCorpus(context.Background(), corpusOpts{Dir: "../examples/corpus", Only: []string{"no-such-case"}, Razar: "/nonexistent"}, nil)
	if err == nil || !strings.Contains(err.Error(), `"no-such-case"`) || !strings.Contains(err.Error(), "config-typo") {
		t.Fatalf("err = %v, want one naming the case and the corpus's cases", err)
	}
}

// TestPromptGrowsByAtMostALinePerEarlierAttempt: the request RAZAR sends
// the model carries every earlier attempt (issue 19: none silently lost),
// the newest in full and the older as one line each, so past the newest
// ones each further attempt costs at most a line (512 bytes), while
// attempt 5's request is bigger than attempt 1's: the history is sent.
func TestPromptGrowsByAtMostALinePerEarlierAttempt(t *testing.T) {
	pts, err := promptHistory([]int{1, 5, 20, 40})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 {
		t.Fatalf("points %+v, want attempts 1, 5, 20 and 40", pts)
	}
	if pts[1].Bytes <= pts[0].Bytes {
		t.Errorf("attempt 5's request (%d bytes) is not bigger than attempt 1's (%d): the history is not sent", pts[1].Bytes, pts[0].Bytes)
	}
	if perAttempt := (pts[3].Bytes - pts[2].Bytes) / 20; perAttempt > 512 {
		t.Errorf("from attempt 20 (%d bytes) to 40 (%d bytes) the request grew %d bytes per attempt, want at most a line (512 bytes): older attempts are not shortened",
			pts[2].Bytes, pts[3].Bytes, perAttempt)
	}
}
