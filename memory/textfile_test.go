package memory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func result(source string, statuses ...string) *Result {
	r := &Result{Source: source, Duration: 1500 * time.Millisecond}
	for i, s := range statuses {
		r.Layers = append(r.Layers, LayerStatus{Name: string(rune('a' + i)), Status: s})
	}
	return r
}

func write(t *testing.T, path string, r *Result) []string {
	t.Helper()
	var warnings []string
	if err := WriteMetrics(path, r, func(w string) { warnings = append(warnings, w) }); err != nil {
		t.Fatal(err)
	}
	return warnings
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestWriteMetricsHasEveryGaugeWithHelpAndType(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitoring", "boot_metrics.prom")
	write(t, path, result(SourceBoot, StatusReady, StatusReady, StatusFailed))
	got := read(t, path)
	for _, want := range []string{
		"# HELP razar_memory_init_duration_seconds ", "# TYPE razar_memory_init_duration_seconds gauge\n",
		`razar_memory_init_duration_seconds{source="boot_orchestrator"} 1.5` + "\n",
		`razar_memory_init_layer_total{source="boot_orchestrator"} 3` + "\n",
		`razar_memory_init_layer_ready_total{source="boot_orchestrator"} 2` + "\n",
		`razar_memory_init_layer_failed_total{source="boot_orchestrator"} 1` + "\n",
		`razar_memory_init_error{source="boot_orchestrator"} 1` + "\n",
		"# TYPE razar_memory_init_invocations_total counter\n",
		`razar_memory_init_invocations_total{source="boot_orchestrator"} 1` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics file lacks %q:\n%s", want, got)
		}
	}
}

func TestWriteMetricsKeepsOtherSourcesLinesUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boot_metrics.prom")
	write(t, path, result(SourceBoot, StatusReady))
	// An exporter-side edit of another source's line survives byte for byte.
	before := read(t, path)
	before = strings.Replace(before, `razar_memory_init_layer_total{source="boot_orchestrator"} 1`, `razar_memory_init_layer_total{source="boot_orchestrator"}   1`, 1)
	if err := os.WriteFile(path, []byte(before+"# HELP other_metric x\n# TYPE other_metric gauge\nother_metric 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := write(t, path, result(SourceWorld, StatusFailed)); len(w) > 0 {
		t.Fatalf("warnings on a good file: %q", w)
	}
	got := read(t, path)
	for _, want := range []string{
		`razar_memory_init_layer_total{source="boot_orchestrator"}   1` + "\n",
		`razar_memory_init_error{source="boot_orchestrator"} 0` + "\n",
		`razar_memory_init_error{source="bootstrap_world"} 1` + "\n",
		`razar_memory_init_layer_failed_total{source="bootstrap_world"} 1` + "\n",
		"other_metric 7\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics file lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "# TYPE razar_memory_init_error gauge"); n != 1 {
		t.Errorf("TYPE of razar_memory_init_error written %d times:\n%s", n, got)
	}
}

func TestWriteMetricsCountsInvocationsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boot_metrics.prom")
	// Each write is a new process as far as the file knows: nothing but
	// the file carries the count.
	for range 3 {
		write(t, path, result(SourceBoot, StatusReady))
	}
	write(t, path, result(SourceMemory, StatusReady))
	got := read(t, path)
	for _, want := range []string{
		`razar_memory_init_invocations_total{source="boot_orchestrator"} 3` + "\n",
		`razar_memory_init_invocations_total{source="bootstrap_memory"} 1` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics file lacks %q:\n%s", want, got)
		}
	}
}

