package main

import (
	"errors"
	"reflect"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/patch"
)

// TestSandboxSettings: RAZAR_SANDBOX, RAZAR_SANDBOX_UID and
// RAZAR_SANDBOX_READONLY become the orchestrator's patch.Sandbox; unset is
// the strict sandbox; a bad value is a ConfigError naming the variable,
// root is never accepted as the sandbox's uid, and no read-only path may
// show the home (or a directory above it, or one in it).
func TestSandboxSettings(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want patch.Sandbox
		bad  string // the variable a ConfigError names
	}{
		{env: nil, want: patch.Sandbox{}},
		{env: map[string]string{"RAZAR_SANDBOX": "strict"}, want: patch.Sandbox{}},
		{env: map[string]string{"RAZAR_SANDBOX": "Weak"}, want: patch.Sandbox{Weak: true}},
		{env: map[string]string{"RAZAR_SANDBOX": "off"}, bad: "RAZAR_SANDBOX"},
		{env: map[string]string{"RAZAR_SANDBOX_UID": "64000"}, want: patch.Sandbox{UID: 64000, GID: 64000}},
		{env: map[string]string{"RAZAR_SANDBOX_UID": "64000:65000"}, want: patch.Sandbox{UID: 64000, GID: 65000}},
		{env: map[string]string{"RAZAR_SANDBOX_UID": "0"}, bad: "RAZAR_SANDBOX_UID"},
		{env: map[string]string{"RAZAR_SANDBOX_UID": "64000:0"}, bad: "RAZAR_SANDBOX_UID"},
		{env: map[string]string{"RAZAR_SANDBOX_UID": "nobody"}, bad: "RAZAR_SANDBOX_UID"},
		{env: map[string]string{"RAZAR_SANDBOX_READONLY": "/opt/venv: /usr/local/go/"}, want: patch.Sandbox{ReadOnly: []string{"/opt/venv", "/usr/local/go"}}},
		{env: map[string]string{"RAZAR_SANDBOX_READONLY": "venv"}, bad: "RAZAR_SANDBOX_READONLY"},
		{env: map[string]string{"RAZAR_SANDBOX_READONLY": "/srv"}, bad: "RAZAR_SANDBOX_READONLY"},
		{env: map[string]string{"RAZAR_SANDBOX_READONLY": "/opt/venv:/srv/razar/state/identities"}, bad: "RAZAR_SANDBOX_READONLY"},
		{env: map[string]string{"RAZAR_SANDBOX_READONLY": "/srv/razar"}, bad: "RAZAR_SANDBOX_READONLY"},
		{env: map[string]string{"RAZAR_SANDBOX_READONLY": "/srv/razar-tools"}, want: patch.Sandbox{ReadOnly: []string{"/srv/razar-tools"}}},
	}
	for _, tt := range tests {
		c := &cli{home: "/srv/razar", getenv: func(k string) string { return tt.env[k] }}
		var s settings
		err := c.readVariables(&s)
		got := s.variables().Sandbox
		var ce *razar.ConfigError
		switch {
		case tt.bad != "":
			if !errors.As(err, &ce) || ce.Field != tt.bad || ce.Fix == "" {
				t.Errorf("%v: %v, want a ConfigError naming %s with a fix", tt.env, err, tt.bad)
			}
		case err != nil:
			t.Errorf("%v: %v", tt.env, err)
		case !reflect.DeepEqual(got, tt.want):
			t.Errorf("%v: %+v, want %+v", tt.env, got, tt.want)
		}
	}
}
