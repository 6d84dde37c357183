package memory

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// DefaultAuditItems is how many items `razar memory audit` writes per layer.
const DefaultAuditItems = 10000

// MaxAuditItems bounds one audit, so a typo cannot fill the store: at
// about 400 bytes an item, 100000 stay well inside the stream's and the
// bucket's default limits, which would otherwise discard old records or
// refuse state writes.
const MaxAuditItems = 100000

// AuditLayer is a layer items can be written to and read back from.
type AuditLayer interface {
	Name() string
	// Put stores item i and returns the reference Get reads it back by.
	Put(ctx context.Context, i int, data []byte) (ref string, err error)
	Get(ctx context.Context, ref string) ([]byte, error)
	// Cleanup removes every item of the run.
	Cleanup(ctx context.Context) error
}

// LayerReport is one layer's part of an audit.
type LayerReport struct {
	Layer    string  `json:"layer"`
	Written  int     `json:"written"`
	Read     int     `json:"read"`
	Verified int     `json:"verified"`
	Failed   int     `json:"failed"`
	Duration float64 `json:"duration_seconds"`
	Error    string  `json:"error,omitempty"` // the first failure, and a cleanup that failed
}

// AuditReport is one audit run.
type AuditReport struct {
	Run      string        `json:"run"`
	Items    int           `json:"items"`
	Duration float64       `json:"duration_seconds"`
	Layers   []LayerReport `json:"layers"`
}

// OK reports whether every item of every layer was verified.
func (r *AuditReport) OK() bool {
	for _, l := range r.Layers {
		if l.Failed > 0 || l.Verified != r.Items {
			return false
		}
	}
	return len(r.Layers) > 0
}

// NewRun is a fresh run id: 12 hex digits, a valid subject token and key part.
func NewRun() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// item is the content of item i of a run: the run, the index and random
// bytes, so no two items (or runs) hold the same data.
func item(run string, i int) []byte {
	nonce := make([]byte, 32)
	_, _ = rand.Read(nonce)
	return fmt.Appendf(nil, `{"run":%q,"i":%d,"nonce":"%x"}`, run, i, nonce)
}

// Progress is told how far an audit is: done of total steps (a write or a
// read of one item) on layer.
type Progress func(layer string, done, total int)

// Audit writes items items through every layer, then reads each back and
// compares its SHA-256 digest with the one written, then removes them.
// Layers are audited one after the other.
func Audit(ctx context.Context, run string, items int, layers []AuditLayer, progress Progress) *AuditReport {
	start := time.Now()
	rep := &AuditReport{Run: run, Items: items}
	for _, l := range layers {
		rep.Layers = append(rep.Layers, auditLayer(ctx, run, items, l, progress))
	}
	rep.Duration = time.Since(start).Seconds()
	return rep
}

func auditLayer(ctx context.Context, run string, items int, l AuditLayer, progress Progress) LayerReport {
	start := time.Now()
	lr := LayerReport{Layer: l.Name()}
	fail := func(err error) {
		lr.Failed++
		if lr.Error == "" {
			lr.Error = err.Error()
		}
	}
	step := func(done int) {
		if progress != nil && (done%100 == 0 || done == 2*items) {
			progress(l.Name(), done, 2*items)
		}
	}
	refs := make([]string, items)
	digests := make([][32]byte, items)
	ok := make([]bool, items)
	for i := range items {
		data := item(run, i)
		digests[i] = sha256.Sum256(data)
		ref, err := l.Put(ctx, i, data)
		if err != nil {
			fail(fmt.Errorf("write item %d: %w", i, err))
		} else {
			refs[i], ok[i] = ref, true
			lr.Written++
		}
		step(i + 1)
	}
	for i := range items {
		if ok[i] {
			data, err := l.Get(ctx, refs[i])
			switch {
			case err != nil:
				fail(fmt.Errorf("read item %d: %w", i, err))
			default:
				lr.Read++
				if got := sha256.Sum256(data); !bytes.Equal(got[:], digests[i][:]) {
					fail(fmt.Errorf("item %d: sha256 %x read back, %x written", i, got, digests[i]))
				} else {
					lr.Verified++
				}
			}
		}
		step(items + i + 1)
	}
	if err := l.Cleanup(context.WithoutCancel(ctx)); err != nil {
		msg := "cleanup: " + err.Error()
		if lr.Error != "" {
			msg = lr.Error + "; " + msg
		}
		lr.Error = msg
	}
	lr.Duration = time.Since(start).Seconds()
	return lr
}
