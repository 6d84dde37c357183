package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/jetstream/bustest"
)

// A browser page whose name an attacker rebinds to 127.0.0.1 sends its own
// name as Host: the status page and /metrics refuse it with 421 and say
// how to open them, while loopback names, the configured RAZAR_STATUS_HOSTS
// and, for /metrics, a scraper's IP:port target are answered.
func TestStatusPageRefusesAForgedHostHeader(t *testing.T) {
	t.Parallel()
	h := home(t, crownRoster, nil)
	port := bustest.FreePort(t)
	boot(t, h, []string{fmt.Sprintf("RAZAR_METRICS_PORT=%d", port), "RAZAR_STATUS_HOSTS=razar.example, ops.internal"}, "--nats-listen", "127.0.0.1:0")
	get := func(host, path string) (int, string) {
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	self := fmt.Sprintf("127.0.0.1:%d", port)
	bustest.Eventually(t, 20*time.Second, func() bool { code, _ := get(self, "/"); return code == 200 }, "the status page never answered on %s", self)
	for _, tt := range []struct {
		host, path string
		want       int
	}{
		{"evil.example", "/", http.StatusMisdirectedRequest},
		{fmt.Sprintf("evil.example:%d", port), "/", http.StatusMisdirectedRequest},
		{"rebind.attacker.test.", "/", http.StatusMisdirectedRequest},
		{"10.9.8.7:9360", "/", http.StatusMisdirectedRequest},
		{"evil.example", "/metrics", http.StatusMisdirectedRequest},
		{self, "/", 200},
		{fmt.Sprintf("localhost:%d", port), "/", 200},
		{fmt.Sprintf("[::1]:%d", port), "/", 200},
		{"RAZAR.example:9360", "/", 200},
		{"ops.internal", "/", 200},
		{self, "/metrics", 200},
		{"10.9.8.7:9360", "/metrics", 200},
	} {
		code, body := get(tt.host, tt.path)
		if code != tt.want {
			t.Errorf("GET %s with Host %q: %d, want %d:\n%.300s", tt.path, tt.host, code, tt.want, body)
			continue
		}
		switch {
		case code == http.StatusMisdirectedRequest && (!strings.Contains(body, "RAZAR_STATUS_HOSTS") || strings.Contains(body, "razar_component_up") || strings.Contains(body, "<h2>")):
			t.Errorf("the refusal for Host %q does not say how to open the page, or shows it:\n%s", tt.host, body)
		case code == 200 && tt.path == "/metrics" && !strings.Contains(body, "razar_component_up"):
			t.Errorf("/metrics for Host %q has no metrics:\n%.300s", tt.host, body)
		}
	}
}
