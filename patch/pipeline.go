package patch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/clock"
)

// Config configures a Pipeline.
type Config struct {
	// Home is the RAZAR home: backups go under its Home.Patches(), stages under
	// its Home.Staging(). Empty: the Pipeline has no store (Ready says so), and
	// only its approvals work.
	Home string
	// Sandbox is where validate commands run (the zero value is the
	// strict sandbox).
	Sandbox Sandbox
	// ValidateTimeout bounds a component's validate command. Zero:
	// DefaultValidateTimeout.
	ValidateTimeout time.Duration
	// ApprovalWindow is how long a held patch waits for a decision; zero:
	// each Candidate's Window.
	ApprovalWindow time.Duration
	// Verify checks a component's health once a patch is promoted; a
	// patch it fails is reverted. Nil: every promoted patch holds.
	Verify func(ctx context.Context, c config.Component) error
	// Clock drives the approval window. Default clock.Real.
	Clock clock.Clock
}

// valid checks cfg, wrapping razar.ErrInvalidConfig.
func (cfg Config) valid() error {
	switch {
	case cfg.ValidateTimeout < 0:
		return fmt.Errorf("%w: patch pipeline: negative validate timeout %v", razar.ErrInvalidConfig, cfg.ValidateTimeout)
	case cfg.ApprovalWindow < 0:
		return fmt.Errorf("%w: patch pipeline: negative approval window %v", razar.ErrInvalidConfig, cfg.ApprovalWindow)
	}
	return nil
}

// Pipeline takes a rung's diffs through the patch store's states: checked
// and staged, validated in the sandbox, held for an operator's approval,
// promoted with backups, verified, and reverted when it does not hold;
// after a crash it resumes what a promotion or a revert left, and it
// keeps the journal of `razar rollback-patch`. It writes files only; what
// each step means for the records is its Observer's. Create it with New.
type Pipeline struct {
	cfg Config

	mu   sync.Mutex
	held map[string]held // component/patch-id -> the patch waiting for a decision
}

// held is one patch waiting for an operator.
type held struct {
	decide  chan bool
	pending Pending
}

// Pending is a validated patch held for an operator's approval.
type Pending struct {
	Component, Incident, Patch, Rung string
	Since, Until                     time.Time // held since, and when its approval window ends
}

// New validates cfg and returns a Pipeline. Errors wrap
// razar.ErrInvalidConfig.
func New(cfg Config) (*Pipeline, error) {
	if err := cfg.valid(); err != nil {
		return nil, err
	}
	if cfg.ValidateTimeout == 0 {
		cfg.ValidateTimeout = DefaultValidateTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Verify == nil {
		cfg.Verify = func(context.Context, config.Component) error { return nil }
	}
	return &Pipeline{cfg: cfg, held: map[string]held{}}, nil
}

// Ready says whether comp's patches can be taken through the pipeline:
// there is a store (Config.Home) and a workdir to patch.
func (p *Pipeline) Ready(comp config.Component) bool {
	return p.cfg.Home != "" && comp.Workdir != ""
}

// BackupDir is where the backup of component's patch id lives.
func (p *Pipeline) BackupDir(component, id string) string {
	return filepath.Join(razar.Home(p.cfg.Home).Patches(), component, id)
}

// ResumeAt is the index in ids (one attempt's candidates, in order) of the
// candidate a restarted RAZAR takes the attempt up at: the last one it had
// promoted, or begun to. The ones before it were judged already, and
// checking them again against a workdir that holds a later candidate would
// judge them against the wrong files. 0 when none was.
func (p *Pipeline) ResumeAt(component string, ids []string) int {
	for i := len(ids) - 1; i > 0; i-- {
		if _, err := ReadManifest(p.BackupDir(component, ids[i])); !errors.Is(err, ErrNothingToRevert) {
			return i
		}
	}
	return 0
}

// Pending lists the patches held for an operator's approval, oldest first.
func (p *Pipeline) Pending() []Pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Pending, 0, len(p.held))
	for _, h := range p.held {
		out = append(out, h.pending)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// Decide approves or rejects a held patch. It fails with razar.ErrNotFound
// when no such patch waits, or its decision was given already.
func (p *Pipeline) Decide(component, id string, approve bool) error {
	p.mu.Lock()
	h, ok := p.held[component+"/"+id]
	ok = ok && h.decide != nil
	if ok { // shown until its run drops it, decided once
		p.held[component+"/"+id] = held{pending: h.pending}
	}
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("no patch %s waits for approval on %s: %w (see logs/razar_ai_patches.json for pending ones)", id, component, razar.ErrNotFound)
	}
	h.decide <- approve
	return nil
}

// Prepared is what Prepare found.
type Prepared struct {
	// Removed is how many stages a killed RAZAR left under Home.Staging() were
	// removed; CleanErr why they were not.
	Removed  int
	CleanErr error
	// Isolation is how validate commands will be contained on this host,
	// and ProbeErr why the sandbox cannot be built (wrapping
	// ErrSandboxRefused when the strict sandbox refuses).
	Isolation Isolation
	ProbeErr  error
}

// Prepare runs before any patch is staged: it removes the stages a killed
// RAZAR left under Home.Staging(), and probes how validate commands will be
// contained on this host. It must not run while a patch is staged.
func (p *Pipeline) Prepare(ctx context.Context) Prepared {
	var out Prepared
	if p.cfg.Home != "" {
		out.Removed, out.CleanErr = CleanStaging(p.cfg.Home)
	}
	out.Isolation, out.ProbeErr = p.cfg.Sandbox.Probe(ctx)
	return out
}

// hold registers pend as waiting and returns the channel its decision
// comes on.
func (p *Pipeline) hold(pend Pending) chan bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan bool, 1)
	p.held[pend.Component+"/"+pend.Patch] = held{decide: ch, pending: pend}
	return ch
}

// drop forgets component's held patch id.
func (p *Pipeline) drop(component, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.held, component+"/"+id)
}
