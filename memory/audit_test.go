package memory

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// mapLayer is an AuditLayer in memory; corrupt flips a byte of one item.
type mapLayer struct {
	m       map[string][]byte
	corrupt string
	cleaned bool
}

func (*mapLayer) Name() string { return "map" }
func (l *mapLayer) Put(_ context.Context, i int, data []byte) (string, error) {
	k := strconv.Itoa(i)
	l.m[k] = append([]byte(nil), data...)
	return k, nil
}
func (l *mapLayer) Get(_ context.Context, k string) ([]byte, error) {
	d := append([]byte(nil), l.m[k]...)
	if k == l.corrupt {
		d[0] ^= 1
	}
	return d, nil
}
func (l *mapLayer) Cleanup(context.Context) error { l.cleaned = true; return nil }

func TestAuditVerifiesDigestsAndCatchesACorruptItem(t *testing.T) {
	good := &mapLayer{m: map[string][]byte{}}
	bad := &mapLayer{m: map[string][]byte{}, corrupt: "7"}
	rep := Audit(context.Background(), NewRun(), 50, []AuditLayer{good, bad}, nil)
	if g := rep.Layers[0]; g.Written != 50 || g.Read != 50 || g.Verified != 50 || g.Failed != 0 {
		t.Errorf("good layer: %+v", g)
	}
	if b := rep.Layers[1]; b.Verified != 49 || b.Failed != 1 || b.Error == "" {
		t.Errorf("corrupt layer: %+v", b)
	}
	if rep.OK() || !good.cleaned || !bad.cleaned {
		t.Errorf("OK %v, cleaned %v %v", rep.OK(), good.cleaned, bad.cleaned)
	}
}

func TestPatchLayerRoundTripsAndLeavesNothingBehind(t *testing.T) {
	patches := filepath.Join(t.TempDir(), "patches")
	if err := CheckPrivateDir(patches); err != nil {
		t.Fatal(err)
	}
	run := NewRun()
	l := AuditLayers(nil, patches, run)[2]
	rep := Audit(context.Background(), run, 20, []AuditLayer{l}, nil)
	if !rep.OK() {
		t.Fatalf("patch layer audit: %+v", rep.Layers)
	}
	ents, err := os.ReadDir(patches)
	if err != nil || len(ents) != 0 {
		t.Errorf("patch store after the audit: %v %v", ents, err)
	}
}

func TestCheckPrivateDirRefusesOpenDirsAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivateDir(open); err == nil {
		t.Error("a 0755 patch store is ready")
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivateDir(link); err == nil {
		t.Error("a symlinked patch store is ready")
	}
	if err := CheckPrivateDir(filepath.Join(dir, "new")); err != nil {
		t.Errorf("a missing patch store is not created: %v", err)
	}
}
