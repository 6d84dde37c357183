package host

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/razar/razar/internal/cut"
)

// hostGuard answers only requests addressed to one of the metrics
// listener's own host names, so a web page whose name an attacker points
// at 127.0.0.1 (DNS rebinding) cannot read the status page or the
// profiles from the operator's browser. A request's Host is accepted when
// it is, without its port:
//   - localhost, a name under .localhost, or a loopback address;
//   - the address the request arrived at (an IP typed as such);
//   - the host of RAZAR_METRICS_ADDR, or a name or address in
//     RAZAR_STATUS_HOSTS (comma- or space-separated);
//   - for /metrics only, any IP address: Prometheus sends its target
//     (IP:port) as Host, and no rebinding page can be named by an IP.
//
// Any other Host is answered 421 Misdirected Request with a body saying
// how to open the page. A request without a Host (HTTP/1.0) comes from no
// browser and passes.
type hostGuard struct {
	allowed map[string]bool // lower case, no port, no trailing dot
	next    http.Handler
}

// newHostGuard guards next with the host names of metricsAddr and the
// extra names (RAZAR_STATUS_HOSTS).
func newHostGuard(metricsAddr string, extra []string, next http.Handler) *hostGuard {
	g := &hostGuard{allowed: map[string]bool{}, next: next}
	if host, _, err := net.SplitHostPort(metricsAddr); err == nil {
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			g.allowed[canonicalHost(host)] = true
		}
	}
	for _, h := range extra {
		if h = canonicalHost(h); h != "" {
			g.allowed[h] = true
		}
	}
	return g
}

// StatusHosts splits RAZAR_STATUS_HOSTS into names.
func StatusHosts(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// canonicalHost is host without a port, brackets or trailing dot, in lower case.
func canonicalHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// ServeHTTP answers a request addressed to one of the listener's names,
// and refuses any other with 421 Misdirected Request.
func (g *hostGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.ok(r) {
		g.next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusMisdirectedRequest)
	fmt.Fprintf(w, "razar: this listener does not answer to the host name %q (a guard against DNS rebinding).\n"+
		"Open it by the address it listens on (http://127.0.0.1:PORT/), or add the name to RAZAR_STATUS_HOSTS and run razar boot again.\n",
		cut.Sanitize(canonicalHost(r.Host)))
}

func (g *hostGuard) ok(r *http.Request) bool {
	if r.Host == "" {
		return true
	}
	host := canonicalHost(r.Host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || g.allowed[host] {
		return true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() || r.URL.Path == "/metrics" {
		return true
	}
	if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ta, ok := local.(*net.TCPAddr); ok && ta.IP.Equal(ip) {
			return true
		}
	}
	return false
}
