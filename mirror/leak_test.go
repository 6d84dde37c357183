package mirror

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts has an owner that stops it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}
