package config

import (
	"errors"
	"testing"
	"time"

	"github.com/razar/razar"
)

// vars is a Vars over a map.
func vars(env map[string]string) Vars { return func(k string) string { return env[k] } }

// TestReadSettingsDefaults: with nothing set, every setting is its
// default, those other packages own taken from Defaults.
func TestReadSettingsDefaults(t *testing.T) {
	d := Defaults{Threshold: 9, WarnThreshold: 3, SettleWindow: time.Minute, ContextBytes: 32 << 10, ContextCalls: 40, SandboxID: 65534,
		Limits: StoreLimits{StreamMaxBytes: 1 << 30, StateMaxBytes: 1 << 28, ResultsMaxBytes: 1 << 29, StreamMaxMsgSize: 1 << 20, StateMaxValueSize: 1 << 20}}
	s, err := ReadSettings(vars(map[string]string{"RAZAR_HOST": "h1"}), "/srv/razar", d)
	if err != nil {
		t.Fatal(err)
	}
	if s.Threshold != 9 || s.Warn != 3 || s.SettleWindow != time.Minute || s.ContextBytes != 32<<10 || s.ContextCalls != 40 ||
		s.Limits.StreamMaxMsgSize != 1<<20 || s.Limits.StateMaxBytes != 1<<28 || s.MetricsAddr != DefaultMetricsAddr ||
		s.ChakraAddr != DefaultChakraAddr || s.Retention != 30*24*time.Hour || s.FixNewFiles != NewFilesApprove || s.HostName != "h1" {
		t.Errorf("defaults: %+v", s)
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("warnings of the defaults: %q", w)
	}
}

// TestReadSettingsNamesTheBadVariable: a bad value is a ConfigError
// naming its variable, with a fix.
func TestReadSettingsNamesTheBadVariable(t *testing.T) {
	for name, value := range map[string]string{
		"RAZAR_RSTAR_THRESHOLD": "-1", "RAZAR_VERIFY_WINDOW": "0s", "RAZAR_STREAM_MAX_BYTES": "12XB",
		"RAZAR_STREAM_MAX_MSG_SIZE": "4GiB", "RAZAR_METRICS_ADDR": "9360", "RAZAR_CHAKRA_PORT": "70000",
		"RAZAR_INCIDENT_RETENTION": "soon", "RAZAR_STATUS_URL": "ftp://x", "RAZAR_FIX_MEMORY": "maybe",
		"RAZAR_FIX_MEMORY_NEW_FILES": "always", "RAZAR_CONTEXT_BYTES": "0", "RAZAR_SANDBOX": "off",
	} {
		_, err := ReadSettings(vars(map[string]string{name: value, "RAZAR_HOST": "h1"}), "/srv/razar", Defaults{ContextBytes: 1})
		var ce *razar.ConfigError
		if !errors.As(err, &ce) || ce.Field != name || ce.Fix == "" {
			t.Errorf("%s=%s: %v, want a ConfigError naming it with a fix", name, value, err)
		}
	}
}

func TestVarsSize(t *testing.T) {
	for in, want := range map[string]int64{"": 7, "-1": -1, "1024": 1024, "512MiB": 512 << 20, "2 k": 2 << 10, "1G": 1 << 30} {
		got, err := vars(map[string]string{"S": in}).Size("S", 7, 1<<40)
		if err != nil || got != want {
			t.Errorf("Size(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "x", "1TiB", "2G"} {
		if _, err := vars(map[string]string{"S": in}).Size("S", 7, 1<<30); err == nil {
			t.Errorf("Size(%q) accepted", in)
		}
	}
}

func TestNearestName(t *testing.T) {
	names := []string{"RAZAR_RSTAR_THRESHOLD", "RAZAR_HOST"}
	if got := NearestName("razar_rstar_treshold", names); got != "RAZAR_RSTAR_THRESHOLD" {
		t.Errorf("NearestName = %q", got)
	}
	if got := NearestName("SOMETHING_ELSE", names); got != "" {
		t.Errorf("NearestName of nothing near = %q", got)
	}
}
