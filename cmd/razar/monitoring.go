package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/razar/razar/monitoring"
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

// verifyMonitoring is `razar verify-monitoring [--exporter URL]...`: exit 0
// when every endpoint answers with series, 1 on any gap. The probing is
// package monitoring's; this reads the flags and variables and prints the
// table.
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
	var eps []monitoring.Endpoint
	for _, e := range exporters {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErr("--exporter %q: want an http(s) URL such as http://127.0.0.1:9100/metrics", e)
		}
		eps = append(eps, monitoring.Endpoint{Name: "exporter", URL: e})
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
		configured, err := monitoring.Exporters(c.getenv("RAZAR_EXPORTERS"), nearestName)
		if err != nil {
			return err
		}
		eps = monitoring.DefaultEndpoints(metrics, chakra, configured)
	}
	results := monitoring.Verify(ctx, eps, *timeout)

	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENDPOINT\tSTATE\tSERIES\tDETAIL")
	var gaps []string
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Name, r.URL, r.State, r.Series, r.Detail)
		if r.Gap() {
			gaps = append(gaps, r.URL+" "+r.State)
		}
	}
	tw.Flush()
	if len(gaps) > 0 {
		return failed("%d of %d monitoring endpoints have gaps: %s", len(gaps), len(results), strings.Join(gaps, ", "))
	}
	return nil
}
