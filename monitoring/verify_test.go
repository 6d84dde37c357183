package monitoring_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/monitoring"
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

// closedURL is a /metrics URL on a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/metrics"
}

func TestVerifySaysWhatEachEndpointAnswered(t *testing.T) {
	skipped := monitoring.Endpoint{Name: "cadvisor", URL: closedURL(t), Skip: true}
	tests := []struct {
		url    string
		state  string
		series int
		detail string
	}{
		{serve(t, http.StatusOK, goodScrape), monitoring.StateOK, 6, "2 metric families"}, // 2 counters + 2 buckets, _sum, _count
		{serve(t, http.StatusOK, "x 1\n"), monitoring.StateOK, 1, "1 metric family"},
		{serve(t, http.StatusOK, ""), monitoring.StateEmpty, 0, "empty body"},
		{serve(t, http.StatusOK, "# HELP nothing here\n"), monitoring.StateEmpty, 0, "no series"},
		{serve(t, http.StatusOK, "this is { not metrics\n"), monitoring.StateUnparseable, 0, ""},
		{serve(t, http.StatusInternalServerError, "collector exploded\n"), "HTTP 500", 0, "collector exploded"},
		{closedURL(t), monitoring.StateMissing, 0, "connection refused"},
		{skipped.URL, monitoring.StateNotConfigured, 0, "not in RAZAR_EXPORTERS"},
	}
	var eps []monitoring.Endpoint
	for _, tt := range tests[:len(tests)-1] {
		eps = append(eps, monitoring.Endpoint{Name: "exporter", URL: tt.url})
	}
	eps = append(eps, skipped)
	results := monitoring.Verify(context.Background(), eps, 3*time.Second)
	if len(results) != len(tests) {
		t.Fatalf("%d results for %d endpoints", len(results), len(tests))
	}
	gaps := 0
	for i, tt := range tests {
		r := results[i]
		if r.URL != tt.url || r.State != tt.state || r.Series != tt.series || !strings.Contains(r.Detail, tt.detail) {
			t.Errorf("%s: got %s, %d series, %q; want %s, %d series, %q", tt.url, r.State, r.Series, r.Detail, tt.state, tt.series, tt.detail)
		}
		if r.Gap() {
			gaps++
		}
	}
	if gaps != 5 {
		t.Errorf("%d gaps, want 5 (empty twice, unparseable, HTTP 500, missing)", gaps)
	}
}

func TestDefaultEndpointsAreRazarChakraAndTheHostExporters(t *testing.T) {
	eps := monitoring.DefaultEndpoints("127.0.0.1:9360", "127.0.0.1:8000", map[string]bool{"cadvisor": true})
	want := []monitoring.Endpoint{
		{Name: "razar", URL: "http://127.0.0.1:9360/metrics"},
		{Name: "chakra", URL: "http://127.0.0.1:8000/metrics"},
		{Name: "node-exporter", URL: "http://127.0.0.1:9100/metrics", Skip: true},
		{Name: "cadvisor", URL: "http://127.0.0.1:8080/metrics"},
		{Name: "gpu-exporter", URL: "http://127.0.0.1:9400/metrics", Skip: true},
	}
	if fmt.Sprint(eps) != fmt.Sprint(want) {
		t.Fatalf("DefaultEndpoints = %v, want %v", eps, want)
	}
}

func TestExportersReadsRAZAR_EXPORTERS(t *testing.T) {
	for v, want := range map[string]string{
		"":                         "map[node-exporter:true]",
		"none":                     "map[]",
		" CAdvisor , gpu-exporter": "map[cadvisor:true gpu-exporter:true]",
	} {
		got, err := monitoring.Exporters(v, nil)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("Exporters(%q) = %v, %v; want %s", v, got, err, want)
		}
	}
	nearest := func(typed string, names []string) string { return names[0] }
	_, err := monitoring.Exporters("node-exportr", nearest)
	var ce *razar.ConfigError
	if !errors.As(err, &ce) || ce.Field != "RAZAR_EXPORTERS" || !strings.Contains(ce.Fix, "did you mean node-exporter?") ||
		!strings.Contains(ce.Fix, "node-exporter, cadvisor, gpu-exporter") {
		t.Fatalf("error %v, want a ConfigError on RAZAR_EXPORTERS naming the exporters and the nearest", err)
	}
}
