package main

import (
	"bufio"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/standin"
	"github.com/razar/razar/jetstream/bustest"
)

// runbookBlock is one fenced sh block of docs/RUNBOOK.md: its tag ("" for
// a block run against the live RAZAR, "stopped" for one run after it has
// stopped, "example" for one whose commands are only checked) and body.
type runbookBlock struct {
	tag, body string
	line      int
}

func runbookBlocks(t *testing.T) []runbookBlock {
	t.Helper()
	f, err := os.Open("../../docs/RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []runbookBlock
	var cur *runbookBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```sh"):
			cur = &runbookBlock{tag: strings.TrimSpace(strings.TrimPrefix(line, "```sh")), line: n}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		}
	}
	return out
}

// TestRunbookCommandsRunAgainstALiveRazar: every sh block of
// docs/RUNBOOK.md runs, in order, with bash -euo pipefail, against a RAZAR
// booted on examples/demo (the stopped ones after it stopped); every razar
// command in the example blocks is one the CLI has. The runbook cannot rot.
func TestRunbookCommandsRunAgainstALiveRazar(t *testing.T) {
	t.Parallel()
	nats := natsCLI(t)
	blocks := runbookBlocks(t)
	if len(blocks) < 8 {
		t.Fatalf("docs/RUNBOOK.md has %d sh blocks; the parse is broken", len(blocks))
	}
	root := newCLI(".", io.Discard, io.Discard, os.LookupEnv).newRoot()
	known := func(words ...string) bool {
		cmd, rest, err := root.Find(words)
		return err == nil && cmd != root && len(rest) == 0 && !cmd.HasSubCommands()
	}
	for _, b := range blocks {
		for _, line := range strings.Split(b.body, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "razar" || len(f) < 2 {
				continue
			}
			if !known(f[1]) && (len(f) < 3 || !known(f[1], f[2])) {
				t.Errorf("docs/RUNBOOK.md line %d: %q is not a razar command", b.line, line)
			}
		}
	}
	h := t.TempDir()
	if out, err := exec.Command("cp", "-R", "../../examples/demo/.", h).CombinedOutput(); err != nil {
		t.Fatalf("copy the demo: %v\n%s", err, out)
	}
	metrics, chakra := bustest.FreePort(t), bustest.FreePort(t)
	// The demo's openai rungs are served by the stand-in model, as in make demo.
	model := httptest.NewServer(standin.New(standin.Config{}))
	t.Cleanup(model.Close)
	rungs := []string{"KIMI2_ENDPOINT=" + model.URL + "/v1", "KIMI2_API_KEY=demo-key", "AIRSTAR_ENDPOINT=" + model.URL + "/v1", "AIRSTAR_API_KEY=demo-key",
		"RSTAR_API_KEY=", "RSTAR_ENDPOINT="}
	env := append(os.Environ(),
		"PATH="+filepath.Dir(razarBin)+":"+filepath.Dir(nats)+":"+os.Getenv("PATH"),
		"RAZAR_HOME="+h, "RAZAR_VERIFY_WINDOW=1s",
		"RAZAR_METRICS_ADDR=127.0.0.1:"+strconv.Itoa(metrics), "RAZAR_CHAKRA_ADDR=127.0.0.1:"+strconv.Itoa(chakra))
	env = append(env, rungs...)
	p := start(t, h, append([]string{"RAZAR_METRICS_ADDR=127.0.0.1:" + strconv.Itoa(metrics), "RAZAR_CHAKRA_ADDR=127.0.0.1:" + strconv.Itoa(chakra)}, rungs...),
		"boot", "--retries", "1", "--nats-listen", "127.0.0.1:0")
	bustest.Eventually(t, 60*time.Second, func() bool {
		out, _ := exec.Command(razarBin, "--home", h, "status", "--json").Output()
		return strings.Contains(string(out), `"name":"ledger"`) && strings.Contains(string(out), `"status":"`+bus.StatusHealthy+`"`) &&
			!strings.Contains(string(out), `"status":"booting"`) && !strings.Contains(string(out), `"status":"waiting"`)
	}, "the demo never booted healthy; output:\n%s", p.out)
	run := func(b runbookBlock) {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", b.body)
		cmd.Dir, cmd.Env = h, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docs/RUNBOOK.md block at line %d failed: %v\n%s\n--- output:\n%s", b.line, err, b.body, out)
		}
	}
	for _, b := range blocks {
		if b.tag == "" {
			run(b)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 30*time.Second)
	for _, b := range blocks {
		if b.tag == "stopped" {
			run(b)
		}
	}
}
