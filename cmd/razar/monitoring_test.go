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

const goodScrape = `# HELP up_total A counter.
# TYPE up_total counter
up_total{job="a"} 3
up_total{job="b"} 4
# TYPE latency_seconds histogram
latency_seconds_bucket{le="1"} 1
latency_seconds_bucket{le="+Inf"} 2
latency_seconds_sum 1.5
latency_seconds_count 2
`

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
	empty := serve(t, http.StatusOK, "")
	comments := serve(t, http.StatusOK, "# HELP nothing here\n")
	garbage := serve(t, http.StatusOK, "this is { not metrics\n")
	broken := serve(t, http.StatusInternalServerError, "collector exploded\n")
	closed := fmt.Sprintf("http://127.0.0.1:%d/metrics", bustest.FreePort(t))
	out, stderr, code := runCLI(t, "verify-monitoring", "--exporter", good, "--exporter", empty, "--exporter", comments,
		"--exporter", garbage, "--exporter", broken, "--exporter", closed)
	if code != 1 {
		t.Fatalf("exit %d, want 1 for the gaps:\n%s%s", code, out, stderr)
	}
	if !strings.HasPrefix(out, "NAME") || strings.Count(out, "\n") != 7 {
		t.Errorf("want a header and one line per endpoint:\n%s", out)
	}
	tableLine(t, out, good, "ok", 6, "2 metric families") // 2 counters + 2 buckets, _sum, _count
	tableLine(t, out, empty, "empty", 0, "empty body")
	tableLine(t, out, comments, "empty", 0, "no series")
	tableLine(t, out, garbage, "unparseable", 0, "")
	tableLine(t, out, broken, "HTTP 500", 0, "collector exploded")
	tableLine(t, out, closed, "missing", 0, "connection refused")
	if !strings.Contains(stderr, "5 of 6 monitoring endpoints have gaps") {
		t.Errorf("stderr should count the gaps: %q", stderr)
	}
}

func TestVerifyMonitoringExitsZeroWhenEveryEndpointHasSeries(t *testing.T) {
	a, b := serve(t, http.StatusOK, goodScrape), serve(t, http.StatusOK, "x 1\n")
	out, stderr, code := runCLI(t, "verify-monitoring", "--exporter", a, "--exporter", b)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, want 0:\n%s%s", code, out, stderr)
	}
	tableLine(t, out, a, "ok", 6, "")
	tableLine(t, out, b, "ok", 1, "1 metric family")
}

func TestVerifyMonitoringProbesRazarChakraAndTheHostExportersByDefault(t *testing.T) {
	h := home(t, crownRoster, nil)
	good := strings.TrimSuffix(strings.TrimPrefix(serve(t, http.StatusOK, goodScrape), "http://"), "/metrics")
	t.Setenv("RAZAR_METRICS_ADDR", good)
	t.Setenv("RAZAR_CHAKRA_ADDR", good)
	out, _, _ := runCLI(t, "--home", h, "verify-monitoring", "--timeout", "1s")
	for _, want := range []string{
		`(?m)^razar +http://` + regexp.QuoteMeta(good) + `/metrics +ok +6 `,
		`(?m)^chakra +http://` + regexp.QuoteMeta(good) + `/metrics +ok +6 `,
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
