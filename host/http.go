package host

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/razar/razar/statuspage"
)

// metricsMux serves /metrics and, with RAZAR_PPROF=1, the Go profiles
// under /debug/pprof/ on the same (loopback by default) listener; the
// status page answers everything else.
func metricsMux(reg *prometheus.Registry, profiles bool, page http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if profiles {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/", page)
	return mux
}

// metricsHandler is the metrics listener's handler: the host guard over
// /metrics, the profiles and the status page.
func (h *Host) metricsHandler() http.Handler {
	page := &statuspage.Page{
		Status:      pageStatus{h},
		Incidents:   h.store,
		Escalations: h.home().Invocations(),
		Patches:     h.home().PatchHistory(),
		Warn: func(err error, msg, incident string) {
			ev := h.log.Warn().Err(err)
			if incident != "" {
				ev = ev.Str("incident", incident)
			}
			ev.Msg(msg)
		},
	}
	v := h.cfg.Variables
	return newHostGuard(v.MetricsAddr, v.StatusHosts, metricsMux(h.reg, v.Pprof, page))
}
