package main

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
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/razar/razar"
	"github.com/razar/razar/internal/cut"
)

const verifyMonitoringHelp = `Without --exporter it probes RAZAR's own /metrics (RAZAR_METRICS_ADDR), the
chakra heartbeat service's (RAZAR_CHAKRA_ADDR) and the host exporters this
host runs, as RAZAR_EXPORTERS lists them (comma-separated, default
node-exporter; none for none): node-exporter on :9100, cadvisor on :8080,
gpu-exporter (DCGM) on :9400, all on 127.0.0.1. An exporter not listed is
reported as "not configured" and is no gap. With --exporter (repeatable) it
probes exactly the URLs given.

Each endpoint is one line: ok (it answered with series), missing (no
answer), empty (no series), unparseable (not the Prometheus text format),
the HTTP status it answered with, or not configured; and why.`

// hostExporters are the host exporters verify-monitoring knows, in the
// order it lists them, and where each listens by default.
var hostExporters = []monitoringEndpoint{
	{name: "node-exporter", url: "http://127.0.0.1:9100/metrics"},
	{name: "cadvisor", url: "http://127.0.0.1:8080/metrics"},
	{name: "gpu-exporter", url: "http://127.0.0.1:9400/metrics"},
}

// defaultExporters is RAZAR_EXPORTERS unset: node exporter, which the
// shipped rules read; cAdvisor and a GPU exporter are for hosts that run
// them.
const defaultExporters = "node-exporter"

// stateNotConfigured is the state of a host exporter RAZAR_EXPORTERS does
// not list: not probed, no gap.
const stateNotConfigured = "not configured"

// configuredExporters reads RAZAR_EXPORTERS: the names of the host
// exporters this host runs.
func (c *cli) configuredExporters() (map[string]bool, error) {
	v := strings.TrimSpace(c.getenv("RAZAR_EXPORTERS"))
	if v == "" {
		v = defaultExporters
	}
	names := make([]string, len(hostExporters))
	for i, e := range hostExporters {
		names[i] = e.name
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
			if near := nearestName(n, names); near != "" {
				fix = "did you mean " + near + "? " + fix
			}
			return nil, &razar.ConfigError{File: "env", Field: "RAZAR_EXPORTERS", Msg: fmt.Sprintf("%q is not a host exporter verify-monitoring knows", n), Fix: fix}
		}
	}
	return out, nil
}

// monitoringEndpoint is one /metrics endpoint verify-monitoring probes.
type monitoringEndpoint struct {
	name, url string
	skip      bool // a host exporter RAZAR_EXPORTERS does not list
}

// monitoringResult is what one probe found.
type monitoringResult struct {
	monitoringEndpoint
	state  string // ok, missing, empty, unparseable, "HTTP 503"
	series int
	detail string
}

const stateOK = "ok"

// verifyMonitoring is `razar verify-monitoring [--exporter URL]...`: exit 0
// when every endpoint answers with series, 1 on any gap.
func (c *cli) verifyMonitoring(ctx context.Context, args []string) error {
	fs := c.newFlags("verify-monitoring")
	var exporters multiFlag
	fs.Var(&exporters, "exporter", "probe the /metrics `URL` instead of the default endpoints (repeatable)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long each endpoint has to answer")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("verify-monitoring takes no arguments, got %q (an endpoint is --exporter URL)", pos[0])
	}
	if *timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	var eps []monitoringEndpoint
	for _, e := range exporters {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErr("--exporter %q: want an http(s) URL such as http://127.0.0.1:9100/metrics", e)
		}
		eps = append(eps, monitoringEndpoint{name: "exporter", url: e})
	}
	if len(eps) == 0 {
		metrics, err := c.metricsAddr()
		if err != nil {
			return err
		}
		chakra, err := c.chakraAddr()
		if err != nil {
			return err
		}
		configured, err := c.configuredExporters()
		if err != nil {
			return err
		}
		eps = []monitoringEndpoint{
			{name: "razar", url: "http://" + metrics + "/metrics"},
			{name: "chakra", url: "http://" + chakra + "/metrics"},
		}
		for _, e := range hostExporters {
			if !configured[e.name] {
				e.skip = true
			}
			eps = append(eps, e)
		}
	}
	results := make([]monitoringResult, len(eps))
	client := &http.Client{Timeout: *timeout}
	var wg sync.WaitGroup
	for i, ep := range eps {
		if ep.skip {
			results[i] = monitoringResult{monitoringEndpoint: ep, state: stateNotConfigured,
				detail: "not in RAZAR_EXPORTERS: not probed (add " + ep.name + " there, or --exporter URL, to check it)"}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = probeMetrics(ctx, client, ep, *timeout)
		}()
	}
	wg.Wait()

	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENDPOINT\tSTATE\tSERIES\tDETAIL")
	var gaps []string
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.name, r.url, r.state, r.series, r.detail)
		if r.state != stateOK && r.state != stateNotConfigured {
			gaps = append(gaps, r.url+" "+r.state)
		}
	}
	tw.Flush()
	if len(gaps) > 0 {
		return failed("%d of %d monitoring endpoints have gaps: %s", len(gaps), len(results), strings.Join(gaps, ", "))
	}
	return nil
}

// probeMetrics scrapes one endpoint and says what it found.
func probeMetrics(ctx context.Context, client *http.Client, ep monitoringEndpoint, timeout time.Duration) monitoringResult {
	r := monitoringResult{monitoringEndpoint: ep}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.url, nil)
	if err != nil {
		r.state, r.detail = "missing", err.Error()
		return r
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := client.Do(req)
	if err != nil {
		r.state, r.detail = "missing", "no answer: "+noAnswer(err, timeout)
		return r
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		r.state = fmt.Sprintf("HTTP %d", resp.StatusCode)
		r.detail = "answered " + resp.Status
		if line := cut.FirstLine(strings.TrimSpace(string(body))); line != "" {
			r.detail += ": " + cut.Head(line, 100, "...")
		}
		return r
	}
	if err != nil {
		r.state, r.detail = "missing", "the answer broke off: "+noAnswer(err, timeout)
		return r
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		r.state, r.detail = "empty", "answered 200 with an empty body"
		return r
	}
	fams, err := parseMetrics(resp.Header, body)
	if err != nil {
		r.state, r.detail = "unparseable", cut.Head(cut.FirstLine(err.Error()), 160, "...")
		return r
	}
	for _, f := range fams {
		r.series += seriesOf(f)
	}
	if r.series == 0 {
		r.state, r.detail = "empty", "answered 200 with no series"
		return r
	}
	r.state, r.detail = stateOK, fmt.Sprintf("%d metric families", len(fams))
	if len(fams) == 1 {
		r.detail = "1 metric family"
	}
	return r
}

// parseMetrics reads a scrape in the text format we asked for, or in the
// protobuf one a server may answer with anyway.
func parseMetrics(h http.Header, body []byte) (map[string]*dto.MetricFamily, error) {
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
