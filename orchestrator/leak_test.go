package orchestrator

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/razar/razar/patch"
)

// Every goroutine a test starts has an owner that stops it.
func TestMain(m *testing.M) {
	patch.SandboxMain() // the validation sandbox's init, when this binary was started as one
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"))
}
