package mirror

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/backoff"
	"github.com/razar/razar/internal/jsonl"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// runMirror starts m with a short backoff and returns a stop that waits
// for Run to return.
func runMirror(t *testing.T, m *Mirror) (stop func()) {
	t.Helper()
	m.retry = backoff.Backoff{Base: 5 * time.Millisecond, Max: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// publishAttempts stores n invocation records with incidents prefix-0...
func publishAttempts(t *testing.T, st *jetstream.Store, prefix string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range n {
		rec := &bus.AuditRecord{Event: bus.EventAttempt, Component: "web", Incident: fmt.Sprintf("%s-%d", prefix, i), Agent: "k2", Attempt: 1, Outcome: "no_fix"}
		if err := st.Audit(ctx, rec, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// mirrored reads a mirror file: every line must be a JSON record, in
// rising sequence order (so none is there twice).
func mirrored(path string) ([]bus.AuditRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("%s ends in a torn line: %q", path, b[bytes.LastIndexByte(b, '\n')+1:])
	}
	var recs []bus.AuditRecord
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		var r bus.AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s line %d %q: %v", path, n, sc.Bytes(), err)
		}
		if len(recs) > 0 && r.Seq <= recs[len(recs)-1].Seq {
			return nil, fmt.Errorf("%s line %d: seq %d after %d", path, n, r.Seq, recs[len(recs)-1].Seq)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// waitMirrored waits until path holds whole lines in rising sequence order
// and at least as many as want, then checks it holds exactly the incidents
// want, once each, in order.
func waitMirrored(t *testing.T, path string, want []string) {
	t.Helper()
	var got []bus.AuditRecord
	var err error
	bustest.Eventually(t, 20*time.Second, func() bool {
		got, err = mirrored(path) // a torn or unordered file may be mended yet
		return err == nil && len(got) >= len(want)
	}, "%s holds %v of %d records", path, bustest.Lazy(func() string {
		if err != nil {
			return fmt.Sprintf("%d whole (%v)", len(got), err)
		}
		return strconv.Itoa(len(got))
	}), len(want))
	if len(got) != len(want) {
		t.Fatalf("%s has %d records, want %d", path, len(got), len(want))
	}
	for i, r := range got {
		if r.Incident != want[i] {
			t.Fatalf("%s line %d is %s, want %s", path, i+1, r.Incident, want[i])
		}
	}
}

func incidents(prefix string, n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("%s-%d", prefix, i))
	}
	return s
}

// TestMirrorLosesNoRecordThroughALongWriteOutage: a disk that takes half of
// each line and then reports it full, for many more attempts than the old
// consumer's MaxDeliver, loses nothing: once it has room again every record
// is in the file once, in order, as whole lines, with one warning for the
// outage and one line saying it recovered.
func TestMirrorLosesNoRecordThroughALongWriteOutage(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	path := razar.Home(home).Invocations()
	logs := &syncWriter{}
	m := New(env.Store, home, zerolog.New(logs))
	var full atomic.Bool
	var failed atomic.Int64
	m.write = func(f *os.File, b []byte) (int, error) {
		if full.Load() {
			failed.Add(1)
			n, _ := f.Write(b[:len(b)/2])
			return n, syscall.ENOSPC
		}
		return f.Write(b)
	}
	runMirror(t, m)

	publishAttempts(t, env.Store, "before", 3)
	waitMirrored(t, path, incidents("before", 3))
	full.Store(true)
	publishAttempts(t, env.Store, "during", 40)
	bustest.Eventually(t, 20*time.Second, func() bool { return failed.Load() > 3*jetstream.DefaultMaxDeliver },
		"the mirror tried to write only %d times", failed.Load())
	if recs, err := mirrored(path); err != nil || len(recs) != 3 {
		t.Fatalf("during the outage the file holds %d records (%v), want the 3 before it, whole", len(recs), err)
	}
	full.Store(false)
	waitMirrored(t, path, append(incidents("before", 3), incidents("during", 40)...))
	publishAttempts(t, env.Store, "after", 2)
	waitMirrored(t, path, append(append(incidents("before", 3), incidents("during", 40)...), incidents("after", 2)...))

	out := logs.String()
	if n := strings.Count(out, "could not mirror audit record"); n != 1 {
		t.Errorf("%d warnings for one outage, want 1; log:\n%s", n, out)
	}
	if n := strings.Count(out, "log mirror writes again"); n != 1 {
		t.Errorf("%d recovery lines, want 1; log:\n%s", n, out)
	}
}

// TestMirrorLosesNoRecordWhileItsPathIsADirectory: a logs/ file moved
// aside and replaced by a directory (as root can do, where chmod blocks
// nothing) is noticed before the next write, so nothing goes into the
// moved file; once the directory is gone every record after the move is
// in a new file at the path, once, in order.
func TestMirrorLosesNoRecordWhileItsPathIsADirectory(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	path := razar.Home(home).Invocations()
	logs := &syncWriter{}
	runMirror(t, New(env.Store, home, zerolog.New(logs)))

	publishAttempts(t, env.Store, "before", 3)
	waitMirrored(t, path, incidents("before", 3))
	if err := os.Rename(path, path+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o750); err != nil {
		t.Fatal(err)
	}
	publishAttempts(t, env.Store, "during", 25)
	bustest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(logs.String(), "is a directory") },
		"the mirror did not report the directory; log:\n%s", logs)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitMirrored(t, path, incidents("during", 25))
	if recs, err := mirrored(path + ".aside"); err != nil || len(recs) != 3 {
		t.Fatalf("the moved file holds %d records (%v), want the 3 before the move", len(recs), err)
	}
}

// TestMirrorCutsATornTailAtStartAndWritesNothingTwice: half a line left by
// a crash is cut off when the next mirror opens the file, and the whole
// stream replayed (no kept position) adds only the records not yet there.
func TestMirrorCutsATornTailAtStartAndWritesNothingTwice(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	path := razar.Home(home).Invocations()
	stop := runMirror(t, New(env.Store, home, zerolog.Nop()))
	publishAttempts(t, env.Store, "first", 3)
	waitMirrored(t, path, incidents("first", 3))
	stop()

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"seq":999,"event":"attempt","incid`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Remove(razar.Home(home).MirrorPos()); err != nil {
		t.Fatal(err)
	}
	publishAttempts(t, env.Store, "second", 3)
	logs := &syncWriter{}
	runMirror(t, New(env.Store, home, zerolog.New(logs)))
	waitMirrored(t, path, append(incidents("first", 3), incidents("second", 3)...))
	if !strings.Contains(logs.String(), "cut off a torn last line") {
		t.Errorf("the cut was not logged; log:\n%s", logs)
	}
}

