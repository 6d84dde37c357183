package wait

import (
	"fmt"
	"testing"
	"time"
)

// Interval is how often For polls its condition.
const Interval = 10 * time.Millisecond

// For calls cond until it returns nil, every Interval, and fails t once d
// has passed with the error cond returned last: the timeout says why. cond
// is called at least once, even when d is not positive.
func For(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", d, err)
		}
		<-tick.C
	}
}

// Until is For for a condition that only says yes or no. On a timeout the
// failure is format and args, formatted then (so an fmt.Stringer among the
// args shows the state at the end, and costs nothing while polling).
func Until(t testing.TB, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	For(t, d, func() error {
		if cond() {
			return nil
		}
		return &unmet{format, args}
	})
}

// unmet is Until's reason, formatted only when printed.
type unmet struct {
	format string
	args   []any
}

func (u *unmet) Error() string { return fmt.Sprintf(u.format, u.args...) }
