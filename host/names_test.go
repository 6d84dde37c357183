package host

import (
	"net"
	"testing"
)

// state/nats.url never keeps a password of RAZAR_NATS_URL.
func TestStripUserinfoDropsEachURLsCredentials(t *testing.T) {
	got := stripUserinfo("nats://razar:secret@a:4222, nats://b:4222,tls://u@c:4443")
	if want := "nats://a:4222,nats://b:4222,tls://c:4443"; got != want {
		t.Errorf("stripUserinfo: %q, want %q", got, want)
	}
}

// Alerts link to RAZAR_STATUS_URL, else to the metrics listener, named by
// the first status host or the host name when it listens everywhere.
func TestStatusURLNamesAPageAnOperatorCanOpen(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    Variables
		want string
	}{
		{"set", Variables{StatusURL: "https://razar.example/", MetricsAddr: "127.0.0.1:9360"}, "https://razar.example/"},
		{"loopback", Variables{MetricsAddr: "127.0.0.1:9360", HostName: "h1"}, "http://127.0.0.1:9360/"},
		{"everywhere", Variables{MetricsAddr: ":9360", HostName: "h1"}, "http://h1:9360/"},
		{"everywhere with a status host", Variables{MetricsAddr: "0.0.0.0:9360", HostName: "h1", StatusHosts: []string{"dash.example"}}, "http://dash.example:9360/"},
		{"malformed", Variables{MetricsAddr: "nonsense"}, ""},
	} {
		h := &Host{cfg: Config{Variables: tt.v}}
		if got := h.statusURL(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := &Host{cfg: Config{Variables: Variables{MetricsAddr: "127.0.0.1:0"}}, ln: ln}
	if got, want := h.statusURL(), "http://"+ln.Addr().String()+"/"; got != want {
		t.Errorf("with port 0: %q, want the port it listens on, %q", got, want)
	}
}
