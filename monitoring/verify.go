package monitoring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/razar/razar"
	"github.com/razar/razar/internal/cut"
)

// The states of a Result besides "HTTP <status>".
const (
	// StateOK is an endpoint that answered with series.
	StateOK = "ok"
	// StateMissing is an endpoint that did not answer, or broke off.
	StateMissing = "missing"
	// StateEmpty is an endpoint that answered with no series.
	StateEmpty = "empty"
	// StateUnparseable is an answer not in the Prometheus text (or
	// protobuf) format.
	StateUnparseable = "unparseable"
	// StateNotConfigured is a host exporter RAZAR_EXPORTERS does not list:
	// not probed, no gap.
	StateNotConfigured = "not configured"
)

// DefaultExporters is RAZAR_EXPORTERS unset: node exporter, which the
// shipped rules read; cAdvisor and a GPU exporter are for hosts that run
// them.
const DefaultExporters = "node-exporter"

// Endpoint is one /metrics endpoint to probe.
type Endpoint struct {
	Name, URL string
	// Skip marks a host exporter RAZAR_EXPORTERS does not list: reported
	// as StateNotConfigured, not probed.
	Skip bool
}

// Result is what one probe found.
type Result struct {
	Endpoint
	State  string // a State constant or "HTTP 503"
	Series int
	Detail string // why, in a few words
}

// Gap reports whether r is a gap in the monitoring: anything but an
// endpoint with series or one not configured.
func (r Result) Gap() bool { return r.State != StateOK && r.State != StateNotConfigured }

// HostExporters are the host exporters verify-monitoring knows, in the
// order it lists them, and where each listens by default.
func HostExporters() []Endpoint {
	return []Endpoint{
		{Name: "node-exporter", URL: "http://127.0.0.1:9100/metrics"},
		{Name: "cadvisor", URL: "http://127.0.0.1:8080/metrics"},
		{Name: "gpu-exporter", URL: "http://127.0.0.1:9400/metrics"},
	}
}

// Exporters reads a RAZAR_EXPORTERS value (empty: DefaultExporters): the
// names of the host exporters this host runs, comma-separated, any case,
// or "none". A name it does not know is a *razar.ConfigError whose fix
// names the known ones and, when nearest (may be nil) finds one close to
// what was typed, asks whether that was meant.
func Exporters(v string, nearest func(typed string, names []string) string) (map[string]bool, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		v = DefaultExporters
	}
	var names []string
	for _, e := range HostExporters() {
		names = append(names, e.Name)
	}
	out := map[string]bool{}
	for _, n := range strings.Split(v, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		switch {
		case n == "" || n == "none":
		case slices.Contains(names, n):
			out[n] = true
		default:
			fix := "list host exporters from " + strings.Join(names, ", ") + ", comma-separated, or none"
			if nearest != nil {
				if near := nearest(n, names); near != "" {
					fix = "did you mean " + near + "? " + fix
				}
			}
			return nil, &razar.ConfigError{File: "env", Field: "RAZAR_EXPORTERS", Msg: fmt.Sprintf("%q is not a host exporter verify-monitoring knows", n), Fix: fix}
		}
	}
	return out, nil
}

// DefaultEndpoints are the endpoints verify-monitoring probes without
// --exporter: RAZAR's /metrics at metricsAddr, chakra's at chakraAddr
// (both HOST:PORT), then every host exporter, those not in configured
// marked Skip.
func DefaultEndpoints(metricsAddr, chakraAddr string, configured map[string]bool) []Endpoint {
	eps := []Endpoint{
		{Name: "razar", URL: "http://" + metricsAddr + "/metrics"},
		{Name: "chakra", URL: "http://" + chakraAddr + "/metrics"},
	}
	for _, e := range HostExporters() {
		e.Skip = !configured[e.Name]
		eps = append(eps, e)
	}
	return eps
}

// Verify probes every endpoint not marked Skip, in parallel, each with
// timeout to answer, and returns one Result per endpoint in their order.
func Verify(ctx context.Context, eps []Endpoint, timeout time.Duration) []Result {
	results := make([]Result, len(eps))
	client := &http.Client{Timeout: timeout}
	var wg sync.WaitGroup
	for i, ep := range eps {
		if ep.Skip {
			results[i] = Result{Endpoint: ep, State: StateNotConfigured,
				Detail: "not in RAZAR_EXPORTERS: not probed (add " + ep.Name + " there, or --exporter URL, to check it)"}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = Probe(ctx, client, ep, timeout)
		}()
	}
	wg.Wait()
	return results
}

// Probe scrapes one endpoint with client and says what it found; timeout
// is client's, named in the detail when it ran out.
func Probe(ctx context.Context, client *http.Client, ep Endpoint, timeout time.Duration) Result {
	r := Result{Endpoint: ep}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.URL, nil)
	if err != nil {
		r.State, r.Detail = StateMissing, err.Error()
		return r
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := client.Do(req)
	if err != nil {
		r.State, r.Detail = StateMissing, "no answer: "+noAnswer(err, timeout)
		return r
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		r.State = fmt.Sprintf("HTTP %d", resp.StatusCode)
		r.Detail = "answered " + resp.Status
		if line := cut.FirstLine(strings.TrimSpace(string(body))); line != "" {
			r.Detail += ": " + cut.Head(line, 100, "...")
		}
		return r
	}
	if err != nil {
		r.State, r.Detail = StateMissing, "the answer broke off: "+noAnswer(err, timeout)
		return r
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		r.State, r.Detail = StateEmpty, "answered 200 with an empty body"
		return r
	}
	fams, err := parse(resp.Header, body)
	if err != nil {
		r.State, r.Detail = StateUnparseable, cut.Head(cut.FirstLine(err.Error()), 160, "...")
		return r
	}
	for _, f := range fams {
		r.Series += seriesOf(f)
	}
	if r.Series == 0 {
		r.State, r.Detail = StateEmpty, "answered 200 with no series"
		return r
	}
	r.State, r.Detail = StateOK, fmt.Sprintf("%d metric families", len(fams))
	if len(fams) == 1 {
		r.Detail = "1 metric family"
	}
	return r
}

// parse reads a scrape in the text format we asked for, or in the
// protobuf one a server may answer with anyway.
func parse(h http.Header, body []byte) (map[string]*dto.MetricFamily, error) {
	if expfmt.ResponseFormat(h).FormatType() == expfmt.TypeProtoDelim {
		dec := expfmt.NewDecoder(strings.NewReader(string(body)), expfmt.ResponseFormat(h))
		out := map[string]*dto.MetricFamily{}
		for {
			var f dto.MetricFamily
			if err := dec.Decode(&f); err != nil {
				if errors.Is(err, io.EOF) {
					return out, nil
				}
				return nil, err
			}
			out[f.GetName()] = &f
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(strings.NewReader(string(body)))
}

// seriesOf counts a family's series as Prometheus stores them: one per
// sample, a summary's quantiles and a histogram's buckets each, plus their
// _sum and _count.
func seriesOf(f *dto.MetricFamily) int {
	n := 0
	for _, m := range f.GetMetric() {
		switch {
		case m.GetSummary() != nil:
			n += len(m.GetSummary().GetQuantile()) + 2
		case m.GetHistogram() != nil:
			n += len(m.GetHistogram().GetBucket()) + 2
		default:
			n++
		}
	}
	return n
}

// noAnswer says why a request got no answer, without repeating its URL.
func noAnswer(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Sprintf("nothing within %s", timeout)
		}
		err = ue.Err
	}
	return err.Error()
}
