package ctl

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/razar/razar/config"
)

// EnvFile is the optional settings file of docs/CONTRACT.md section 1.
const EnvFile = "config/razar.env"

// Env is a home's variables: the process environment first, then
// config/razar.env. The file is read at the first look-up, once flags
// have settled the home, and again only when Swap installs new settings.
// It is safe for concurrent use.
type Env struct {
	home func() string    // the home, as the flags leave it
	os   config.Lookup    // the process environment alone
	warn func() io.Writer // where a broken file is reported, once

	mu   sync.RWMutex
	read bool              // config/razar.env has been read
	file map[string]string // config/razar.env as last read
	err  error             // why it could not be read
	said bool              // err has been reported
}

// NewEnv returns the variables of the home home() names, looked up in the
// process environment through osLookup first. A config/razar.env that
// cannot be read is reported once on warn() and gives no settings.
func NewEnv(home func() string, osLookup config.Lookup, warn func() io.Writer) *Env {
	return &Env{home: home, os: osLookup, warn: warn}
}

// Lookup reads a variable, telling unset from empty.
func (e *Env) Lookup(key string) (string, bool) {
	if v, ok := e.os(key); ok {
		return v, true // a variable set in the environment wins
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.readLocked()
	if e.err != nil && !e.said {
		e.said = true
		fmt.Fprintf(e.warn(), "razar: warning: %v; its settings are ignored\n", e.err)
	}
	v, ok := e.file[key]
	return v, ok
}

// Getenv reads a variable; unset is "".
func (e *Env) Getenv(key string) string { v, _ := e.Lookup(key); return v }

// ReadFile reads config/razar.env afresh; a missing file is no settings.
func (e *Env) ReadFile() (map[string]string, error) {
	return config.LoadEnvFile(filepath.Join(e.home(), EnvFile))
}

// readLocked reads config/razar.env once; e.mu must be held. A broken
// file gives no settings and its error in e.err.
func (e *Env) readLocked() {
	if e.read {
		return
	}
	e.read = true
	e.file, e.err = e.ReadFile()
}

// FileErr says why config/razar.env could not be read (`razar boot`
// refuses to start on a broken file); the caller reports it.
func (e *Env) FileErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.readLocked()
	e.said = true
	return e.err
}

// Swap installs env as config/razar.env's settings and returns the old ones.
func (e *Env) Swap(env map[string]string) map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.file
	e.file, e.read, e.err = env, true, nil
	return old
}

// File is config/razar.env's settings as last read (nil before).
func (e *Env) File() map[string]string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.file
}
