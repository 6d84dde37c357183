package jetstream

import (
	"strings"
	"testing"
)

// TestLeafDomainFromHostIsAValidDomain: whatever the hostname, the domain
// made of it is one JetStream accepts, and names stay readable.
func TestLeafDomainFromHostIsAValidDomain(t *testing.T) {
	for _, tt := range []struct{ host, want string }{
		{"web-01", "web-01"},
		{"Web-01.prod.example.com", "web-01"},
		{"host with spaces", "host_with_spaces"},
		{"a*b>c$d", "a_b_c_d"},
		{"", "razar"},
		{".example.com", "razar"},
		{"ünïcode", "_n_code"},
	} {
		got := DomainFromHost(tt.host)
		if got != tt.want {
			t.Errorf("DomainFromHost(%q) = %q, want %q", tt.host, got, tt.want)
		}
		if err := ValidDomain(got); err != nil {
			t.Errorf("DomainFromHost(%q) = %q: %v", tt.host, got, err)
		}
	}
	for _, bad := range []string{"", "a.b", "a b", "a*", "a>", "$JS"} {
		if ValidDomain(bad) == nil {
			t.Errorf("ValidDomain(%q) accepted it", bad)
		}
	}
}

// TestLeafStartServerRefusesALeafWithoutIdentities: only account RAZAR may
// cross a leaf link, so a server without identities cannot be one.
func TestLeafStartServerRefusesALeafWithoutIdentities(t *testing.T) {
	_, err := StartServer(ServerConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1", Domain: "h1", Leaf: &Leaf{URLs: "nats://127.0.0.1:7422"}})
	if err == nil {
		t.Fatal("a leaf node without identities started")
	}
}

// TestLeafBadURLErrorNamesItWithoutThePassword: a --leaf URL RAZAR cannot
// use is named in the error, its password not.
func TestLeafBadURLErrorNamesItWithoutThePassword(t *testing.T) {
	for _, u := range []string{"http://leaf:s3cr3t-pw@hub:7422", "nats://leaf:s3cr3t-pw@", ""} {
		_, err := leafRemote(&Leaf{URLs: u}, "ACC", "h1")
		if err == nil {
			t.Fatalf("leaf URL %q accepted", u)
		}
		if strings.Contains(err.Error(), "s3cr3t-pw") || !strings.Contains(err.Error(), "--leaf") {
			t.Errorf("leaf URL %q: error %q: want it to name --leaf, not the password", u, err)
		}
	}
	r, err := leafRemote(&Leaf{URLs: "nats://leaf:pw@hub:7422, tls://hub2:7422"}, "ACC", "h1")
	if err != nil || len(r.URLs) != 2 || !r.TLS || r.LocalAccount != "ACC" {
		t.Fatalf("two hub URLs: %+v, %v", r, err)
	}
}
