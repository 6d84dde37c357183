package alert_test

import (
	"github.com/razar/razar/alert"
	"github.com/razar/razar/orchestrator"
	"github.com/razar/razar/supervisor"
)

// The Alerter is what the orchestrator and the supervisor each ask for
// through an interface of their own; neither package may import this one.
var (
	_ orchestrator.Alerter = (*alert.Alerter)(nil)
	_ supervisor.Alerter   = (*alert.Alerter)(nil)
)
