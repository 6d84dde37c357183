package main

import (
	"context"
	"fmt"
	"os"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// scale measures the ladder on a real 3-node nats-server cluster (built
// from go.mod's nats-server module) with the ledger at one and at three
// replicas, against the embedded server in the same run: the sizing table
// of docs/SCALE.md.
func scale(out string, runs, incidents, handovers int) error {
	dir, err := os.MkdirTemp("", "razar-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, err := bustest.StartCluster(dir, 3)
	if err != nil {
		return err
	}
	defer c.Close()
	type figures struct{ p50, p99, thr []float64 }
	measure := func(url string, replicas int) (figures, error) {
		target.url, target.replicas = url, replicas
		defer func() { target.url, target.replicas = "", 0 }()
		var f figures
		for range runs {
			h, err := handover(handovers)
			if err != nil {
				return f, fmt.Errorf("hand-over: %w", err)
			}
			t, err := throughput(incidents)
			if err != nil {
				return f, fmt.Errorf("throughput: %w", err)
			}
			f.p50, f.p99, f.thr = append(f.p50, h.p50), append(f.p99, h.p99), append(f.thr, t.rate)
		}
		return f, nil
	}
	base, err := measure("", 0)
	if err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	var results []Result
	for _, r := range []int{1, 3} {
		f, err := measure(c.URLs(), r)
		if err != nil {
			return fmt.Errorf("cluster R%d: %w", r, err)
		}
		name := fmt.Sprintf("3-node cluster, R%d", r)
		results = append(results,
			ratio("hand-over p50, "+name, median(f.p50), median(base.p50), "ms", "<= 20 of the embedded server (each attempt is several ledger writes, each waits for a quorum at R3)", 20, false),
			ratio("hand-over p99, "+name, median(f.p99), median(base.p99), "ms", "<= 20 of the embedded server (each attempt is several ledger writes, each waits for a quorum at R3)", 20, false),
			ratio(fmt.Sprintf("ladder throughput, %d incidents, %s", incidents, name), median(f.thr), median(base.thr), "incidents/s", ">= 0.1 of the embedded server", 0.1, true))
	}
	if err := write(out, results); err != nil {
		return err
	}
	fmt.Printf("median of %d runs each; baseline: the embedded server in the same run; written to %s\n", runs, out)
	return nil
}

// newExternalEnv connects to the target cluster and declares RAZAR's
// stream and bucket with the target's replicas.
func newExternalEnv(dir string) (*env, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := bus.Connect(ctx, target.url, "bench", zerolog.Nop())
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir, conn: conn}
	e.clean() // a run cut short may have left its stream behind
	if e.store, err = jetstream.Open(ctx, conn, jetstream.WithReplicas(target.replicas)); err != nil {
		conn.Close()
		return nil, err
	}
	return e, nil
}

// clean deletes RAZAR's streams and bucket from an external bus, so every
// measurement starts from nothing.
func (e *env) clean() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, err := natsjs.New(e.conn.NATS())
	if err != nil {
		return
	}
	_ = js.DeleteStream(ctx, bus.StreamName)
	_ = js.DeleteStream(ctx, bus.ResultsStreamName)
	_ = js.DeleteKeyValue(ctx, bus.KVBucket)
}
