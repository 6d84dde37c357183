package bus_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
)

func TestRedactURLHidesPasswordsAndTokensInEveryEntry(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://alice:s3cret@nats.example:4222", "nats://alice:xxxxx@nats.example:4222"},
		{"nats://t0ken@nats.example:4222", "nats://xxxxx@nats.example:4222"},
		{"tls://alice:s3cret@a:4222, nats://t0ken@b:4222,nats://c:4222", "tls://alice:xxxxx@a:4222, nats://xxxxx@b:4222,nats://c:4222"},
		// Unparsable: everything up to the last @ goes.
		{"nats://alice:s3%zzcret@a:4222", "nats://xxxxx@a:4222"},
		{"nats://alice:s3/cret@a:4222", "nats://xxxxx@a:4222"},
		{"alice:s3cret@a:4222", "xxxxx@a:4222"},
		{"", ""},
	} {
		if got := bus.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return strconv.Itoa(port)
}

// TestConnectErrorsNeverHoldTheURLsCredentials: whether the server is
// unreachable or the URL does not parse, Connect's error names the server
// without the password or token the user put in the URL.
func TestConnectErrorsNeverHoldTheURLsCredentials(t *testing.T) {
	port := closedPort(t)
	for name, url := range map[string]string{
		"unreachable cluster": "nats://alice:s3cret@127.0.0.1:" + port + ",nats://t0ken@127.0.0.1:" + port,
		"unparsable":          "nats://alice:s3cret%zz@127.0.0.1:" + port,
		"password with slash": "nats://alice:s3/cret@127.0.0.1:" + port,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		nc, err := bus.Connect(ctx, url, "test", zerolog.Nop())
		cancel()
		if err == nil {
			nc.Close()
			t.Fatalf("%s: connected", name)
		}
		msg := err.Error()
		for _, secret := range []string{"s3cret", "t0ken", "s3/cret", "cret"} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: error holds %q: %s", name, secret, msg)
			}
		}
		if !strings.Contains(msg, "127.0.0.1:"+port) || !strings.Contains(msg, "xxxxx") {
			t.Errorf("%s: error does not name the redacted server: %s", name, msg)
		}
	}
}
