package host

import (
	"context"
	"time"

	"github.com/razar/razar/bus"
)

// storeAlert is the critical alert of a record store that cannot write.
const storeAlert = "RazarStoreFull"

// storeError is why the embedded server cannot write the record store
// (a full state disk), nil while it can or when RAZAR is on an external bus.
func (h *Host) storeError() error {
	if h.srv == nil {
		return nil
	}
	return h.srv.StoreError()
}

// watchStore checks the record store every second until ctx ends: a store
// that cannot write raises the critical alert RazarStoreFull (status says
// why and is not healthy: storeError), and once its filesystem has room
// again the store is restarted in place (jetstream.Server.Reenable), its
// records read back from disk, and the alert resolved: no RAZAR restart.
func (h *Host) watchStore(ctx context.Context) {
	if h.srv == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	down := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := h.srv.StoreError()
		if err == nil {
			if down {
				down = false
				h.log.Info().Msg("the record store writes again")
				h.alerts.ResolveNamed(ctx, storeAlert, bus.SeverityCritical, bus.SystemComponent, "")
				h.sup.StoreChanged()
			}
			continue
		}
		if !down {
			down = true
			h.alerts.RaiseNamed(ctx, storeAlert, bus.SeverityCritical, bus.SystemComponent, "", "RAZAR cannot record: "+err.Error())
			h.sup.StoreChanged()
		}
		if rerr := h.srv.Reenable(); rerr != nil {
			h.log.Debug().Err(rerr).Msg("the record store is still down")
		} else if h.srv.StoreError() == nil {
			h.log.Info().Msg("restarted the record store after its disk had room again; every stored record was read back")
		}
	}
}
