package ctl

import (
	"errors"
	"testing"

	"github.com/razar/razar/bus"
)

// exit is the status an error ends a command with: 2, 1, or 0 for nil.
func exit(err error) int {
	var ee *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	}
	return 1
}

func TestAuditOptionsAreCheckedBeforeTheStoreIsOpened(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		o      AuditOptions
		code   int
		filter string
	}{
		{AuditOptions{}, 0, bus.AuditAll},
		{AuditOptions{Since: "2d"}, 0, bus.AuditAll},
		{AuditOptions{Since: "2026-12-01T10:00:00Z"}, 0, bus.AuditAll},
		{AuditOptions{Since: "two days"}, 2, ""},
		{AuditOptions{Incident: "inc.*"}, 2, ""},
		{AuditOptions{Component: "web"}, 0, bus.AuditComponent("web")},
		{AuditOptions{Component: bus.SystemComponent}, 0, bus.AuditComponent(bus.SystemComponent)},
		{AuditOptions{Component: "no/such"}, 2, ""},
	} {
		_, filter, err := tt.o.check()
		if exit(err) != tt.code || (err == nil && filter != tt.filter) {
			t.Errorf("%+v: exit %d, filter %q (%v); want exit %d, filter %q", tt.o, exit(err), filter, err, tt.code, tt.filter)
		}
	}
}

func TestLifecycleArgumentsPickTheVerbAndTheComponent(t *testing.T) {
	t.Parallel()
	c := &Client{Home: t.TempDir(), Getenv: func(string) string { return "" }}
	for _, tt := range []struct {
		verb      bus.Verb
		args      []string
		code      int
		want      bus.Verb
		component string
	}{
		{bus.VerbStop, []string{"web"}, 0, bus.VerbStop, "web"},
		{bus.VerbStop, nil, 2, "", ""},
		{bus.VerbStop, []string{"web", "db"}, 2, "", ""},
		{bus.VerbApprove, []string{"web", "p-1"}, 0, bus.VerbApprove, "web"},
		{bus.VerbApprove, []string{"web"}, 2, "", ""},
		{bus.VerbApprove, []string{"rotation", "rot-1"}, 0, bus.VerbApproveRotation, bus.AllComponents},
		{bus.VerbReject, []string{"rotation", "rot-1"}, 0, bus.VerbRejectRotation, bus.AllComponents},
		{bus.VerbStart, []string{"../etc"}, 2, "", ""},
	} {
		verb, component, _, err := c.lifecycleRequest(tt.verb, LifecycleOptions{Args: tt.args})
		if exit(err) != tt.code || (err == nil && (verb != tt.want || component != tt.component)) {
			t.Errorf("%s %q: exit %d, %s %q (%v); want exit %d, %s %q", tt.verb, tt.args, exit(err), verb, component, err, tt.code, tt.want, tt.component)
		}
	}
}

func TestFixesArgumentsAreCheckedBeforeTheBusIsAsked(t *testing.T) {
	t.Parallel()
	c := &Client{Getenv: func(string) string { return "" }}
	for _, tt := range []struct {
		name string
		args []string
		code int
		verb bus.Verb
	}{
		{"list", nil, 0, bus.VerbFixes},
		{"list", []string{"x"}, 2, ""},
		{"show", []string{"sig-0123456789abcdef"}, 0, bus.VerbFixes},
		{"show", []string{"nope"}, 2, ""},
		{"forget", nil, 2, ""},
		{"forget", []string{"sig-0123456789abcdef"}, 0, bus.VerbFixForget},
		{"pin", []string{"sig-0123456789abcdef"}, 0, bus.VerbFixPin},
	} {
		req, verb, err := c.fixesRequest(tt.name, FixesOptions{Args: tt.args})
		if exit(err) != tt.code || (err == nil && verb != tt.verb) {
			t.Errorf("fixes %s %q: exit %d, verb %s (%v); want exit %d, verb %s", tt.name, tt.args, exit(err), verb, err, tt.code, tt.verb)
		}
		if err == nil && len(tt.args) == 1 && req.Signature != tt.args[0] {
			t.Errorf("fixes %s %q: signature %q", tt.name, tt.args, req.Signature)
		}
	}
}
