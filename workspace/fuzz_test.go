package workspace_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/workspace"
)

// FuzzRead: whatever path and glob a model sends, read, list and search
// never panic and never answer with a byte of a denied file, a file
// outside the workdir or a file behind a symlink.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{"config/app.yaml", "../outside.txt", "/etc/passwd", "./.env", "link/x", "secret/../app.yaml",
		"config//app.yaml", "config/./.ENV", ".git/config", "a\x00b", "link", "C:\\x", "~/x", "config/app.yaml/..", "**", "[", "*"} {
		f.Add(seed)
	}
	h := f.TempDir()
	wd := filepath.Join(h, "w")
	for p, text := range map[string]string{
		"config/app.yaml": "port: 1\n", ".env": "LEAK_ENV\n", "secret/db.yaml": "LEAK_SECRET\n", ".git/config": "LEAK_GIT\n",
		"keys/server.KEY": "LEAK_KEY\n", "ok.txt": "fine\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(wd, p)), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(wd, p), []byte(text), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(h, "outside.txt"), []byte("LEAK_OUTSIDE\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(h, filepath.Join(wd, "link")); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(wd, "ok.txt"), filepath.Join(wd, "okay.txt")); err != nil {
		f.Fatal(err)
	}
	v, err := workspace.New(config.Component{Name: "w", Command: []string{"x"}, Workdir: wd}, h, workspace.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })
	f.Fuzz(func(t *testing.T, p string) {
		for _, req := range []razar.ToolRequest{
			{Op: razar.ToolRead, Path: p}, {Op: razar.ToolList, Glob: p}, {Op: razar.ToolSearch, Pattern: "LEAK|fine", Glob: p},
		} {
			a := v.Serve(context.Background(), req)
			all := a.Reply.Text
			for _, m := range a.Reply.Matches {
				all += m.Text
			}
			if strings.Contains(p, "LEAK") {
				continue // quoted back in a reply's text
			}
			if strings.Contains(all, "LEAK_") {
				t.Fatalf("%+v leaked: %+v", req, a.Reply)
			}
			if req.Op == razar.ToolRead && a.Reply.OK && strings.Contains(a.Reply.Text, "fine") && !strings.Contains(p, "ok.txt") {
				t.Fatalf("read %q reached ok.txt through %q", p, a.Path)
			}
		}
	})
}
