package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// memoryBoot is a boot config with one component and one memory layer,
// probed by a command, so the bundle has RAZAR's three layers and one more.
const memoryBoot = `{"components": [{"name": "web", "priority": 1, "command": ["sleep", "600"], "workdir": "web",
	"start_grace": "200ms", "health_check": {"command": ["sh", "-c", "test ! -f broken"]}}],
 "memory": {"layers": [{"name": "vector", "probe": {"command": ["sh", "-c", "true"]}}]}}`

func memoryHome(t *testing.T) string {
	return home(t, crownRoster, map[string]string{"config/boot_config.json": memoryBoot})
}

// lastText is what a wait last saw, printed when it gives up.
type lastText struct{ s string }

func (l *lastText) String() string { return l.s }

func promFile(h string) string { return filepath.Join(h, "monitoring", "boot_metrics.prom") }

// waitProm waits for the metrics file to hold want, and returns it.
func waitProm(t *testing.T, h, want string) string {
	t.Helper()
	var last lastText
	bustest.Eventually(t, 20*time.Second, func() bool {
		b, err := os.ReadFile(promFile(h))
		last.s = string(b)
		return err == nil && strings.Contains(last.s, want)
	}, "monitoring/boot_metrics.prom never held %q; it holds:\n%s", want, &last)
	return last.s
}

// sourceLines are the file's sample lines of one source.
func sourceLines(text, source string) []string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, `{source="`+source+`"}`) {
			out = append(out, line)
		}
	}
	return out
}

func TestBootWritesMemoryGaugesAndTheFourLogFields(t *testing.T) {
	t.Parallel()
	h := memoryHome(t)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	text := waitProm(t, h, `razar_memory_init_invocations_total{source="boot_orchestrator"} 1`)
	for _, want := range []string{
		`razar_memory_init_layer_total{source="boot_orchestrator"} 4`,
		`razar_memory_init_layer_ready_total{source="boot_orchestrator"} 4`,
		`razar_memory_init_layer_failed_total{source="boot_orchestrator"} 0`,
		`razar_memory_init_error{source="boot_orchestrator"} 0`,
		`razar_memory_init_duration_seconds{source="boot_orchestrator"} `,
		"# TYPE razar_memory_init_layer_total gauge",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("boot_metrics.prom lacks %q:\n%s", want, text)
		}
	}
	var line map[string]any
	for _, l := range jsonLines(t, filepath.Join(h, "logs", "razar.log")) {
		if _, ok := l["memory_layers"]; ok && l["source"] == "boot_orchestrator" {
			line = l
		}
	}
	if line == nil {
		t.Fatal("logs/razar.log has no line with memory_layers for boot_orchestrator")
	}
	for k, want := range map[string]float64{"memory_layers": 4, "memory_init_ready": 4, "memory_init_failed": 0} {
		if got, ok := line[k].(float64); !ok || got != want {
			t.Errorf("log field %s = %v, want %v (line %v)", k, line[k], want, line)
		}
	}
	if d, ok := line["memory_init_duration"].(float64); !ok || d <= 0 {
		t.Errorf("log field memory_init_duration = %v, want seconds > 0", line["memory_init_duration"])
	}
}

