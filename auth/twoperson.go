package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Required is how many distinct operator identities a two-person rule
// needs.
const Required = 2

// ErrNoSuchRequest is wrapped when an approval names no open request.
var ErrNoSuchRequest = errors.New("no such request waiting for approval")

// ErrNotDistinct is wrapped when an approval would not come from another
// person: the same key, or a name that is the same ignoring case.
var ErrNotDistinct = errors.New("not a second person")

// Request is one change waiting for a two-person rule: what it is, who
// opened it, and the operator identities that approved it so far.
type Request struct {
	ID        string     `json:"id"`
	What      string     `json:"what"`
	Digest    string     `json:"digest"` // of the exact change approved, e.g. the rotated roster's sha256
	OpenedBy  Identity   `json:"opened_by"`
	Opened    time.Time  `json:"opened"`
	Expires   time.Time  `json:"expires"`
	Approvers []Identity `json:"approvers,omitempty"`
	Rejected  *Identity  `json:"rejected_by,omitempty"`
	Used      bool       `json:"used,omitempty"` // the approved change was applied (Use)
}

// State is "pending", "approved", "rejected" or "expired" at now.
func (r *Request) State(now time.Time) string {
	switch {
	case r.Rejected != nil:
		return "rejected"
	case len(r.Approvers) >= Required:
		return "approved"
	case !now.Before(r.Expires):
		return "expired"
	}
	return "pending"
}

// Approvals holds the requests waiting for a two-person rule: each needs
// Required approvals from distinct operator identities, told apart by
// their public keys and by their names (ignoring case; a name must be an
// identity name RAZAR mints, ASCII only, so a homoglyph of another cannot
// pass as a second person). Safe for concurrent use; it lives in memory
// only: a restart of RAZAR drops what waits, and the change is asked for
// again.
type Approvals struct {
	mu      sync.Mutex
	reqs    map[string]*Request
	changed chan struct{} // closed and replaced at every change
	now     func() time.Time
}

// NewApprovals returns an empty set of requests.
func NewApprovals() *Approvals {
	return &Approvals{reqs: map[string]*Request{}, changed: make(chan struct{}), now: time.Now}
}

// Open adds a request for the change what (with digest, which the
// approvals bind to), opened by identity by, open for ttl; the id starts
// with prefix ("rot-").
func (a *Approvals) Open(prefix, what, digest string, by Identity, ttl time.Duration) Request {
	var b [4]byte
	_, _ = rand.Read(b[:])
	now := a.now()
	r := &Request{ID: prefix + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:]), What: what, Digest: digest,
		OpenedBy: by, Opened: now, Expires: now.Add(ttl)}
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, old := range a.reqs { // forget what ended long ago
		if now.Sub(old.Expires) > time.Hour {
			delete(a.reqs, id)
		}
	}
	a.reqs[r.ID] = r
	a.signalLocked()
	return *r
}

// Approve records who's approval of request id and returns the request
// as it is then. Refused (the request unchanged): an identity that is not
// an operator, an id that names nothing, a request that is no longer
// pending, and a second approval by the same person (ErrNotDistinct).
func (a *Approvals) Approve(id string, who Identity) (Request, error) {
	return a.decide(id, who, true)
}

// Reject ends request id: it is never applied.
func (a *Approvals) Reject(id string, who Identity) (Request, error) {
	return a.decide(id, who, false)
}

func (a *Approvals) decide(id string, who Identity, approve bool) (Request, error) {
	if who.Role != Operator {
		return Request{}, fmt.Errorf("identity %s is not an operator: approvals are given by operator identities (`razar identity add <name> --role operator`)", who)
	}
	if err := ValidName(who.Name); err != nil || who.Key == "" {
		return Request{}, fmt.Errorf("identity %q cannot approve: its name is not one RAZAR mints", who.Name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.reqs[id]
	if !ok {
		return Request{}, fmt.Errorf("%w: %q", ErrNoSuchRequest, id)
	}
	if st := r.State(a.now()); st != "pending" {
		return *r, fmt.Errorf("request %s is %s, no longer waiting for approval", id, st)
	}
	if !approve {
		r.Rejected = &who
		a.signalLocked()
		return *r, nil
	}
	for _, prev := range r.Approvers {
		if prev.Key == who.Key || strings.EqualFold(prev.Name, who.Name) {
			return *r, fmt.Errorf("%w: %s already approved %s (as %s); another operator identity must give the second approval", ErrNotDistinct, who, id, prev)
		}
	}
	r.Approvers = append(r.Approvers, who)
	a.signalLocked()
	return *r, nil
}

// Use marks approved request id as applied, once: the same approvals
// never apply a change twice. It returns the request.
func (a *Approvals) Use(id, digest string) (Request, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.reqs[id]
	if !ok {
		return Request{}, fmt.Errorf("%w: %q", ErrNoSuchRequest, id)
	}
	switch {
	case r.State(a.now()) != "approved":
		return *r, fmt.Errorf("request %s is %s, not approved", id, r.State(a.now()))
	case r.Used:
		return *r, fmt.Errorf("request %s was applied already", id)
	case r.Digest != digest:
		return *r, fmt.Errorf("request %s was approved for another change", id)
	}
	r.Used = true
	a.signalLocked()
	return *r, nil
}

// Wait returns request id once it is no longer pending, or as it is when
// ctx ends (then with ctx's error).
func (a *Approvals) Wait(ctx context.Context, id string) (Request, error) {
	for {
		a.mu.Lock()
		r, ok := a.reqs[id]
		ch := a.changed
		var cur Request
		var until time.Duration
		if ok {
			cur, until = *r, r.Expires.Sub(a.now())
		}
		a.mu.Unlock()
		if !ok {
			return Request{}, fmt.Errorf("%w: %q", ErrNoSuchRequest, id)
		}
		if cur.State(a.now()) != "pending" {
			return cur, nil
		}
		t := time.NewTimer(until)
		select {
		case <-ctx.Done():
			t.Stop()
			return cur, ctx.Err()
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}

func (a *Approvals) signalLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}
