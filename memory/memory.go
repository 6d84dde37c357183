// Package memory is RAZAR's memory bundle: the layers that hold what RAZAR
// remembers (stream RAZAR, bucket RAZAR_STATE, the patch store, and any
// layer boot_config.json declares under "memory"), the initialization pass
// that checks every one of them and writes monitoring/boot_metrics.prom,
// and the audit that writes items through every store layer and reads them
// back (razar memory init|audit).
package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// The sources an initialization pass runs for: the label of its gauges.
const (
	SourceBoot   = "boot_orchestrator" // every `razar boot`, once the store is open
	SourceMemory = "bootstrap_memory"  // `razar memory init` (the default)
	SourceWorld  = "bootstrap_world"   // `razar memory init --source bootstrap_world`
)

// Sources lists every source, in the order the metrics file holds them.
var Sources = []string{SourceBoot, SourceMemory, SourceWorld}

// ValidSource says whether s is one of Sources.
func ValidSource(s string) error {
	if slices.Contains(Sources, s) {
		return nil
	}
	return fmt.Errorf("unknown source %q: use one of %s", s, strings.Join(Sources, ", "))
}

// The two status words a layer reports. Counting compares whole words:
// "not ready", "READY" or "ready " are not ready.
const (
	StatusReady  = "ready"
	StatusFailed = "failed"
)

// Layer is one layer of the bundle: Check returns nil when it is ready.
type Layer struct {
	Name  string
	Check func(ctx context.Context) error
}

// LayerStatus is one layer's answer in an initialization pass.
type LayerStatus struct {
	Name   string `json:"name"`
	Status string `json:"status"` // StatusReady or StatusFailed
	Error  string `json:"error,omitempty"`
}

// Ready reports whether the status is exactly StatusReady.
func (s LayerStatus) Ready() bool { return s.Status == StatusReady }

// Result is one initialization pass.
type Result struct {
	Source   string
	Duration time.Duration
	Layers   []LayerStatus
	// Err is an error of the pass itself (not of a layer): the metrics
	// still record it, with razar_memory_init_error 1.
	Err error
}

// Ready counts the layers whose status is exactly "ready".
func (r *Result) Ready() int {
	n := 0
	for _, l := range r.Layers {
		if l.Ready() {
			n++
		}
	}
	return n
}

// Failed counts every other layer: "failed", and any word that is not
// exactly "ready", so an unknown status is never taken for a ready layer.
func (r *Result) Failed() int { return len(r.Layers) - r.Ready() }

// Errored reports whether the pass erred or any layer failed: the value of
// razar_memory_init_error.
func (r *Result) Errored() bool { return r.Err != nil || r.Failed() > 0 }

// DefaultCheckTimeout bounds one layer's check when ctx has no sooner deadline.
const DefaultCheckTimeout = 10 * time.Second

// Initialize checks every layer, concurrently, and returns their statuses
// in the order given. It does not write anything; see WriteMetrics and Log.
func Initialize(ctx context.Context, source string, layers []Layer) *Result {
	start := time.Now()
	r := &Result{Source: source, Layers: make([]LayerStatus, len(layers))}
	if err := ValidSource(source); err != nil {
		r.Err = err
	}
	var wg sync.WaitGroup
	for i, l := range layers {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, DefaultCheckTimeout)
			defer cancel()
			st := LayerStatus{Name: l.Name, Status: StatusReady}
			var err error
			if l.Check == nil {
				err = fmt.Errorf("layer %s has no check", l.Name)
			} else {
				err = l.Check(cctx)
			}
			if err != nil {
				st.Status, st.Error = StatusFailed, err.Error()
			}
			r.Layers[i] = st
		})
	}
	wg.Wait()
	if r.Err == nil && ctx.Err() != nil {
		r.Err = ctx.Err()
	}
	r.Duration = time.Since(start)
	return r
}

// Log writes the pass as one line with the runbook's fields:
// memory_layers (the layer count), memory_init_duration (seconds),
// memory_init_ready and memory_init_failed, plus each layer's status.
func (r *Result) Log(log zerolog.Logger) {
	statuses := zerolog.Dict()
	for _, l := range r.Layers {
		statuses.Str(l.Name, l.Status)
	}
	ev := log.Info()
	if r.Errored() {
		ev = log.Warn()
		var why []string
		if r.Err != nil {
			why = append(why, r.Err.Error())
		}
		for _, l := range r.Layers {
			if !l.Ready() {
				why = append(why, l.Name+": "+l.Error)
			}
		}
		ev = ev.Str("error", strings.Join(why, "; "))
	}
	ev.Str("source", r.Source).
		Int("memory_layers", len(r.Layers)).
		Float64("memory_init_duration", r.Duration.Seconds()).
		Int("memory_init_ready", r.Ready()).
		Int("memory_init_failed", r.Failed()).
		Dict("memory_layer_status", statuses).
		Msg("memory bundle initialized")
}