func TestMemoryInitAddsItsSourceAndKeepsBootOrchestratorsLines(t *testing.T) {
	t.Parallel()
	h := memoryHome(t)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	before := sourceLines(waitProm(t, h, `razar_memory_init_invocations_total{source="boot_orchestrator"} 1`), "boot_orchestrator")
	p := start(t, h, nil, "memory", "init", "--source", "bootstrap_world")
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("memory init exit %d:\n%s", code, p.out)
	}
	text := waitProm(t, h, `razar_memory_init_invocations_total{source="bootstrap_world"} 1`)
	if after := sourceLines(text, "boot_orchestrator"); strings.Join(after, "") != strings.Join(before, "") {
		t.Errorf("boot_orchestrator's lines changed:\nbefore %q\nafter  %q", before, after)
	}
	for _, want := range []string{
		`razar_memory_init_layer_total{source="bootstrap_world"} 4`,
		`razar_memory_init_layer_ready_total{source="bootstrap_world"} 4`,
		`razar_memory_init_error{source="bootstrap_world"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("boot_metrics.prom lacks %q:\n%s", want, text)
		}
	}
	if out := p.out.String(); !strings.Contains(out, "vector     ready") || !strings.Contains(out, "4 of 4 layers ready") {
		t.Errorf("memory init output:\n%s", out)
	}
}

func TestMemoryAuditAgainstRunningRazarVerifiesEveryItem(t *testing.T) {
	t.Parallel()
	h := memoryHome(t)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	p := start(t, h, nil, "memory", "audit", "--items", "200")
	if code := p.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("memory audit exit %d:\n%s", code, p.out)
	}
	out := p.out.String()
	for _, layer := range []string{"stream", "state", "patches"} {
		want := fmt.Sprintf("%-8s %8d %8d %8d %8d", layer, 200, 200, 200, 0)
		if !strings.Contains(out, want) {
			t.Errorf("audit output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "all items verified") {
		t.Errorf("audit output does not say all items verified:\n%s", out)
	}
	// The run is in the metrics file and in the log, beside the boot's gauges.
	text := waitProm(t, h, `razar_memory_audit_verified{layer="patches"} 200`)
	if !strings.Contains(text, `razar_memory_init_invocations_total{source="boot_orchestrator"} 1`) {
		t.Errorf("the audit dropped the boot gauges:\n%s", text)
	}
	logged := false
	for _, l := range jsonLines(t, filepath.Join(h, "logs", "razar.log")) {
		if l["memory_audit_items"] == float64(200) && l["memory_audit_verified"] == true {
			logged = true
		}
	}
	if !logged {
		t.Error("logs/razar.log has no memory audit line with memory_audit_items 200 and memory_audit_verified true")
	}
	// The items are gone again: no patch-store directory, no stream item
	// left; the run is one memory record.
	if _, err := os.Stat(filepath.Join(h, "state", "patches", ".memory-audit")); !os.IsNotExist(err) {
		t.Errorf("state/patches/.memory-audit left behind: %v", err)
	}
	a := start(t, h, nil, "audit", "--component", "_razar", "--json")
	if code := a.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("razar audit exit %d:\n%s", code, a.out)
	}
	memoryRecords := 0
	for line := range strings.Lines(a.out.String()) {
		var rec struct{ Event, Status string }
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec.Event {
		case "memory_item":
			t.Fatalf("a stream item of the audit is left: %s", line)
		case "memory":
			memoryRecords++
			if rec.Status != "verified" {
				t.Errorf("memory record status %q, want verified", rec.Status)
			}
		}
	}
	if memoryRecords != 1 {
		t.Errorf("%d memory records, want 1:\n%s", memoryRecords, a.out)
	}
}

// nodeExporter finds prometheus-node-exporter, installing the Debian
// package once when running as root.
func nodeExporter(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus-node-exporter"); err == nil {
		return p
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus-node-exporter").CombinedOutput(); err != nil {
			t.Logf("apt-get install prometheus-node-exporter: %v\n%s", err, out)
		}
		if p, err := exec.LookPath("prometheus-node-exporter"); err == nil {
			return p
		}
	}
	t.Fatal("prometheus-node-exporter is missing: run `make tools` (Debian package prometheus-node-exporter)")
	return ""
}

func TestNodeExporterTextfileCollectorServesTheBootGauges(t *testing.T) {
	t.Parallel()
	exporter := nodeExporter(t)
	h := memoryHome(t)
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	waitProm(t, h, `razar_memory_init_invocations_total{source="boot_orchestrator"} 1`)
	port := bustest.FreePort(t)
	cmd := exec.Command(exporter, "--collector.disable-defaults", "--collector.textfile",
		"--collector.textfile.directory="+filepath.Join(h, "monitoring"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("node exporter output:\n%s", out)
		}
	})
	var last lastText
	bustest.Eventually(t, 20*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		last.s = string(b)
		return strings.Contains(last.s, `razar_memory_init_layer_total{source="boot_orchestrator"} 4`)
	}, "node exporter never served razar_memory_init_layer_total for boot_orchestrator; it served:\n%s", &last)
	text := last.s
	// The collector read the file without complaint.
	if strings.Contains(text, "\nnode_textfile_scrape_error 1\n") || !strings.Contains(text, "\nnode_textfile_scrape_error 0\n") {
		t.Errorf("node exporter reports a textfile scrape error:\n%s", text)
	}
}

func TestMemoryInitWithAFailedLayerFlagsTheErrorAndExitsOne(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, map[string]string{"config/boot_config.json": strings.Replace(memoryBoot, `"true"`, `"exit 3"`, 1)})
	b := start(t, h, nil, "boot", "--once", "--nats-listen", "127.0.0.1:0")
	b.wait(t, 60*time.Second) // its own memory pass fails too; the store exists now
	p := start(t, h, nil, "memory", "init")
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("memory init exit %d, want 1:\n%s", code, p.out)
	}
	text := waitProm(t, h, `razar_memory_init_invocations_total{source="bootstrap_memory"} 1`)
	for _, want := range []string{
		`razar_memory_init_error{source="bootstrap_memory"} 1`,
		`razar_memory_init_layer_ready_total{source="bootstrap_memory"} 3`,
		`razar_memory_init_layer_failed_total{source="bootstrap_memory"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("boot_metrics.prom lacks %q:\n%s", want, text)
		}
	}
	if out := p.out.String(); !strings.Contains(out, "vector     failed: command probe sh -c exit 3: exit status 3") {
		t.Errorf("memory init output does not name the failed probe:\n%s", out)
	}
}

func TestMemoryAuditWithRazarStoppedRunsOnTheHomesStore(t *testing.T) {
	t.Parallel()
	h := memoryHome(t)
	b := start(t, h, nil, "boot", "--once", "--nats-listen", "127.0.0.1:0")
	if code := b.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("boot --once exit %d:\n%s", code, b.out)
	}
	p := start(t, h, nil, "memory", "audit", "--items", "50")
	if code := p.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("offline memory audit exit %d:\n%s", code, p.out)
	}
	out := p.out.String()
	if !strings.Contains(out, "all items verified") || !strings.Contains(out, "stream: 100/100 (100%)") {
		t.Errorf("offline audit output (plain progress lines, then the report):\n%s", out)
	}
}

func TestMemoryInitOnANeverBootedHomeFailsAndWritesNothing(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, map[string]string{"config/boot_config.json": memoryBoot})
	before := treeOf(t, h)
	p := start(t, h, nil, "memory", "init")
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("memory init exit %d, want 1:\n%s", code, p.out)
	}
	if out := p.out.String(); !strings.Contains(out, "never run") || !strings.Contains(out, "razar boot") {
		t.Errorf("the refusal does not say why and what to do:\n%s", out)
	}
	if after := treeOf(t, h); after != before {
		t.Errorf("a failed memory init wrote to the home:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// treeOf lists every path under dir with its size, one a line.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d\n", p, info.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
