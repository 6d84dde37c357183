package main

import (
	"context"
	"time"

	"github.com/razar/razar/bus"
)

// storeAlert is the critical alert of a record store that cannot write.
const storeAlert = "RazarStoreFull"

// storeError is why the embedded server cannot write the record store
// (a full state disk), nil while it can or when RAZAR is on an external bus.
func (d *daemon) storeError() error {
	if d.srv == nil {
		return nil
	}
	return d.srv.StoreError()
}

// watchStore checks the record store every second until ctx ends: a store
// that cannot write raises the critical alert RazarStoreFull (status says
// why and is not healthy: storeError), and once its filesystem has room
// again the store is restarted in place (jetstream.Server.Reenable), its
// records read back from disk, and the alert resolved: no RAZAR restart.
func (d *daemon) watchStore(ctx context.Context) {
	if d.srv == nil {
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
		err := d.srv.StoreError()
		if err == nil {
			if down {
				down = false
				d.log.Info().Msg("the record store writes again")
				d.alerts.ResolveNamed(ctx, storeAlert, bus.SeverityCritical, bus.SystemComponent, "")
				d.sup.StoreChanged()
			}
			continue
		}
		if !down {
			down = true
			d.alerts.RaiseNamed(ctx, storeAlert, bus.SeverityCritical, bus.SystemComponent, "", "RAZAR cannot record: "+err.Error())
			d.sup.StoreChanged()
		}
		if rerr := d.srv.Reenable(); rerr != nil {
			d.log.Debug().Err(rerr).Msg("the record store is still down")
		} else if d.srv.StoreError() == nil {
			d.log.Info().Msg("restarted the record store after its disk had room again; every stored record was read back")
		}
	}
}
