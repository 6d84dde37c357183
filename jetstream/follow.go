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
	var mu sync.Mutex
	var incident string
	var held []*bus.AuditRecord
	recs := make(chan *bus.AuditRecord, 256)
	sub, err := s.nc.Subscribe(bus.AuditComponent(component), func(m *nats.Msg) {
		var r bus.AuditRecord
		if bus.Decode(m.Data, &r) != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if incident == "" {
			held = append(held, &r) // until open says which incident is ours
			return
		}
		if r.Incident == incident {
			recs <- &r
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", bus.AuditComponent(component), err)
	}
	defer sub.Unsubscribe()
	id, err := open(ctx)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	incident = id
	for _, r := range held {
		if r.Incident == id {
			recs <- r
		}
	}
	held = nil
	mu.Unlock()

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
			for {
				select {
				case r := <-recs:
					each(r)
					continue
				case <-time.After(500 * time.Millisecond):
				}
				break
			}
			return rec, nil
		}
	}
}
