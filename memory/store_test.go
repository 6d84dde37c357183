package memory_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/jetstream/bustest"
	"github.com/razar/razar/memory"
)

func TestAuditThroughTheStoreVerifiesAndLeavesNoItemBehind(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	patches := filepath.Join(t.TempDir(), "state", "patches")
	run := memory.NewRun()
	rep := memory.Audit(ctx, run, 30, memory.AuditLayers(env.Store, patches, run), nil)
	if !rep.OK() {
		t.Fatalf("audit: %+v", rep.Layers)
	}
	if seq, _, err := env.Store.LastMsg(ctx, memory.AuditItemSubject); err != nil || seq != 0 {
		t.Errorf("a stream item is left: seq %d, %v", seq, err)
	}
	for _, key := range []string{memory.AuditKeyPrefix(run) + "0", memory.AuditKeyPrefix(run) + "29"} {
		if _, err := env.Store.GetRaw(ctx, key); !errors.Is(err, razar.ErrNotFound) {
			t.Errorf("key %s after the audit: %v, want not found", key, err)
		}
	}
}

func TestStoreLayersAreReadyOnAStoreAndFailWithoutOne(t *testing.T) {
	env := bustest.New(t)
	patches := filepath.Join(t.TempDir(), "patches")
	up := memory.Initialize(context.Background(), memory.SourceBoot, memory.Layers(env.Store, nil, patches, "", nil))
	if up.Ready() != 3 || up.Errored() {
		t.Errorf("with a store: %+v", up.Layers)
	}
	down := memory.Initialize(context.Background(), memory.SourceBoot, memory.Layers(nil, errors.New("RAZAR is not running"), patches, "", nil))
	if down.Ready() != 1 || down.Layers[0].Status != memory.StatusFailed || down.Layers[0].Error != "RAZAR is not running" {
		t.Errorf("without a store: %+v", down.Layers)
	}
}
