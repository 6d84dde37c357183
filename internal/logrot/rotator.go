package logrot

import (
	"context"
	"sync"
	"time"
)

// Rotator keeps a set of files under a size bound, checking them every
// interval in Run. It is safe for concurrent use.
type Rotator struct {
	max   int64
	every time.Duration

	// OnRotate, if set, is called from Run after each rotation (err nil)
	// and each failed check (err set; a failure repeated with the same
	// text is reported once). Set it before Run starts.
	OnRotate func(path string, err error)

	mu      sync.Mutex
	paths   map[string]string // path -> text of its last error, "" if none
	busy    string            // the path Rotate is working on, "" if none
	idle    *sync.Cond        // on mu; signalled when busy is cleared
	running sync.Mutex        // held by Run for each pass
}

// NewRotator returns a Rotator that moves files over max bytes aside every
// interval (see Rotate). An interval of 0 or less means one second.
func NewRotator(max int64, every time.Duration) *Rotator {
	if every <= 0 {
		every = time.Second
	}
	r := &Rotator{max: max, every: every, paths: map[string]string{}}
	r.idle = sync.NewCond(&r.mu)
	return r
}

// Add puts path under the bound. Adding it again does nothing.
func (r *Rotator) Add(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.paths[path]; !ok {
		r.paths[path] = ""
	}
}

// Remove takes path out of the bound. Once it returns Run no longer touches
// path: if Run was rotating it, Remove waits for that rotation to end. It
// may be called from OnRotate, which runs after a rotation has ended.
func (r *Rotator) Remove(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.paths, path)
	for r.busy == path {
		r.idle.Wait()
	}
}

// Run checks every path at once and then every interval until ctx ends,
// and returns then. Run one at a time: a second concurrent Run waits for the
// first's current pass before each of its own.
func (r *Rotator) Run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		r.check()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check rotates every registered path that is over the bound.
func (r *Rotator) check() {
	r.running.Lock()
	defer r.running.Unlock()
	r.mu.Lock()
	paths := make([]string, 0, len(r.paths))
	for p := range r.paths {
		paths = append(paths, p)
	}
	r.mu.Unlock()
	for _, p := range paths {
		r.mu.Lock()
		last, still := r.paths[p]
		if still {
			r.busy = p
		}
		r.mu.Unlock()
		if !still {
			continue // removed since the snapshot
		}
		rotated, err := Rotate(p, r.max)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		r.mu.Lock()
		r.busy = ""
		if _, still := r.paths[p]; still {
			r.paths[p] = msg
		}
		r.idle.Broadcast()
		r.mu.Unlock()
		if r.OnRotate != nil && (rotated || (err != nil && msg != last)) {
			r.OnRotate(p, err)
		}
	}
}