// TestMirrorCutsAnInvalidLastLineAtStart: a last line with its newline but
// not JSON (a crash that extended the file before writing it) is cut too.
func TestMirrorCutsAnInvalidLastLineAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "x.json")
	if err := jsonl.Append(path, []byte(`{"seq":1}`)); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.Write([]byte("\x00\x00\x00\n"))
	f.Close()
	if err := jsonl.Append(path, []byte(`{"seq":2}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "{\"seq\":1}\n{\"seq\":2}\n" {
		t.Fatalf("file:\n%q", got)
	}
}

// TestMirrorRestartCatchesUpFromItsKeptPosition: records stored while no
// mirror runs are written by the next one, once, and the kept position
// says how far the stream is mirrored, past records of no file too.
func TestMirrorRestartCatchesUpFromItsKeptPosition(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	path := razar.Home(home).Invocations()
	m := New(env.Store, home, zerolog.Nop())
	stop := runMirror(t, m)
	publishAttempts(t, env.Store, "first", 4)
	waitMirrored(t, path, incidents("first", 4))
	stop()

	publishAttempts(t, env.Store, "second", 4)
	ctx := context.Background()
	// A record of no file moves the position on all the same.
	if err := env.Store.Audit(ctx, &bus.AuditRecord{Event: bus.EventOpened, Component: "web", Incident: "x"}, ""); err != nil {
		t.Fatal(err)
	}
	m2 := New(env.Store, home, zerolog.Nop())
	runMirror(t, m2)
	m2.Flush(20 * time.Second)
	waitMirrored(t, path, append(incidents("first", 4), incidents("second", 4)...))
	last, err := env.Store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(razar.Home(home).MirrorPos())
		pos, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return pos == last
	}, "%s never said %d", razar.Home("").MirrorPos(), last)
}

// TestMirrorFlushReturnsOnlyWhenEveryStoredRecordIsInTheFiles: what Flush
// waited for is in the file the moment it returns.
func TestMirrorFlushReturnsOnlyWhenEveryStoredRecordIsInTheFiles(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	m := New(env.Store, home, zerolog.Nop())
	runMirror(t, m)
	publishAttempts(t, env.Store, "r", 30)
	m.Flush(20 * time.Second)
	recs, err := mirrored(razar.Home(home).Invocations())
	if err != nil || len(recs) != 30 {
		t.Fatalf("after Flush the file holds %d records (%v), want 30", len(recs), err)
	}
}

// TestMirrorLosesNoRecordWhenTheFilesystemIsFull fills a real 64 KiB tmpfs
// under logs/ until writes fail with ENOSPC, then frees it: every record is
// in the file once, in order, whole.
func TestMirrorLosesNoRecordWhenTheFilesystemIsFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	home := t.TempDir()
	logsDir := filepath.Join(home, "logs")
	if err := os.Mkdir(logsDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", logsDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", logsDir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", logsDir, err, out)
		}
	})
	env := bustest.New(t)
	path := razar.Home(home).Invocations()
	logs := &syncWriter{}
	stop := runMirror(t, New(env.Store, home, zerolog.New(logs)))
	defer stop() // before the unmount

	publishAttempts(t, env.Store, "before", 2)
	waitMirrored(t, path, incidents("before", 2))
	filler := filepath.Join(logsDir, "filler")
	fill(t, filler)
	publishAttempts(t, env.Store, "during", 60) // well over a page
	bustest.Eventually(t, 20*time.Second, func() bool { return strings.Contains(logs.String(), "no space left") },
		"the mirror never hit ENOSPC; log:\n%s", logs)
	if recs, err := mirrored(path); err != nil || len(recs) >= 62 {
		t.Fatalf("the full file holds %d records (%v): want whole lines and some still missing", len(recs), err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitMirrored(t, path, append(incidents("before", 2), incidents("during", 60)...))
}

// fill writes path until its filesystem has no room left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestMirrorRotatesFullFilesKeepingTheNewestRecordsInOrder: past MaxBytes a
// file moves to .1 (and .1 to .2, .2 to .3); the newest records are in the
// current file and the rotated ones hold older ones, none twice, no file
// much over the bound.
func TestMirrorRotatesFullFilesKeepingTheNewestRecordsInOrder(t *testing.T) {
	env := bustest.New(t)
	home := t.TempDir()
	m := New(env.Store, home, zerolog.Nop())
	m.MaxBytes = 4 << 10
	runMirror(t, m)
	publishAttempts(t, env.Store, "r", 200)
	path := razar.Home(home).Invocations()
	var all []bus.AuditRecord
	bustest.Eventually(t, 20*time.Second, func() bool {
		all = nil
		for _, p := range []string{path + ".3", path + ".2", path + ".1", path} {
			recs, err := mirrored(p)
			if err != nil && !os.IsNotExist(err) {
				return false
			}
			all = append(all, recs...)
		}
		return len(all) > 0 && all[len(all)-1].Incident == "r-199"
	}, "the newest record never reached %s", path)
	if _, err := os.Stat(path + ".3"); err != nil {
		t.Fatalf("200 records over a 4 KiB bound rotated fewer than three times: %v", err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("records out of order or twice across the rotated files: seq %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
	for _, p := range []string{path + ".3", path + ".2", path + ".1", path} {
		if st, err := os.Stat(p); err == nil && st.Size() > m.MaxBytes+2<<10 {
			t.Errorf("%s is %d bytes, over the %d bound by more than a line", p, st.Size(), m.MaxBytes)
		}
	}
}
