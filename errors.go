package razar

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrInvalidConfig wraps every configuration error: a bad file, field or flag.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrNotFound is returned when a component, incident, rung or record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnknownComponent is returned for a component that is not in the
	// boot config. It wraps ErrNotFound.
	ErrUnknownComponent = fmt.Errorf("unknown component: %w", ErrNotFound)
	// ErrAborted is returned when an operator aborted an incident.
	ErrAborted = errors.New("aborted by operator")
	// ErrRungUnavailable is returned when a rung cannot run at all
	// (missing credential, no endpoint, backend not built in).
	ErrRungUnavailable = errors.New("rung unavailable")
	// ErrBadPayload is returned for a message that cannot be decoded or fails validation.
	ErrBadPayload = errors.New("bad payload")
)

// ConfigError is a configuration error that names the file, the field and the fix.
// It wraps ErrInvalidConfig.
type ConfigError struct {
	File  string // the file, or "flag" / "env" for non-file settings
	Field string // a JSON path such as components[2].health_check
	Msg   string // what is wrong
	Fix   string // what to do about it
}

func (e *ConfigError) Error() string {
	s := e.File
	if e.Field != "" {
		s += ": " + e.Field
	}
	s += ": " + e.Msg
	if e.Fix != "" {
		s += " (fix: " + e.Fix + ")"
	}
	return s
}

func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// AgentCredentialError says a rung cannot run because a credential is
// unset, empty (blank or whitespace only), or cannot be read from the file
// its V_FILE variable names. It never holds the credential's value. It wraps
// ErrRungUnavailable.
type AgentCredentialError struct {
	Agent  string
	EnvVar string // the variable at fault: V, or V_FILE when Path is set
	Empty  bool   // set (or the file read) but blank, as opposed to unset
	// Path is the file EnvVar (a V_FILE variable) names, made absolute.
	Path string
	// Reason, when set, says what else is wrong: why the file at Path
	// cannot be read ("permission denied"), or, without Path, a sentence
	// going on from the variable's name ("is set and so is V_FILE, ...").
	// Fix says what to do about it.
	Reason, Fix string
}

func (e *AgentCredentialError) Error() string {
	what := "credential variable " + e.EnvVar
	if e.Path != "" {
		what = fmt.Sprintf("credential file %s=%s", e.EnvVar, e.Path)
	}
	state, fix := " is unset", "set "+e.EnvVar+" in config/razar.env and run `razar reload` (a variable exported in a shell reaches only what that shell starts), or name a key file with "+e.EnvVar+"_FILE"
	switch {
	case e.Reason != "" && e.Path != "": // why the file cannot be read
		state, fix = ": "+e.Reason, e.Fix
	case e.Reason != "":
		state, fix = " "+e.Reason, e.Fix
	case e.Empty && e.Path != "":
		state, fix = " is empty", "write the key to the file"
	case e.Empty:
		state = " is empty"
	}
	if fix == "" {
		return fmt.Sprintf("agent %s: %s%s", e.Agent, what, state)
	}
	return fmt.Sprintf("agent %s: %s%s (fix: %s)", e.Agent, what, state, fix)
}

func (e *AgentCredentialError) Unwrap() error { return ErrRungUnavailable }

// DecodeError says which field of which payload could not be decoded.
// It wraps ErrBadPayload.
type DecodeError struct {
	Type  string // payload type, e.g. "escalation"
	Field string // JSON field, empty when the document itself is broken
	Err   error
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("decode %s: %v", e.Type, e.Err)
	}
	return fmt.Sprintf("decode %s: field %q: %v", e.Type, e.Field, e.Err)
}

func (e *DecodeError) Unwrap() []error { return []error{ErrBadPayload, e.Err} }
