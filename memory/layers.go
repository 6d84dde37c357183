package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/probe"
	"github.com/razar/razar/jetstream"
)

// The names of RAZAR's own layers.
const (
	LayerStream  = "stream"  // stream RAZAR
	LayerState   = "state"   // bucket RAZAR_STATE
	LayerPatches = "patches" // the patch store, state/patches/
)

// AuditItemSubject is the subject stream items of an audit are written to:
// captured by the stream (razar.audit.>), passed over by the log mirror,
// purged once read back.
var AuditItemSubject = bus.AuditSubject(bus.SystemComponent, bus.EventMemoryItem)

// AuditKeyPrefix is the RAZAR_STATE prefix of one run's items.
func AuditKeyPrefix(run string) string { return "memory.audit." + run + "." }

// AuditDir is where one run's patch-store items live, under the patch store.
const AuditDir = ".memory-audit"

// Layers are the layers of the bundle: the stream and the bucket (when
// store is nil, they fail with storeErr), the patch store at patchDir, and
// cfg's memory layers, probed like health checks with home as workdir.
func Layers(store *jetstream.Store, storeErr error, patchDir, home string, cfg *config.MemoryConfig) []Layer {
	if storeErr == nil && store == nil {
		storeErr = errors.New("no store")
	}
	withStore := func(check func(*jetstream.Store, context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			if storeErr != nil {
				return storeErr
			}
			return check(store, ctx)
		}
	}
	layers := []Layer{
		{Name: LayerStream, Check: withStore((*jetstream.Store).CheckStream)},
		{Name: LayerState, Check: withStore((*jetstream.Store).CheckState)},
		{Name: LayerPatches, Check: func(context.Context) error { return CheckPrivateDir(patchDir) }},
	}
	if cfg != nil {
		for _, l := range cfg.Layers {
			hc := l.Probe
			layers = append(layers, Layer{Name: l.Name, Check: func(ctx context.Context) error {
				return probe.Probe(ctx, hc, home, nil)
			}})
		}
	}
	return layers
}

// CheckPrivateDir makes sure dir is a directory (created 0700 if missing),
// not a symlink, that only its owner can reach, and that a file can be
// created and removed in it.
func CheckPrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symlink; RAZAR does not follow it", dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%s is mode %04o; others may reach it (fix: chmod 700 %s)", dir, fi.Mode().Perm(), dir)
	}
	f, err := os.CreateTemp(dir, ".memory-check-")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// AuditLayers are the store layers an audit writes through.
func AuditLayers(store *jetstream.Store, patchDir, run string) []AuditLayer {
	return []AuditLayer{&streamLayer{store: store}, &stateLayer{store: store, run: run},
		&patchLayer{dir: filepath.Join(patchDir, AuditDir, run), parent: filepath.Join(patchDir, AuditDir)}}
}

type streamLayer struct{ store *jetstream.Store }

func (*streamLayer) Name() string { return LayerStream }

// Put stores the item as an audit record whose message is the item, so
// every reader of razar.audit.> can decode it; the digest covers the
// encoded record, which is what the stream holds.
func (l *streamLayer) Put(ctx context.Context, i int, data []byte) (string, error) {
	rec := &bus.AuditRecord{Event: bus.EventMemoryItem, Component: bus.SystemComponent, Message: string(data)}
	rec.Stamp(time.Now())
	enc, err := bus.Encode(rec)
	if err != nil {
		return "", err
	}
	seq, err := l.store.PublishRaw(ctx, AuditItemSubject, enc)
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(seq, 10), nil
}

func (l *streamLayer) Get(ctx context.Context, ref string) ([]byte, error) {
	seq, err := strconv.ParseUint(ref, 10, 64)
	if err != nil {
		return nil, err
	}
	enc, err := l.store.MsgData(ctx, seq)
	if err != nil {
		return nil, err
	}
	var rec bus.AuditRecord
	if err := bus.Decode(enc, &rec); err != nil {
		return nil, err
	}
	if rec.Event != bus.EventMemoryItem {
		return nil, fmt.Errorf("stream message %d is a %s record, not the item", seq, rec.Event)
	}
	return []byte(rec.Message), nil
}

func (l *streamLayer) Cleanup(ctx context.Context) error {
	return l.store.PurgeSubject(ctx, AuditItemSubject)
}

type stateLayer struct {
	store *jetstream.Store
	run   string
}

func (*stateLayer) Name() string { return LayerState }

func (l *stateLayer) Put(ctx context.Context, i int, data []byte) (string, error) {
	key := AuditKeyPrefix(l.run) + strconv.Itoa(i)
	return key, l.store.PutRaw(ctx, key, data)
}

func (l *stateLayer) Get(ctx context.Context, key string) ([]byte, error) {
	return l.store.GetRaw(ctx, key)
}

func (l *stateLayer) Cleanup(ctx context.Context) error {
	return l.store.PurgeState(ctx, AuditKeyPrefix(l.run))
}

// patchLayer writes items as files of a private directory under the patch
// store. Each file is new (O_EXCL|O_NOFOLLOW) and removed at cleanup, so
// they are not synced: a torn one fails its digest.
type patchLayer struct{ dir, parent string }

func (*patchLayer) Name() string { return LayerPatches }

func (l *patchLayer) Put(_ context.Context, i int, data []byte) (string, error) {
	if i == 0 {
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			return "", err
		}
	}
	path := filepath.Join(l.dir, strconv.Itoa(i))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

func (l *patchLayer) Get(_ context.Context, path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func (l *patchLayer) Cleanup(context.Context) error {
	if err := os.RemoveAll(l.dir); err != nil {
		return err
	}
	// The parent goes too once no other run uses it.
	_ = os.Remove(l.parent)
	return nil
}
