package wait_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/razar/razar/internal/wait"
)

// recorder is a testing.TB that records a failure instead of ending the
// test, so For's own failure can be asserted.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(r) // stops For as runtime.Goexit would
}

// run calls f with a recorder and returns the failure it recorded.
func run(t *testing.T, f func(testing.TB)) (failed string) {
	r := &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		failed = r.failed
	}()
	f(r)
	return r.failed
}

func TestForReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	failed := run(t, func(tb testing.TB) {
		wait.For(tb, 10*time.Second, func() error {
			if n.Add(1) < 3 {
				return errors.New("not yet")
			}
			return nil
		})
	})
	if failed != "" || n.Load() != 3 {
		t.Fatalf("failed %q after %d calls, want success on the 3rd", failed, n.Load())
	}
}

func TestForSaysWhyOnATimeout(t *testing.T) {
	failed := run(t, func(tb testing.TB) {
		wait.For(tb, 0, func() error { return errors.New("queue depth 3, want 0") })
	})
	if !strings.Contains(failed, "condition not met within 0s: queue depth 3, want 0") {
		t.Fatalf("failure %q does not say why", failed)
	}
}

func TestUntilFormatsItsMessageOnlyOnATimeout(t *testing.T) {
	var formatted atomic.Int32
	state := stringer(func() string { formatted.Add(1); return "state at the end" })
	var polls atomic.Int32
	failed := run(t, func(tb testing.TB) {
		wait.Until(tb, 3*wait.Interval, func() bool { polls.Add(1); return false }, "never: %v", state)
	})
	if !strings.Contains(failed, "never: state at the end") {
		t.Fatalf("failure %q", failed)
	}
	if polls.Load() < 2 || formatted.Load() != 1 {
		t.Fatalf("%d polls, message formatted %d times; want several polls, one format", polls.Load(), formatted.Load())
	}
}

type stringer func() string

func (s stringer) String() string { return s() }
