package logrot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/razar/razar/internal/wait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// echoChild is a shell whose stdout and stderr are the log file (Open's
// descriptor, nothing in between) and which echoes each line it is sent
// to both, stderr prefixed "err:".
type echoChild struct {
	cmd *exec.Cmd
	in  io.WriteCloser
}

func startEcho(t *testing.T, log string) *echoChild {
	t.Helper()
	f, err := Open(log, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `while read -r line; do echo "$line"; echo "err:$line" >&2; done`)
	cmd.Stdout, cmd.Stderr = f, f
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child has its own copy; RAZAR keeps none.
	f.Close()
	c := &echoChild{cmd: cmd, in: in}
	t.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("echo child: %v", err)
		}
	})
	return c
}

// say sends line to the child and waits until the file ends with its echo.
func (c *echoChild) say(t *testing.T, log, line string) {
	t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
	want := line + "\nerr:" + line + "\n"
	wait.Until(t, 5*time.Second, func() bool {
		b, _ := os.ReadFile(log)
		return bytes.HasSuffix(b, []byte(want))
	}, "the child's echo of %s never reached the file", line)
}

func TestChildWritesThroughOpen(t *testing.T) {
	log := filepath.Join(t.TempDir(), "logs", "web.log")
	c := startEcho(t, log)
	c.say(t, log, "hello")
	c.say(t, log, "again")
	if got := read(t, log); got != "hello\nerr:hello\nagain\nerr:again\n" {
		t.Fatalf("log = %q", got)
	}
	for _, p := range []string{log, filepath.Dir(log)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		limit := os.FileMode(0o640)
		if st.IsDir() {
			limit = 0o750
		}
		if st.Mode().Perm()&^limit != 0 {
			t.Errorf("%s mode %v, want at most %v", p, st.Mode().Perm(), limit)
		}
	}
}

// Open appends to what earlier runs wrote.
func TestOpenAppends(t *testing.T) {
	log := filepath.Join(t.TempDir(), "web.log")
	if err := os.WriteFile(log, []byte("run 1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := Open(log, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "echo run 2")
	cmd.Stdout = f
	err = cmd.Run()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, log); got != "run 1\nrun 2\n" {
		t.Fatalf("log = %q", got)
	}
}

func TestOpenRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "web.log")
	if err := os.Symlink(target, log); err != nil {
		t.Fatal(err)
	}
	f, err := Open(log, 0)
	if err == nil {
		f.Close()
		t.Fatal("Open followed a symlink")
	}
	if !errors.Is(err, syscall.ELOOP) || !strings.Contains(err.Error(), log) || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("error %q: want one naming %s as a symlink, wrapping ELOOP", err, log)
	}
	if got := read(t, target); got != "keep\n" {
		t.Errorf("symlink target now %q", got)
	}
	if _, err := Rotate(log, 0); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("Rotate of a symlink: %v, want ELOOP", err)
	}
	if got := read(t, target); got != "keep\n" {
		t.Errorf("symlink target now %q", got)
	}
}

func TestOpenRefusesDirectory(t *testing.T) {
	log := filepath.Join(t.TempDir(), "web.log")
	if err := os.Mkdir(log, 0o750); err != nil {
		t.Fatal(err)
	}
	if f, err := Open(log, 0); err == nil {
		f.Close()
		t.Fatal("Open accepted a directory")
	}
}

// After the truncate the child, still running with the same descriptor,
// writes at offset 0: O_APPEND, not a sparse file with a hole of zeros.
func TestRotateTruncatesUnderRunningChild(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "web.log")
	c := startEcho(t, log)
	c.say(t, log, "before one")
	c.say(t, log, "before two")
	before := read(t, log)

	if rotated, err := Rotate(log, int64(len(before))); rotated || err != nil {
		t.Fatalf("Rotate at exactly max = %v, %v; want no rotation", rotated, err)
	}
	rotated, err := Rotate(log, 10)
	if !rotated || err != nil {
		t.Fatalf("Rotate = %v, %v; want a rotation", rotated, err)
	}
	if got := read(t, log+".1"); got != before {
		t.Fatalf(".1 = %q, want %q", got, before)
	}
	if Size(log) != 0 {
		t.Fatalf("size after rotation = %d", Size(log))
	}
	c.say(t, log, "after")
	if got := read(t, log); got != "after\nerr:after\n" {
		// Written at the old offset, the file would start with a hole of NULs.
		t.Fatalf("log after rotation = %q (the child did not write at offset 0)", got)
	}
	if c.cmd.ProcessState != nil {
		t.Fatal("the child exited")
	}

	// A second rotation replaces .1, and leaves no temporary file behind.
	c.say(t, log, "second")
	second := read(t, log)
	if rotated, err := Rotate(log, 1); !rotated || err != nil {
		t.Fatalf("second Rotate = %v, %v", rotated, err)
	}
	if got := read(t, log+".1"); got != second {
		t.Fatalf(".1 = %q, want %q", got, second)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "web.log web.log.1" {
		t.Errorf("directory holds %v", names)
	}
}

