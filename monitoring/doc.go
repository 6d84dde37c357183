// Package monitoring checks that the /metrics endpoints a RAZAR host's
// monitoring reads are there and answer with series: RAZAR's own, the
// chakra heartbeat service's and the host exporters (node exporter,
// cAdvisor, a GPU exporter). It is `razar verify-monitoring` below the
// CLI; the directory also holds the Prometheus rules, their tests and the
// dashboard that read those endpoints.
//
// It is an HTTP client of /metrics and nothing else: no bus, no store, so
// it works with RAZAR stopped.
//
// Concurrency: Verify probes the endpoints in parallel and returns when
// every probe has; the other functions are pure.
package monitoring
