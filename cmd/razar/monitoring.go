package main

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/razar/razar/config"
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

// verifyMonitoringCmd is `razar verify-monitoring [--exporter URL]...`:
// exit 0 when every endpoint answers with series, 1 on any gap. The
// probing and the table are package monitoring's.
func (c *cli) verifyMonitoringCmd() *cobra.Command {
	var exporters []string
	var timeout time.Duration
	cmd := c.native("verify-monitoring", "[--exporter URL]...", "probe the /metrics endpoints (RAZAR, chakra, node exporter, cAdvisor, GPU); exit 1 on any gap", verifyMonitoringHelp, func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usageErr("verify-monitoring takes no arguments, got %q (an endpoint is --exporter URL)", args[0])
		}
		if timeout <= 0 {
			return usageErr("--timeout must be positive")
		}
		eps, err := c.monitoringEndpoints(exporters)
		if err != nil {
			return err
		}
		results := monitoring.Verify(ctx, eps, timeout)
		if gaps := monitoring.WriteTable(c.stdout, results); len(gaps) > 0 {
			return failed("%d of %d monitoring endpoints have gaps: %s", len(gaps), len(results), strings.Join(gaps, ", "))
		}
		return nil
	})
	cmd.Flags().StringArrayVar(&exporters, "exporter", nil, "probe the /metrics `URL` instead of the default endpoints (repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long each endpoint has to answer")
	return cmd
}

// monitoringEndpoints are the --exporter URLs, else RAZAR's, chakra's and
// the configured host exporters' endpoints.
func (c *cli) monitoringEndpoints(exporters []string) ([]monitoring.Endpoint, error) {
	var eps []monitoring.Endpoint
	for _, e := range exporters {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageErr("--exporter %q: want an http(s) URL such as http://127.0.0.1:9100/metrics", e)
		}
		eps = append(eps, monitoring.Endpoint{Name: "exporter", URL: e})
	}
	if len(eps) > 0 {
		return eps, nil
	}
	metrics, err := config.Vars(c.getenv).MetricsAddr()
	if err != nil {
		return nil, err
	}
	chakra, err := config.Vars(c.getenv).ChakraAddr()
	if err != nil {
		return nil, err
	}
	configured, err := monitoring.Exporters(c.getenv("RAZAR_EXPORTERS"), config.NearestName)
	if err != nil {
		return nil, err
	}
	return monitoring.DefaultEndpoints(metrics, chakra, configured), nil
}