func TestRotateKeepsMode(t *testing.T) {
	log := filepath.Join(t.TempDir(), "web.log")
	if err := os.WriteFile(log, []byte("0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Rotate(log, 1); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(log + ".1")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("stat .1: %v, mode %v; want 0600 like the original", err, st.Mode())
	}
}

func TestRotateMissingFile(t *testing.T) {
	if rotated, err := Rotate(filepath.Join(t.TempDir(), "none.log"), 1); rotated || err != nil {
		t.Fatalf("Rotate(missing) = %v, %v", rotated, err)
	}
}

func TestSize(t *testing.T) {
	log := filepath.Join(t.TempDir(), "web.log")
	if Size(log) != 0 {
		t.Fatal("Size of a missing file is not 0")
	}
	if err := os.WriteFile(log, []byte("12345"), 0o640); err != nil {
		t.Fatal(err)
	}
	if Size(log) != 5 {
		t.Fatalf("Size = %d", Size(log))
	}
}

// What a launch records as the size is where its own output starts.
func TestTailIgnoresEarlierRuns(t *testing.T) {
	log := filepath.Join(t.TempDir(), "web.log")
	first := startEcho(t, log)
	first.say(t, log, "stale from run 1")
	from := Size(log)
	second := startEcho(t, log)
	second.say(t, log, "fresh from run 2")
	if got := Tail(log, from, 1<<20); got != "fresh from run 2\nerr:fresh from run 2" {
		t.Fatalf("Tail = %q", got)
	}
	// Rotated since the launch: the file is now shorter than from.
	if _, err := Rotate(log, 1); err != nil {
		t.Fatal(err)
	}
	second.say(t, log, "x")
	if got := Tail(log, from, 1<<20); got != "x\nerr:x" {
		t.Fatalf("Tail after rotation = %q", got)
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		name    string
		content string
		from, n int64
		want    string
	}{
		{"all", "a\nb\n", 0, 100, "a\nb"},
		{"exact fit", "a\nb\n", 0, 4, "a\nb"},
		{"cut drops partial line", "line1\nline2\nline3\n", 0, 8, "line3"},
		{"cut at a line start keeps it", "line1\nline2\nline3\n", 0, 12, "line2\nline3"},
		{"no newline in window: cut rune dropped", "xxxxxé12345", 0, 6, "12345"},
		{"from skips earlier", "old\nnew\n", 4, 100, "new"},
		{"from past the end reads from 0", "short\n", 100, 100, "short"},
		{"from and cut", "old\nn1\nn2\nn3\n", 4, 4, "n3"},
		{"invalid UTF-8 replaced", "a\xffb\n", 0, 100, "a\uFFFDb"},
		{"white space trimmed", "\n\n  hi  \n\n", 0, 100, "hi"},
		{"empty", "", 0, 100, ""},
		{"n zero", "abc", 0, 0, ""},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprint(i))
			if err := os.WriteFile(p, []byte(tt.content), 0o640); err != nil {
				t.Fatal(err)
			}
			if got := Tail(p, tt.from, tt.n); got != tt.want {
				t.Errorf("Tail(%q, from %d, n %d) = %q, want %q", tt.content, tt.from, tt.n, got, tt.want)
			}
		})
	}
	if got := Tail(filepath.Join(dir, "missing"), 0, 100); got != "" {
		t.Errorf("Tail(missing) = %q", got)
	}
}

func TestRotator(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	ca, cb := startEcho(t, a), startEcho(t, b)
	// A 40-byte line and its 44-byte "err:" echo: the first write stays
	// under the bound of 60, the second takes the file over it.
	const bound = 60
	line := func(s string) string { return s + strings.Repeat(".", 39-len(s)) }
	r := NewRotator(bound, 5*time.Millisecond)
	var mu sync.Mutex
	reports := map[string]int{}
	r.OnRotate = func(path string, err error) {
		if err != nil {
			t.Errorf("rotate %s: %v", path, err)
		}
		mu.Lock()
		reports[path]++
		mu.Unlock()
	}
	rotations := func(p string) int {
		mu.Lock()
		defer mu.Unlock()
		return reports[p]
	}
	send := func(c *echoChild, s string) {
		if _, err := io.WriteString(c.in, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	rotatedTo := func(p string, n int, s string) {
		t.Helper()
		wait.Until(t, 5*time.Second, func() bool {
			b, _ := os.ReadFile(p + ".1")
			return rotations(p) == n && Size(p) == 0 && string(b) == s+"\nerr:"+s+"\n"
		}, "%s was not rotated %d times", p, n)
	}
	r.Add(a)
	r.Add(b)
	r.Add(a)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { r.Run(ctx); close(ran) }()

	send(ca, line("a1"))
	send(cb, line("b1"))
	rotatedTo(a, 1, line("a1"))
	rotatedTo(b, 1, line("b1"))

	// Removed, b grows past the bound and stays there; a is still kept.
	r.Remove(b)
	cb.say(t, b, line("b2"))
	send(ca, line("a2"))
	rotatedTo(a, 2, line("a2"))
	if rotations(b) != 1 || Size(b) <= bound {
		t.Fatalf("b touched after Remove: %d rotations, size %d", rotations(b), Size(b))
	}

	cancel()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// A failure repeating each pass is reported once, not every interval.
func TestRotatorReportsAFailureOnce(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "web.log")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), log); err != nil {
		t.Fatal(err)
	}
	r := NewRotator(1, time.Millisecond)
	var mu sync.Mutex
	var errs []error
	r.OnRotate = func(path string, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	r.Add(log)
	for range 5 {
		r.check()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 1 || !errors.Is(errs[0], syscall.ELOOP) {
		t.Fatalf("after 5 passes, reports %v; want one ELOOP", errs)
	}
}
