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
	type figures struct{ p50, p99, thr float64 }
	measure := func(url string, replicas int) (figures, error) {
		target.url, target.replicas = url, replicas
		defer func() { target.url, target.replicas = "", 0 }()
		h, err := handover(handovers)
		if err != nil {
			return figures{}, fmt.Errorf("hand-over: %w", err)
		}
		t, err := throughput(incidents)
		if err != nil {
			return figures{}, fmt.Errorf("throughput: %w", err)
		}
		return figures{h.p50, h.p99, t.rate}, nil
	}
	const latencyGoal = "<= 20 of the embedded server (each attempt is several ledger writes, each waits for a quorum at R3)"
	var figs []*figure
	of := map[int][3]*figure{}
	for _, r := range []int{1, 3} {
		name := fmt.Sprintf("3-node cluster, R%d", r)
		f := [3]*figure{
			{name: "hand-over p50, " + name, unit: "ms", goal: latencyGoal, bound: 20},
			{name: "hand-over p99, " + name, unit: "ms", goal: latencyGoal, bound: 20},
			{name: fmt.Sprintf("ladder throughput, %d incidents, %s", incidents, name), unit: "incidents/s", goal: ">= 0.1 of the embedded server", bound: 0.1, atLeast: true},
		}
		of[r] = f
		figs = append(figs, f[:]...)
	}
	// Each round: the embedded server (the baseline), then R1 and R3.
	for range max(runs, 1) {
		base, err := measure("", 0)
		if err != nil {
			return fmt.Errorf("embedded: %w", err)
		}
		for _, r := range []int{1, 3} {
			m, err := measure(c.URLs(), r)
			if err != nil {
				return fmt.Errorf("cluster R%d: %w", r, err)
			}
			of[r][0].add(base.p50, m.p50)
			of[r][1].add(base.p99, m.p99)
			of[r][2].add(base.thr, m.thr)
		}
	}
	var results []Result
	for _, f := range figs {
		results = append(results, f.result())
	}
	if err := write(out, results); err != nil {
		return err
	}
	fmt.Printf("ratio: the median of %d rounds, each the embedded server (the baseline) then the cluster at R1 and R3; min and max: the spread; written to %s\n", max(runs, 1), out)
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
