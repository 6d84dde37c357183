package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

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
