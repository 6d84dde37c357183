package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/razar/razar"
)

// Vars reads the operator's variables by name: the environment, then
// config/razar.env ("" when unset). Its methods read one setting each
// and say what is wrong with a bad value in a *razar.ConfigError naming
// the variable and its fix.
type Vars func(name string) string

// DefaultMetricsAddr is RAZAR_METRICS_ADDR's default: loopback only.
const DefaultMetricsAddr = "127.0.0.1:9360"

// DefaultChakraAddr is RAZAR_CHAKRA_ADDR's default (docs/CONTRACT.md
// section 6): loopback only, as the metrics.
const DefaultChakraAddr = "127.0.0.1:8000"

// Int reads a non-negative integer setting, or def when unset.
func (v Vars) Int(name string, def int) (int, error) {
	s := strings.TrimSpace(v(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, &razar.ConfigError{File: "env", Field: name, Msg: fmt.Sprintf("%q is not a whole number ≥ 0", s), Fix: fmt.Sprintf("unset it for the default %d, or set a number", def)}
	}
	return n, nil
}

// Duration reads a positive duration setting ("10s"), or def when unset.
// A bad value is explained in words, never with Go's parser's message.
func (v Vars) Duration(name string, def time.Duration) (time.Duration, error) {
	s := strings.TrimSpace(v(name))
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		msg := fmt.Sprintf("%q is not a duration: use a number and a unit, e.g. 90s, 5m, 1h", s)
		if err == nil {
			msg = fmt.Sprintf("%q is not a positive duration: use a number above 0 and a unit, e.g. 90s, 5m, 1h", s)
		}
		return 0, &razar.ConfigError{File: "env", Field: name, Msg: msg, Fix: "unset it for the default " + ShortDuration(def) + ", or set a duration"}
	}
	return d, nil
}

// ShortDuration writes d as an operator would: 1h, 90s, 1h30m, not 1h0m0s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Size reads a size in bytes ("1073741824", "512MiB", "1G") of at most
// most, -1 for no limit, or def when unset.
func (v Vars) Size(name string, def, most int64) (int64, error) {
	s := strings.TrimSpace(v(name))
	if s == "" {
		return def, nil
	}
	if s == "-1" {
		return -1, nil
	}
	bad := &razar.ConfigError{File: "env", Field: name, Msg: fmt.Sprintf("%q is not a size in bytes", s), Fix: fmt.Sprintf("unset it for the default %d, or set bytes with an optional KiB, MiB or GiB (e.g. 512MiB); -1 lifts the limit", def)}
	num, unit := s, int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if len(s) > len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			num, unit = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > most/unit {
		return 0, bad
	}
	return n * unit, nil
}

// ParseAge reads a Go duration or a whole number of days ("30d"); -1 is
// forever.
func ParseAge(v string) (time.Duration, error) {
	if v == "-1" {
		return -1, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, fmt.Errorf("bad age %q", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad age %q", v)
	}
	return d, nil
}

// MetricsAddr is RAZAR_METRICS_ADDR, else 127.0.0.1 with
// RAZAR_METRICS_PORT, else DefaultMetricsAddr.
func (v Vars) MetricsAddr() (string, error) {
	return v.ListenAddr("RAZAR_METRICS_ADDR", "RAZAR_METRICS_PORT", DefaultMetricsAddr)
}

// ChakraAddr is RAZAR_CHAKRA_ADDR, else 127.0.0.1 with RAZAR_CHAKRA_PORT,
// else DefaultChakraAddr.
func (v Vars) ChakraAddr() (string, error) {
	return v.ListenAddr("RAZAR_CHAKRA_ADDR", "RAZAR_CHAKRA_PORT", DefaultChakraAddr)
}

// ListenAddr reads a listener's HOST:PORT variable, else its port
// variable on 127.0.0.1, else def: a listener RAZAR opens is on loopback
// unless an address says otherwise.
func (v Vars) ListenAddr(addrVar, portVar, def string) (string, error) {
	if a := strings.TrimSpace(v(addrVar)); a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return "", &razar.ConfigError{File: "env", Field: addrVar, Msg: fmt.Sprintf("%q is not HOST:PORT", a), Fix: "set e.g. " + def}
		}
		return a, nil
	}
	if p := strings.TrimSpace(v(portVar)); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return "", &razar.ConfigError{File: "env", Field: portVar, Msg: fmt.Sprintf("%q is not a port", p), Fix: "set a number from 0 to 65535 (0 picks a free one)"}
		}
		return net.JoinHostPort("127.0.0.1", p), nil
	}
	return def, nil
}
