package agents

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestHTTPKeyNeverFollowsARedirectToAnotherPort: an endpoint that redirects
// to another port of the same host (Go's client would forward the key
// there: it compares hosts only) gets the key; the redirect target does
// not, though it still gets the escalation and its answer counts.
func TestHTTPKeyNeverFollowsARedirectToAnotherPort(t *testing.T) {
	other := newAgentServer(t, reply(http.StatusOK, `{"status":"no_fix","summary":"from the other port"}`))
	endpoint := newAgentServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, other.URL+"/repair", http.StatusTemporaryRedirect)
	})
	if endpoint.host() == other.host() {
		t.Fatal("both servers on one port")
	}
	fix, err := repairWithin(t, newTestHTTP(t, endpoint, nil), openAITask(), 5*time.Second)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	if fix.Summary != "from the other port" {
		t.Fatalf("Repair = %+v", fix)
	}
	if reqs := endpoint.requests(); len(reqs) != 1 || reqs[0].Auth != "Bearer "+testToken {
		t.Fatalf("the endpoint saw %+v, want one request with the key", reqs)
	}
	reqs := other.requests()
	if len(reqs) != 1 {
		t.Fatalf("the redirect target saw %d requests, want 1", len(reqs))
	}
	if reqs[0].Auth != "" {
		t.Fatalf("the redirect target got Authorization %q", reqs[0].Auth)
	}
	if reqs[0].Method != http.MethodPost || len(reqs[0].Body) == 0 {
		t.Fatalf("the redirect target got %s with %d bytes, want the escalation", reqs[0].Method, len(reqs[0].Body))
	}
}

// TestHTTPKeyFollowsARedirectWithinItsOrigin: a redirect to another path
// of the endpoint's own scheme, host and port keeps the key.
func TestHTTPKeyFollowsARedirectWithinItsOrigin(t *testing.T) {
	as := newAgentServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			http.Redirect(w, r, "/v2/repair", http.StatusPermanentRedirect)
			return
		}
		reply(http.StatusOK, `{"status":"no_fix"}`)(w, r, n)
	})
	if _, err := repairWithin(t, newTestHTTP(t, as, nil), openAITask(), 5*time.Second); err != nil {
		t.Fatalf("Repair = %v", err)
	}
	reqs := as.requests()
	if len(reqs) != 2 || reqs[1].Auth != "Bearer "+testToken {
		t.Fatalf("requests %+v, want the redirected one with the key", reqs)
	}
}

func TestOriginMakesTheDefaultPortExplicit(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"https://api.example/v1", "https://API.example:443/v2", true},
		{"http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a", false},
		{"https://api.example/v1", "http://api.example/v1", false},
		{"http://[::1]:80/", "http://[::1]/x", true},
	} {
		a, b := mustURL(t, tt.a), mustURL(t, tt.b)
		if got := origin(a) == origin(b); got != tt.same {
			t.Errorf("origin(%s) == origin(%s): %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
