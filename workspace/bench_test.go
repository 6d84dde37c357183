package workspace_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/razar/razar/config"
	"github.com/razar/razar/workspace"
)

// BenchmarkBuild10k builds the workspace of a workdir of 10,000 files
// (100 directories of 100 small text files) against the baseline of a
// bare walk that stats every entry: what the gate, the ranking and the
// reads cost on top of looking at the tree at all.
func BenchmarkBuild10k(b *testing.B) {
	h := b.TempDir()
	wd := filepath.Join(h, "w")
	for d := range 100 {
		dir := filepath.Join(wd, fmt.Sprintf("pkg%02d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			ext := []string{".py", ".yaml", ".txt", ".json"}[f%4]
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d%s", f, ext)), []byte("key: value\nother: 1\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	comp := config.Component{Name: "big", Command: []string{"python3", "pkg00/f000.py"}, Workdir: wd}
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			_ = filepath.WalkDir(wd, func(_ string, d fs.DirEntry, err error) error {
				if err == nil {
					if _, err := d.Info(); err == nil {
						n++
					}
				}
				return nil
			})
			if n != 10101 {
				b.Fatalf("walked %d entries", n)
			}
		}
	})
	b.Run("razar", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := workspace.New(comp, h, workspace.Options{})
			if err != nil {
				b.Fatal(err)
			}
			w := v.Build("error in pkg07/f001.yaml")
			v.Close()
			if len(w.Files) == 0 || len(w.Listing) != workspace.MaxListing {
				b.Fatalf("files %d listing %d", len(w.Files), len(w.Listing))
			}
		}
	})
}
