package rotation

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
)

// audit keeps the records a Verbs stores.
type audit struct {
	mu   sync.Mutex
	recs []*bus.AuditRecord
}

func (a *audit) store(_ context.Context, rec *bus.AuditRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, rec)
	return nil
}

var (
	alice = auth.Identity{Name: "alice", Role: auth.Operator, Key: "UALICE"}
	bob   = auth.Identity{Name: "bob", Role: auth.Operator, Key: "UBOB"}
	eve   = auth.Identity{Name: "eve", Role: auth.Observer, Key: "UEVE"}
)

// state decodes a rotation verb's reply.
func state(t *testing.T, rep *bus.LifecycleReply) (id, st string) {
	t.Helper()
	var r struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if err := json.Unmarshal(rep.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r.ID, r.State
}

// A rotation opened by an operator is approved by two distinct operator
// identities, recorded once approved, and its rotation record is accepted
// once, with the approvers the verbs saw, not those the CLI wrote.
func TestRotationNeedsTwoOperatorsAndIsRecordedOnce(t *testing.T) {
	ctx := context.Background()
	var a audit
	v := New(a.store, zerolog.Nop())
	digest := strings.Repeat("ab", 32)
	rep, err := v.open(ctx, bus.AllComponents, &bus.LifecycleRequest{Who: &alice, Summary: "k2: A -> B", Digest: digest})
	if err != nil {
		t.Fatal(err)
	}
	id, st := state(t, rep)
	if !strings.HasPrefix(id, Prefix) || st != "pending" {
		t.Fatalf("opened %q %s, want a pending %s... rotation", id, st, Prefix)
	}
	approve, reject := v.decide(true), v.decide(false)
	if _, err := approve(ctx, bus.AllComponents, &bus.LifecycleRequest{Who: &eve, Patch: id}); !errors.Is(err, bus.ErrForbidden) {
		t.Errorf("an observer's approval: %v, want ErrForbidden", err)
	}
	if _, err := approve(ctx, bus.AllComponents, &bus.LifecycleRequest{Who: &alice, Patch: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := approve(ctx, bus.AllComponents, &bus.LifecycleRequest{Who: &alice, Patch: id}); !errors.Is(err, bus.ErrForbidden) {
		t.Errorf("a second approval by the same identity: %v, want ErrForbidden", err)
	}
	if len(a.recs) != 0 {
		t.Fatalf("recorded %d records after one approval", len(a.recs))
	}
	rep, err = approve(ctx, bus.AllComponents, &bus.LifecycleRequest{Who: &bob, Patch: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, st := state(t, rep); st != "approved" || len(a.recs) != 1 || a.recs[0].Status != "approved" || a.recs[0].Actor != "bob" {
		t.Fatalf("after two approvals: %s, records %+v", st, a.recs)
	}
	if _, err := reject(ctx, bus.AllComponents, &bus.LifecycleRequest{Who: &bob, Patch: id}); err == nil {
		t.Error("an approved rotation was rejected")
	}
	rec := &bus.AuditRecord{Event: bus.EventRotation, Data: json.RawMessage(`{"rotation":"` + id + `","digest":"` + digest + `","approvers":[{"name":"mallory"}]}`)}
	if err := v.Approved(rec); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec.Data), "mallory") || !strings.Contains(rec.Message, "alice (UALICE) and bob (UBOB)") {
		t.Errorf("the record keeps what the CLI wrote: %s / %s", rec.Data, rec.Message)
	}
	if err := v.Approved(rec); !errors.Is(err, bus.ErrForbidden) {
		t.Errorf("a rotation applied twice: %v, want ErrForbidden", err)
	}
}

// A rotation is about the roster: sent about a component, without a plan
// or by someone who is not an operator, it is refused.
func TestRotationOpenRefusesWhatIsNoRotation(t *testing.T) {
	v := New((&audit{}).store, zerolog.Nop())
	digest := strings.Repeat("0", 64)
	for _, tt := range []struct {
		name      string
		component string
		req       *bus.LifecycleRequest
		want      error
	}{
		{"one component", "web", &bus.LifecycleRequest{Who: &alice, Summary: "x", Digest: digest}, razar.ErrBadPayload},
		{"no identity", bus.AllComponents, &bus.LifecycleRequest{Summary: "x", Digest: digest}, bus.ErrForbidden},
		{"an observer", bus.AllComponents, &bus.LifecycleRequest{Who: &eve, Summary: "x", Digest: digest}, bus.ErrForbidden},
		{"no plan", bus.AllComponents, &bus.LifecycleRequest{Who: &alice, Digest: digest}, razar.ErrBadPayload},
		{"a short digest", bus.AllComponents, &bus.LifecycleRequest{Who: &alice, Summary: "x", Digest: "abc"}, razar.ErrBadPayload},
	} {
		if _, err := v.open(context.Background(), tt.component, tt.req); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := v.Approved(&bus.AuditRecord{Data: json.RawMessage(`[]`)}); !errors.Is(err, razar.ErrBadPayload) {
		t.Errorf("record data that is no object: %v, want ErrBadPayload", err)
	}
}
