package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/razar/razar/jetstream/bustest"
)

const chakraBoot = `{"components": [{"name": "web", "priority": 1, "chakra": "root", "command": ["sleep", "600"], "workdir": "web",
	"start_grace": "200ms", "health_check": {"command": ["sh", "-c", "test ! -f broken"]}}]}`

// scrapeChakra returns the chakra service's /metrics text and its samples
// by series ("chakra_alignment", `chakra_pulse_hz{chakra="root"}`).
func scrapeChakra(port int) (string, map[string]float64, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return string(body), nil, err
	}
	got := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	return string(body), got, nil
}

// TestChakraServiceMeasuresTheBeatsOfHealthyComponents: the real binary
// serves chakra_pulse_hz and chakra_alignment on RAZAR_CHAKRA_PORT, fed by
// the component heartbeats of its probes; promtool accepts the scrape; a
// component that stops passing its probe takes its chakra out of alignment.
func TestChakraServiceMeasuresTheBeatsOfHealthyComponents(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: run `make tools` (Debian package prometheus)")
	}
	h := home(t, crownRoster, map[string]string{"config/boot_config.json": chakraBoot})
	port := bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_CHAKRA_PORT=%d", port), "RAZAR_HEALTH_PROBE_INTERVAL=200ms"}, "--nats-listen", "127.0.0.1:0")
	var text string
	var got map[string]float64
	bustest.Eventually(t, 20*time.Second, func() bool {
		text, got, err = scrapeChakra(port)
		return err == nil && got[`chakra_pulse_hz{chakra="root"}`] > 0 && got["chakra_alignment"] == 1
	}, "the chakra service never saw root beat and aligned: %v\n%s", err, text)
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(text)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s\n%s", err, out, text)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("/healthz while aligned: %d %q", resp.StatusCode, body)
	}

	breakWeb(t, h) // no rung can fix it: web stays unhealthy and silent
	bustest.Eventually(t, 20*time.Second, func() bool {
		text, got, err = scrapeChakra(port)
		return err == nil && got["chakra_alignment"] == 0 && got[`chakra_pulse_hz{chakra="root"}`] == 0
	}, "root stayed aligned after web failed its probe: %v\n%s", err, text)
	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasSuffix(string(body), ": root\n") {
		t.Fatalf("/healthz with web down: %d %q, want 503 naming root", resp.StatusCode, body)
	}
}

// TestABusyChakraPortIsAStartupErrorNamingTheAddressAndTheFix.
func TestABusyChakraPortIsAStartupErrorNamingTheAddressAndTheFix(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	h := home(t, crownRoster, nil)
	p := start(t, h, []string{"RAZAR_CHAKRA_ADDR=" + addr}, "boot", "--nats-listen", "127.0.0.1:0")
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("boot with the chakra port taken: exit %d, want 1:\n%s", code, p.out)
	}
	for _, want := range []string{"chakra heartbeat listener on " + addr, "RAZAR_CHAKRA_ADDR or RAZAR_CHAKRA_PORT"} {
		if !strings.Contains(p.out.String(), want) {
			t.Errorf("boot output lacks %q:\n%s", want, p.out)
		}
	}
}
