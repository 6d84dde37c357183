package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/razar/razar/jetstream/bustest"
)

// goodScrape is a /metrics answer with series in it. How each kind of
// answer is classified is package monitoring's table test; here the CLI's
// table, its stderr and its exit status are the subject.
const goodScrape = "# TYPE up_total counter\nup_total{job=\"a\"} 3\nup_total{job=\"b\"} 4\n"

func serve(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// tableLine finds the line of url in a verify-monitoring table and checks
// its state, series and detail.
func tableLine(t *testing.T, out, url, state string, series int, detail string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^exporter +` + regexp.QuoteMeta(url) + ` +` + regexp.QuoteMeta(state) + ` +` + fmt.Sprint(series) + ` +.*` + regexp.QuoteMeta(detail) + `.*$`)
	if !re.MatchString(out) {
		t.Errorf("no line for %s with state %q, %d series and %q:\n%s", url, state, series, detail, out)
	}
}

func TestVerifyMonitoringNamesEachGapAndExitsOne(t *testing.T) {
	good := serve(t, http.StatusOK, goodScrape)
	broken := serve(t, http.StatusInternalServerError, "collector exploded\n")
	closed := fmt.Sprintf("http://127.0.0.1:%d/metrics", bustest.FreePort(t))
	out, stderr, code := runCLI(t, "verify-monitoring", "--exporter", good, "--exporter", broken, "--exporter", closed)
	if code != 1 {
		t.Fatalf("exit %d, want 1 for the gaps:\n%s%s", code, out, stderr)
	}
	if !strings.HasPrefix(out, "NAME") || strings.Count(out, "\n") != 4 {
		t.Errorf("want a header and one line per endpoint:\n%s", out)
	}
	tableLine(t, out, good, "ok", 2, "1 metric family")
	tableLine(t, out, broken, "HTTP 500", 0, "collector exploded")
	tableLine(t, out, closed, "missing", 0, "connection refused")
	if !strings.Contains(stderr, "2 of 3 monitoring endpoints have gaps") {
		t.Errorf("stderr should count the gaps: %q", stderr)
	}
}

func TestVerifyMonitoringExitsZeroWhenEveryEndpointHasSeries(t *testing.T) {
	a, b := serve(t, http.StatusOK, goodScrape), serve(t, http.StatusOK, "x 1\n")
	out, stderr, code := runCLI(t, "verify-monitoring", "--exporter", a, "--exporter", b)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, want 0:\n%s%s", code, out, stderr)
	}
	tableLine(t, out, a, "ok", 2, "")
	tableLine(t, out, b, "ok", 1, "1 metric family")
}

func TestVerifyMonitoringProbesRazarChakraAndTheHostExportersByDefault(t *testing.T) {
	h := home(t, crownRoster, nil)
	good := strings.TrimSuffix(strings.TrimPrefix(serve(t, http.StatusOK, goodScrape), "http://"), "/metrics")
	t.Setenv("RAZAR_METRICS_ADDR", good)
	t.Setenv("RAZAR_CHAKRA_ADDR", good)
	out, _, _ := runCLI(t, "--home", h, "verify-monitoring", "--timeout", "1s")
	for _, want := range []string{
		`(?m)^razar +http://` + regexp.QuoteMeta(good) + `/metrics +ok +2 `,
		`(?m)^chakra +http://` + regexp.QuoteMeta(good) + `/metrics +ok +2 `,
		`(?m)^node-exporter +http://127\.0\.0\.1:9100/metrics `,
		`(?m)^cadvisor +http://127\.0\.0\.1:8080/metrics `,
		`(?m)^gpu-exporter +http://127\.0\.0\.1:9400/metrics `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("default table lacks %s:\n%s", want, out)
		}
	}
}

func TestVerifyMonitoringRefusesAnExporterThatIsNotAURL(t *testing.T) {
	_, stderr, code := runCLI(t, "verify-monitoring", "--exporter", "127.0.0.1:9100")
	if code != 2 || !strings.Contains(stderr, "http://127.0.0.1:9100/metrics") {
		t.Fatalf("exit %d, want 2 with an example URL: %q", code, stderr)
	}
}
