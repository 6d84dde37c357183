package jetstream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/razar/razar/bus"
)

// FollowIncident follows one incident of component as it happens: it
// subscribes to the component's audit records first, so no step is missed,
// then calls open, which starts or finds the incident and returns its id;
// each of that incident's records goes to each, in order, until the
// incident ends. The store is checked now and then too, for an incident
// that ended before the subscription. It returns the final incident
// record, or ctx's error with the incident still going on.
func (s *Store) FollowIncident(ctx context.Context, component string, open func(context.Context) (string, error), each func(*bus.AuditRecord)) (*bus.IncidentRecord, error) {
	f := &incidentFilter{recs: make(chan *bus.AuditRecord, 256)}
	sub, err := s.nc.Subscribe(bus.AuditComponent(component), f.receive)
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", bus.AuditComponent(component), err)
	}
	defer sub.Unsubscribe()
	id, err := open(ctx)
	if err != nil {
		return nil, err
	}
	f.adopt(id)
	return s.followUntilEnd(ctx, id, f.recs, each)
}

// incidentFilter passes on one incident's audit records. Until the
// incident is known it holds every record; adopt then lets the held ones
// of that incident through.
type incidentFilter struct {
	mu       sync.Mutex
	incident string
	held     []*bus.AuditRecord
	recs     chan *bus.AuditRecord
}

// receive is the subscription's handler.
func (f *incidentFilter) receive(m *nats.Msg) {
	var r bus.AuditRecord
	if bus.Decode(m.Data, &r) != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.incident == "" {
		f.held = append(f.held, &r) // until open says which incident is ours
		return
	}
	if r.Incident == f.incident {
		f.recs <- &r
	}
}

// adopt names the incident followed and passes on its held records.
func (f *incidentFilter) adopt(id string) {
	f.mu.Lock()
	f.incident = id
	for _, r := range f.held {
		if r.Incident == id {
			f.recs <- r
		}
	}
	f.held = nil
	f.mu.Unlock()
}

// followUntilEnd hands each record of incident id to each until the
// incident is final, seen by an ending record or by the periodic check.
func (s *Store) followUntilEnd(ctx context.Context, id string, recs <-chan *bus.AuditRecord, each func(*bus.AuditRecord)) (*bus.IncidentRecord, error) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case r := <-recs:
			each(r)
			switch r.Event {
			case bus.EventHealed, bus.EventFailed, bus.EventAborted:
				// On a cluster the bucket may be read from a replica that
				// has not applied the end yet: then the tick reads again.
				if rec, _, err := s.Incident(ctx, id); err == nil && rec.State.Final() {
					return rec, nil
				}
			}
		case <-tick.C:
			rec, _, err := s.Incident(ctx, id)
			if err != nil || !rec.State.Final() {
				continue
			}
			// Ended: let the records still in flight go out first.
			drainRecords(recs, each)
			return rec, nil
		}
	}
}

// drainRecords hands on records until none has come for half a second.
func drainRecords(recs <-chan *bus.AuditRecord, each func(*bus.AuditRecord)) {
	for {
		select {
		case r := <-recs:
			each(r)
			continue
		case <-time.After(500 * time.Millisecond):
		}
		break
	}
}