func TestWriteMetricsReplacesAGarbageFileWithAWarning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boot_metrics.prom")
	if err := os.WriteFile(path, []byte("\x00\x01 this is not {a textfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := write(t, path, result(SourceBoot, StatusReady))
	if len(w) != 1 || !strings.Contains(w[0], "replacing it") {
		t.Errorf("warnings = %q, want one saying the file is replaced", w)
	}
	got := read(t, path)
	if strings.Contains(got, "not {a textfile") {
		t.Errorf("garbage kept:\n%s", got)
	}
	if !strings.Contains(got, `razar_memory_init_invocations_total{source="boot_orchestrator"} 1`+"\n") {
		t.Errorf("count did not start again:\n%s", got)
	}
	if _, err := parseTextfile([]byte(got)); err != nil {
		t.Errorf("the new file does not parse: %v", err)
	}
}

func TestWriteMetricsReplacesASymlinkInsteadOfFollowingIt(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "boot_metrics.prom")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	write(t, path, result(SourceBoot, StatusReady))
	if got := read(t, target); got != "keep\n" {
		t.Errorf("the link's target was written: %q", got)
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("metrics file is not a regular file: %v %v", fi, err)
	}
}

func TestStatusWordsCountOnlyExactReady(t *testing.T) {
	r := result(SourceBoot, "ready", "not ready", "READY", "ready ", "failed", "unready", "")
	if r.Ready() != 1 || r.Failed() != 6 || !r.Errored() {
		t.Errorf("ready %d failed %d errored %v; want 1, 6, true", r.Ready(), r.Failed(), r.Errored())
	}
	if ok := result(SourceBoot, "ready", "ready"); ok.Errored() || ok.Failed() != 0 {
		t.Errorf("all ready counted as errored")
	}
}

func TestInitializeReportsExactWordsPerLayer(t *testing.T) {
	r := Initialize(context.Background(), SourceWorld, []Layer{
		{Name: "up", Check: func(context.Context) error { return nil }},
		{Name: "down", Check: func(context.Context) error { return errors.New("refused") }},
		{Name: "nocheck"},
	})
	want := []LayerStatus{{"up", "ready", ""}, {"down", "failed", "refused"}, {"nocheck", "failed", "layer nocheck has no check"}}
	for i, w := range want {
		if r.Layers[i] != w {
			t.Errorf("layer %d = %+v, want %+v", i, r.Layers[i], w)
		}
	}
	if r.Err != nil || r.Ready() != 1 || r.Failed() != 2 {
		t.Errorf("err %v ready %d failed %d", r.Err, r.Ready(), r.Failed())
	}
	if bad := Initialize(context.Background(), "elsewhere", nil); bad.Err == nil || !bad.Errored() {
		t.Errorf("an unknown source is not an error of the pass")
	}
}

func TestWriteAuditMetricsReplacesTheLastAuditAndKeepsTheInitGauges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boot_metrics.prom")
	write(t, path, result(SourceBoot, StatusReady))
	end := time.Unix(1796000000, 0)
	first := &AuditReport{Items: 10, Layers: []LayerReport{{Layer: "stream", Written: 10, Read: 10, Verified: 9, Failed: 1, Duration: 0.5}}}
	second := &AuditReport{Items: 20, Layers: []LayerReport{{Layer: "stream", Written: 20, Read: 20, Verified: 20}, {Layer: "state", Written: 20, Read: 20, Verified: 20}}}
	for _, rep := range []*AuditReport{first, second} {
		if err := WriteAuditMetrics(path, rep, end, func(w string) { t.Errorf("warning: %s", w) }); err != nil {
			t.Fatal(err)
		}
	}
	// An init pass after the audit keeps the audit's lines too.
	write(t, path, result(SourceBoot, StatusReady))
	got := read(t, path)
	for _, want := range []string{
		`razar_memory_audit_items{layer="stream"} 20` + "\n",
		`razar_memory_audit_verified{layer="state"} 20` + "\n",
		`razar_memory_audit_failed{layer="stream"} 0` + "\n",
		"razar_memory_audit_last_run_timestamp_seconds 1.796e+09\n",
		`razar_memory_init_invocations_total{source="boot_orchestrator"} 2` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "} 10\n") || strings.Count(got, "# TYPE razar_memory_audit_items gauge") != 1 {
		t.Errorf("the first audit's lines or headers survived:\n%s", got)
	}
}
