package ctl

import (
	"context"
	"fmt"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// razarGonePoll is how often a CLI waiting on RAZAR looks at its store lock.
const razarGonePoll = 200 * time.Millisecond

// errRazarGone is a command's error when the RAZAR it waited on died.
type errRazarGone struct{ pid int }

func (e errRazarGone) Error() string {
	who := "RAZAR"
	if e.pid > 0 {
		who = fmt.Sprintf("RAZAR (pid %d)", e.pid)
	}
	return who + " stopped while this command waited for its answer; start it again with `razar boot` and check with `razar status`"
}

// Command is bus.Command, given up within moments when the RAZAR of this
// home dies while the command waits: the store lock it holds while it runs
// (state/razar.lock) is polled. A RAZAR on an external NATS server holds no
// such lock, and its commands wait out their deadline as before.
func (c *Client) Command(ctx context.Context, nc *bus.Conn, verb bus.Verb, component string, req *bus.LifecycleRequest) (*bus.LifecycleReply, error) {
	pid, held := jetstream.StoreHeld(c.home().StateDir())
	if !held {
		return bus.Command(ctx, nc, verb, component, req)
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(razarGonePoll)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				if _, still := jetstream.StoreHeld(c.home().StateDir()); !still {
					cancel(errRazarGone{pid})
					return
				}
			}
		}
	}()
	rep, err := bus.Command(wctx, nc, verb, component, req)
	if err != nil {
		if gone := context.Cause(wctx); gone != nil && ctx.Err() == nil {
			if g, ok := gone.(errRazarGone); ok {
				return nil, g
			}
		}
	}
	return rep, err
}
