package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/razar/razar/auth"
)

// TestTwoPersonRuleNeedsTwoDistinctOperators: one key twice, a name equal
// but for case, an observer and a name RAZAR does not mint add nothing;
// a second distinct operator approves, the change is used once and only
// for its own digest; a rejected request takes no approval.
func TestTwoPersonRuleNeedsTwoDistinctOperators(t *testing.T) {
	a := auth.NewApprovals()
	alice := auth.Identity{Name: "alice", Role: auth.Operator, Key: "UALICE"}
	r := a.Open("rot-", "k2: A -> B", "d1", alice, time.Minute)
	if _, err := a.Approve(r.ID, alice); err != nil {
		t.Fatal(err)
	}
	for _, who := range []auth.Identity{
		alice,
		{Name: "ALICE", Role: auth.Operator, Key: "UOTHER"},
		{Name: "alice", Role: auth.Operator, Key: "UTWIN"},
		{Name: "carol", Role: auth.Observer, Key: "UCAROL"},
		{Name: "\u0430lice", Role: auth.Operator, Key: "UHOMOGLYPH"},
	} {
		got, err := a.Approve(r.ID, who)
		if err == nil || len(got.Approvers) > 1 {
			t.Fatalf("approval by %+v: %v, approvers %v; want refused", who, err, got.Approvers)
		}
	}
	if _, err := a.Use(r.ID, "d1"); err == nil {
		t.Fatal("a request with one approval was used")
	}
	got, err := a.Approve(r.ID, auth.Identity{Name: "bob", Role: auth.Operator, Key: "UBOB"})
	if err != nil || got.State(time.Now()) != "approved" {
		t.Fatalf("bob's approval: %v, state %s", err, got.State(time.Now()))
	}
	if w, err := a.Wait(context.Background(), r.ID); err != nil || w.State(time.Now()) != "approved" {
		t.Fatalf("Wait = %v, %v", w, err)
	}
	if _, err := a.Use(r.ID, "d2"); err == nil {
		t.Fatal("an approval was used for another change")
	}
	if _, err := a.Use(r.ID, "d1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Use(r.ID, "d1"); err == nil {
		t.Fatal("an approval was used twice")
	}

	x := a.Open("rot-", "k2: A -> C", "d3", alice, time.Minute)
	if _, err := a.Reject(x.ID, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Approve(x.ID, auth.Identity{Name: "bob", Role: auth.Operator, Key: "UBOB"}); err == nil {
		t.Fatal("a rejected request took an approval")
	}
	if _, err := a.Approve("rot-nothing", alice); !errors.Is(err, auth.ErrNoSuchRequest) {
		t.Fatalf("approval of nothing: %v", err)
	}
}
