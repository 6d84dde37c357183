package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

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
