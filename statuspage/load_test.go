package statuspage

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// TestLoadReadsTheStoreAndTheStreamOfOneIncident: on a real JetStream
// store, Load finds an incident's records among another incident's, from
// its stored key (with the tool calls refused outside its attempts, which
// are RAZAR's own records) or, once the key has expired, from the time in
// its id;
// an unknown id is razar.ErrNotFound, a malformed one ErrBadID.
func TestLoadReadsTheStoreAndTheStreamOfOneIncident(t *testing.T) {
	env := bustest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	now := time.Now().UTC()
	stored := "inc-" + now.Format("20060102-150405") + "-aaaaaa"
	expired := "inc-" + now.Format("20060102-150405") + "-bbbbbb"
	if _, err := env.Store.CreateIncident(ctx, &bus.IncidentRecord{ID: stored, Component: "web", Error: "web: down",
		State: razar.IncidentOpen, Opened: now, Updated: now, Tokens: razar.Usage{Prompt: 40, Completion: 2}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*bus.AuditRecord{
		{Event: bus.EventContext, Component: "web", Incident: stored, Agent: "k2", Attempt: 1, Op: "read", Path: "app.conf", Verdict: "ok", Bytes: 12},
		{Event: bus.EventAttempt, Component: "db", Incident: expired, Agent: "k2", Attempt: 1, Outcome: "no_fix", Usage: &razar.Usage{Prompt: 9}},
		{Event: bus.EventAttempt, Component: "web", Incident: stored, Agent: "k2", Attempt: 1, Outcome: "no_fix"},
		{Event: bus.EventContext, Component: bus.SystemComponent, Incident: stored, Agent: "k2", Op: "read", Path: "late.conf", Verdict: "refused: not pending"},
	} {
		if err := env.Store.Audit(ctx, r, ""); err != nil {
			t.Fatal(err)
		}
	}
	inc, err := Load(ctx, env.Store, stored)
	if err != nil {
		t.Fatal(err)
	}
	if !inc.Stored || inc.Component != "web" || inc.Tokens.Prompt != 40 || len(inc.Attempts) != 1 || len(inc.Attempts[0].Calls) != 1 || inc.Attempts[0].Outcome != "no_fix" {
		t.Fatalf("stored incident: %+v", inc)
	}
	if n := len(inc.Events); n != 1 || !strings.Contains(inc.Events[0].Text, "read late.conf by k2 outside any attempt: refused: not pending") {
		t.Errorf("the call refused after the attempt, recorded as RAZAR's own: %+v", inc.Events)
	}
	inc, err = Load(ctx, env.Store, expired)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Stored || inc.Component != "db" || inc.Tokens.Prompt != 9 || len(inc.Attempts) != 1 || len(inc.Attempts[0].Calls) != 0 {
		t.Fatalf("expired incident: %+v", inc)
	}
	for _, unknown := range []string{"inc-20990101-000000-c0ffee", "a/b", "inc-timeless"} {
		if _, err := Load(ctx, env.Store, unknown); !errors.Is(err, razar.ErrNotFound) {
			t.Errorf("unknown incident %s: %v, want razar.ErrNotFound", unknown, err)
		}
	}
	for _, bad := range []string{"", "inc.>", "a b"} {
		if _, err := Load(ctx, env.Store, bad); !errors.Is(err, ErrBadID) {
			t.Errorf("id %q: %v, want ErrBadID", bad, err)
		}
	}
}
