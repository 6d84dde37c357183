package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/razar/razar"
	"github.com/razar/razar/jetstream/bustest"
)

// Secrets of three kinds an operator might paste into `razar escalate
// --error`: a NATS seed and a JWT (shapes), and a value the roster's
// "redact" pattern names.
const (
	pastedSeed = "SAAML6YAUPCHSM4HUGNDGW5R3RRE72V6B53Z2M3G3WFI375YXSCSSNU5LM"
	pastedJWT  = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJBQkNERUZHSElKS0xNTk9QIiwibmFtZSI6Im9wZXJhdG9yIn0.c2lnbmF0dXJlLWJ5dGVz"
	pastedPass = "hunter4242"
)

// An escalation whose --error carries a seed, a JWT and a roster-redacted
// password heals as usual, and nothing any observer of the bus receives
// (the lifecycle request, the escalation, the records), nor what the rung
// is handed, holds any of them.
func TestEscalateErrorWithSecretsReachesNoObserver(t *testing.T) {
	t.Parallel()
	seenPath := filepath.Join(t.TempDir(), "rung-stdin.json")
	roster := `{"agents": [{"name": "k2", "backend": "exec", "command": ["sh", "agents/fix.sh"], "timeout": "20s", "redact": ["hunter[0-9]+"]}]}`
	h := home(t, roster, map[string]string{
		"agents/fix.sh": "#!/bin/sh\ncat >" + seenPath + "\nrm -f \"$RAZAR_WORKDIR/broken\"\necho '{\"status\": \"fixed\", \"summary\": \"removed broken\"}'\n",
	})
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	obs := mustDial(t, h, url, "observer")
	var mu sync.Mutex
	var seen []string
	sub, err := obs.nc.Subscribe("razar.>", func(m *nats.Msg) {
		mu.Lock()
		seen = append(seen, m.Subject+" "+string(m.Data))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "db login failed: password "+pastedPass+", creds seed "+pastedSeed+" jwt "+pastedJWT)
	if code := esc.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("escalate exit %d:\n%s", code, esc.out)
	}
	if !strings.Contains(esc.out.String(), "held secrets") {
		t.Errorf("escalate did not tell the operator the text was scrubbed:\n%s", esc.out)
	}
	// The observer has seen the request and the records up to healed.
	bustest.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		var req, healed bool
		for _, s := range seen {
			req = req || strings.HasPrefix(s, "razar.lifecycle.escalate.web ")
			healed = healed || strings.HasPrefix(s, "razar.audit.web.healed ")
		}
		return req && healed
	}, "the observer never saw the escalate request and the healed record")
	_ = sub.Unsubscribe()
	mu.Lock()
	defer mu.Unlock()
	var redacted bool
	for _, s := range seen {
		for _, secret := range []string{pastedSeed, pastedJWT[:30], pastedPass} {
			if strings.Contains(s, secret) {
				t.Errorf("an observer received %q:\n%s", secret, s)
			}
		}
		redacted = redacted || strings.HasPrefix(s, "razar.lifecycle.escalate.web ") && strings.Count(s, razar.Redacted) >= 3
	}
	if !redacted {
		t.Errorf("the escalate request does not carry the three secrets as %s", razar.Redacted)
	}
	stdin, err := os.ReadFile(seenPath)
	if err != nil {
		t.Fatalf("the rung never got its escalation: %v", err)
	}
	for _, secret := range []string{pastedSeed, pastedJWT[:30], pastedPass} {
		if strings.Contains(string(stdin), secret) {
			t.Errorf("the rung was handed %q", secret)
		}
	}
}
