package agents

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/razar/razar/patch"
)

// Every goroutine a test starts has an owner that stops it. A test that
// validates a repaired copy starts this binary as the sandbox init.
func TestMain(m *testing.M) {
	patch.SandboxMain()
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}
