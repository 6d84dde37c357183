package host

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The guard's rule, request by request: the listener's own names and
// addresses pass, any IP reaches /metrics, and every other name is refused
// whatever its case, port or trailing dot.
func TestHostGuardAnswersOnlyItsOwnNames(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	g := newHostGuard("10.0.0.5:9360", StatusHosts("razar.ops.example, Dash.Example."), ok)
	local := &net.TCPAddr{IP: net.ParseIP("192.168.1.9"), Port: 9360}
	for _, tt := range []struct {
		host, path string
		want       int
	}{
		{"", "/", 200},
		{"localhost", "/", 200},
		{"app.localhost:9360", "/", 200},
		{"127.0.0.2:9360", "/", 200},
		{"[::1]:9360", "/", 200},
		{"10.0.0.5:9360", "/", 200},
		{"192.168.1.9:9360", "/", 200},
		{"RAZAR.ops.example.", "/", 200},
		{"dash.example:443", "/", 200},
		{"172.16.0.1:9360", "/metrics", 200},
		{"172.16.0.1:9360", "/", http.StatusMisdirectedRequest},
		{"evil.example", "/metrics", http.StatusMisdirectedRequest},
		{"localhost.evil.example", "/", http.StatusMisdirectedRequest},
		{"razar.ops.example.evil.example", "/", http.StatusMisdirectedRequest},
		{"127.0.0.1.nip.io", "/", http.StatusMisdirectedRequest},
	} {
		req := httptest.NewRequest("GET", tt.path, nil)
		req.Host = tt.host
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, local))
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("Host %q %s: %d, want %d", tt.host, tt.path, rec.Code, tt.want)
		}
	}
	if g := newHostGuard("0.0.0.0:9360", nil, ok); len(g.allowed) != 0 {
		t.Errorf("an unspecified listen address is taken as a name: %v", g.allowed)
	}
}
