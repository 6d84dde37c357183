package bus_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// A rung's side of one attempt: decode the escalation taken from its
// consumer on razar.escalate.<rung>, answer with a Result on the subject
// and message id the bus builds, encoded by the one codec.
func Example() {
	// What the orchestrator publishes (abridged: no history, no workspace).
	data := []byte(`{"v":1,"incident":"inc-20261126-124412-a1b2c3","component":"ledger",
		"error":"ledger exited 1: ledger.conf line 2: unknown key prot","attempt":1,
		"rung":"k2","pass":1,"deadline":"2026-11-26T12:46:12Z","context":[]}`)
	var esc bus.Escalation
	if err := bus.Decode(data, &esc); err != nil {
		fmt.Println(err)
		return
	}
	task := esc.Task() // what a backend's Repair sees
	fmt.Println(task.Component, task.Attempt, task.Error)

	res := &bus.Result{
		Incident: esc.Incident, Attempt: esc.Attempt, Rung: esc.Rung,
		Status:  razar.StatusFixed,
		Summary: "prot is a typo of port",
		Diff:    "--- a/ledger.conf\n+++ b/ledger.conf\n@@ -2 +2 @@\n-prot=8200\n+port=8200\n",
	}
	out, err := bus.Encode(res)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(bus.ResultSubject(esc.Incident, esc.Rung))
	fmt.Println(bus.ResultMsgID(esc.Incident, esc.Attempt))
	fmt.Println(string(out))
	// Output:
	// ledger 1 ledger exited 1: ledger.conf line 2: unknown key prot
	// razar.result.inc-20261126-124412-a1b2c3.k2
	// res-inc-20261126-124412-a1b2c3-1
	// {"v":1,"incident":"inc-20261126-124412-a1b2c3","attempt":1,"rung":"k2","status":"fixed","summary":"prot is a typo of port","diff":"--- a/ledger.conf\n+++ b/ledger.conf\n@@ -2 +2 @@\n-prot=8200\n+port=8200\n"}
}

// Decode checks what it decodes: a payload without its version, or one
// whose required fields are missing, fails with a *razar.DecodeError
// naming the field, which matches razar.ErrBadPayload.
func ExampleDecode() {
	for _, data := range []string{
		`{"incident":"inc-1","attempt":1,"rung":"k2","status":"fixed"}`,
		`{"v":1,"incident":"inc-1","attempt":1,"rung":"k2","status":"done"}`,
		`{"v":1,"incident":"inc-1","attempt":1,"rung":"k2","status":"no_fix","summary":"not a config error"}`,
	} {
		var res bus.Result
		err := bus.Decode([]byte(data), &res)
		var de *razar.DecodeError
		if errors.As(err, &de) {
			fmt.Printf("field %q: %v (bad payload: %v)\n", de.Field, err, errors.Is(err, razar.ErrBadPayload))
			continue
		}
		fmt.Println(res.Status, res.Summary)
	}
	// Output:
	// field "v": decode result: field "v": missing: set "v": 1 (bad payload: true)
	// field "status": decode result: field "status": "done" is not fixed, no_fix or error (bad payload: true)
	// no_fix not a config error
}

// Check is what Decode runs after unmarshalling; a rung can run it on
// what it is about to send.
func ExampleEscalation_Check() {
	esc := bus.EscalationOf(razar.Task{Incident: "inc-1", Component: "ledger", Attempt: 1, Rung: "k2"},
		time.Date(2026, 11, 26, 12, 46, 12, 0, time.UTC))
	fmt.Println(esc.Check())
	esc.Rung = "k2.coder" // a dot would split the subject
	fmt.Println(esc.Check())
	// The receiving side's Decode names the field.
	data, err := bus.Encode(esc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(bus.Decode(data, new(bus.Escalation)))
	// Output:
	// <nil>
	// missing or not a subject token
	// decode escalation: field "rung": missing or not a subject token
}
