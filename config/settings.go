package config

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/razar/razar"
)

// Settings are the variables `razar boot` runs by (the environment, then
// config/razar.env), as plain values: cmd turns them into the types of
// the packages that use them. A reload reads them again.
type Settings struct {
	Threshold     int    // RAZAR_RSTAR_THRESHOLD
	Warn          int    // RAZAR_ESCALATION_WARNING_THRESHOLD
	TokenBudget   int    // RAZAR_TOKEN_BUDGET: model tokens per incident, 0 none
	MetricsAddr   string // RAZAR_METRICS_ADDR / RAZAR_METRICS_PORT
	StatusHosts   string // RAZAR_STATUS_HOSTS as set: more host names the metrics listener answers to
	ChakraAddr    string // RAZAR_CHAKRA_ADDR / RAZAR_CHAKRA_PORT: the chakra heartbeat service
	VerifyWindow  time.Duration
	SettleWindow  time.Duration // RAZAR_SETTLE_WINDOW: a failure this soon after a heal reopens its incident
	ProbeInterval time.Duration
	Webhook       string
	Alertmanager  string
	NATSURL       string        // RAZAR_NATS_URL
	Limits        StoreLimits   // read at boot; a reload keeps the store's
	Retention     time.Duration // RAZAR_INCIDENT_RETENTION; 0 keeps ended incidents
	Pprof         bool          // RAZAR_PPROF=1: /debug/pprof/ beside /metrics
	Approval      time.Duration // RAZAR_APPROVAL_WINDOW
	Runbook       string        // RAZAR_RUNBOOK_URL
	HostName      string        // RAZAR_HOST, else the hostname: the host label of every alert
	StatusURL     string        // RAZAR_STATUS_URL: the status page alerts link to ("": from the metrics listener)
	NoFixMemory   bool          // RAZAR_FIX_MEMORY=off: every incident climbs the ladder (docs/FIXES.md)
	ContextBytes  int           // RAZAR_CONTEXT_BYTES: the workspace's byte budget of file texts
	ContextCalls  int           // RAZAR_CONTEXT_CALLS: a rung's context tool calls per attempt
	FixNewFiles   string        // RAZAR_FIX_MEMORY_NEW_FILES: NewFilesApprove (default) or NewFilesNever
	Sandbox       Sandbox       // RAZAR_SANDBOX, RAZAR_SANDBOX_UID, RAZAR_SANDBOX_READONLY: where validate commands run
}

// The values of RAZAR_FIX_MEMORY_NEW_FILES.
const (
	NewFilesApprove = "approve"
	NewFilesNever   = "never"
)

// StoreLimits are the limits of streams RAZAR and RAZAR_RESULTS and
// bucket RAZAR_STATE (docs/PROTOCOL.md section 4); -1 lifts one.
type StoreLimits struct {
	StreamMaxBytes    int64         // RAZAR_STREAM_MAX_BYTES
	StreamMaxMsgSize  int32         // RAZAR_STREAM_MAX_MSG_SIZE
	StreamMaxAge      time.Duration // RAZAR_STREAM_MAX_AGE
	ResultsMaxBytes   int64         // RAZAR_RESULTS_MAX_BYTES
	StateMaxBytes     int64         // RAZAR_STATE_MAX_BYTES
	StateMaxValueSize int32         // RAZAR_STATE_MAX_VALUE_SIZE
}

// Sandbox is where validate commands run (patch.Sandbox's settings).
type Sandbox struct {
	Weak     bool     // RAZAR_SANDBOX=weak
	UID, GID int      // RAZAR_SANDBOX_UID; 0: the default
	ReadOnly []string // RAZAR_SANDBOX_READONLY
}

// Defaults are the values of unset variables that other packages own
// (the ladder's, the store's, the workspace's, the sandbox's): the caller
// passes them in, so config imports none of those packages.
type Defaults struct {
	Threshold, WarnThreshold int
	SettleWindow             time.Duration
	ContextBytes             int
	ContextCalls             int
	Limits                   StoreLimits
	SandboxID                int // the uid and gid of the sandbox when RAZAR_SANDBOX_UID is unset
}

// ReadSettings reads every variable of Settings through v; home is the
// RAZAR home, which RAZAR_SANDBOX_READONLY may not show. The first bad
// value is a *razar.ConfigError naming it.
func ReadSettings(v Vars, home string, d Defaults) (*Settings, error) {
	s := &Settings{}
	for _, read := range []func(*Settings, Defaults) error{v.readLadder, v.readStore, v.readRepair} {
		if err := read(s, d); err != nil {
			return nil, err
		}
	}
	var err error
	if s.Sandbox, err = v.sandbox(home, d.SandboxID); err != nil {
		return nil, err
	}
	s.Webhook = v("RAZAR_ALERT_WEBHOOK")
	s.Alertmanager = v("RAZAR_ALERTMANAGER_URL")
	s.NATSURL = v("RAZAR_NATS_URL")
	return s, nil
}

// readLadder reads the ladder's thresholds, the listeners and the
// supervisor's windows.
func (v Vars) readLadder(s *Settings, d Defaults) error {
	var err error
	if s.Threshold, err = v.Int("RAZAR_RSTAR_THRESHOLD", d.Threshold); err != nil {
		return err
	}
	if s.Warn, err = v.Int("RAZAR_ESCALATION_WARNING_THRESHOLD", d.WarnThreshold); err != nil {
		return err
	}
	if s.TokenBudget, err = v.Int("RAZAR_TOKEN_BUDGET", 0); err != nil {
		return err
	}
	if s.MetricsAddr, err = v.MetricsAddr(); err != nil {
		return err
	}
	s.StatusHosts = v("RAZAR_STATUS_HOSTS")
	if s.ChakraAddr, err = v.ChakraAddr(); err != nil {
		return err
	}
	if s.VerifyWindow, err = v.Duration("RAZAR_VERIFY_WINDOW", 10*time.Second); err != nil {
		return err
	}
	if s.SettleWindow, err = v.Duration("RAZAR_SETTLE_WINDOW", d.SettleWindow); err != nil {
		return err
	}
	if s.ProbeInterval, err = v.Duration("RAZAR_HEALTH_PROBE_INTERVAL", 30*time.Second); err != nil {
		return err
	}
	return nil
}

// readStore reads the store's limits and retention, the approval window
// and what alerts say of this host.
func (v Vars) readStore(s *Settings, d Defaults) error {
	var err error
	if s.Limits, err = v.storeLimits(d.Limits); err != nil {
		return err
	}
	s.Retention = 30 * 24 * time.Hour
	if r := strings.TrimSpace(v("RAZAR_INCIDENT_RETENTION")); r != "" {
		if s.Retention, err = ParseAge(r); err != nil {
			return &razar.ConfigError{File: "env", Field: "RAZAR_INCIDENT_RETENTION", Msg: fmt.Sprintf("%q is not an age", r), Fix: "unset it for 30 days, or set e.g. 7d or 72h; -1 keeps ended incidents in RAZAR_STATE"}
		}
		s.Retention = max(s.Retention, 0) // -1: keep
	}
	s.Pprof = v("RAZAR_PPROF") == "1"
	if s.Approval, err = v.Duration("RAZAR_APPROVAL_WINDOW", time.Hour); err != nil {
		return err
	}
	s.Runbook = v("RAZAR_RUNBOOK_URL")
	if s.HostName, err = v.hostName(); err != nil {
		return err
	}
	if s.StatusURL, err = v.statusURL(); err != nil {
		return err
	}
	return nil
}

// readRepair reads what a repair may see and do: the context budgets and
// the fix memory.
func (v Vars) readRepair(s *Settings, d Defaults) error {
	var err error
	if s.ContextBytes, err = v.Int("RAZAR_CONTEXT_BYTES", d.ContextBytes); err != nil {
		return err
	}
	if s.ContextBytes == 0 || s.ContextBytes > MaxContextBudget {
		return &razar.ConfigError{File: "env", Field: "RAZAR_CONTEXT_BYTES", Msg: fmt.Sprintf("%d is out of range", s.ContextBytes),
			Fix: fmt.Sprintf("unset it for the default %d, or set a byte budget from 1 to %d", d.ContextBytes, MaxContextBudget)}
	}
	if s.ContextCalls, err = v.Int("RAZAR_CONTEXT_CALLS", d.ContextCalls); err != nil {
		return err
	}
	switch f := strings.ToLower(strings.TrimSpace(v("RAZAR_FIX_MEMORY"))); f {
	case "", "on", "1":
	case "off", "0":
		s.NoFixMemory = true
	default:
		return &razar.ConfigError{File: "env", Field: "RAZAR_FIX_MEMORY", Msg: fmt.Sprintf("%q is neither on nor off", f), Fix: "unset it (on), or set on or off"}
	}
	switch f := strings.ToLower(strings.TrimSpace(v("RAZAR_FIX_MEMORY_NEW_FILES"))); f {
	case "", NewFilesApprove:
		s.FixNewFiles = NewFilesApprove
	case NewFilesNever:
		s.FixNewFiles = f
	default:
		return &razar.ConfigError{File: "env", Field: "RAZAR_FIX_MEMORY_NEW_FILES", Msg: fmt.Sprintf("%q is neither approve nor never", f),
			Fix: "unset it (approve: a remembered fix that adds files or executable bits waits for `razar approve`), or set never (such a fix is never replayed)"}
	}
	return nil
}

// storeLimits reads the store's limits; an unset one keeps its default
// in d, -1 lifts it.
func (v Vars) storeLimits(d StoreLimits) (StoreLimits, error) {
	var l StoreLimits
	var err error
	if l.StreamMaxBytes, err = v.Size("RAZAR_STREAM_MAX_BYTES", d.StreamMaxBytes, math.MaxInt64); err != nil {
		return l, err
	}
	if l.StateMaxBytes, err = v.Size("RAZAR_STATE_MAX_BYTES", d.StateMaxBytes, math.MaxInt64); err != nil {
		return l, err
	}
	if l.ResultsMaxBytes, err = v.Size("RAZAR_RESULTS_MAX_BYTES", d.ResultsMaxBytes, math.MaxInt64); err != nil {
		return l, err
	}
	n, err := v.Size("RAZAR_STREAM_MAX_MSG_SIZE", int64(d.StreamMaxMsgSize), math.MaxInt32)
	if err != nil {
		return l, err
	}
	l.StreamMaxMsgSize = int32(n)
	if n, err = v.Size("RAZAR_STATE_MAX_VALUE_SIZE", int64(d.StateMaxValueSize), math.MaxInt32); err != nil {
		return l, err
	}
	l.StateMaxValueSize = int32(n)
	if a := strings.TrimSpace(v("RAZAR_STREAM_MAX_AGE")); a != "" {
		if l.StreamMaxAge, err = ParseAge(a); err != nil {
			return l, &razar.ConfigError{File: "env", Field: "RAZAR_STREAM_MAX_AGE", Msg: fmt.Sprintf("%q is not an age", a), Fix: "unset it for 90 days, or set e.g. 30d or 720h; -1 keeps records forever"}
		}
	}
	return l, nil
}

// sandbox reads where validate commands run: RAZAR_SANDBOX (strict, the
// default, or weak), RAZAR_SANDBOX_UID ("uid" or "uid:gid", the ids they
// run as when RAZAR is root; the fix names defaultID) and
// RAZAR_SANDBOX_READONLY (absolute paths, colon-separated, shown to them
// read-only; none at, above or in home).
func (v Vars) sandbox(home string, defaultID int) (Sandbox, error) {
	var s Sandbox
	switch m := strings.ToLower(strings.TrimSpace(v("RAZAR_SANDBOX"))); m {
	case "", "strict":
	case "weak":
		s.Weak = true
	default:
		return s, &razar.ConfigError{File: "env", Field: "RAZAR_SANDBOX", Msg: fmt.Sprintf("%q is neither strict nor weak", m), Fix: "unset it (strict: a patch is refused where the sandbox cannot be built), or set weak to let validation run as RAZAR's user there (docs/SECURITY.md)"}
	}
	if id := strings.TrimSpace(v("RAZAR_SANDBOX_UID")); id != "" {
		u, g, hasGID := strings.Cut(id, ":")
		uid, err := strconv.Atoi(u)
		gid := uid
		if err == nil && hasGID {
			gid, err = strconv.Atoi(g)
		}
		if err != nil || uid <= 0 || gid <= 0 {
			return s, &razar.ConfigError{File: "env", Field: "RAZAR_SANDBOX_UID", Msg: fmt.Sprintf("%q is not an unprivileged uid or uid:gid", id), Fix: fmt.Sprintf("unset it for %d:%d (nobody), or set e.g. 64000 or 64000:64000; never 0", defaultID, defaultID)}
		}
		s.UID, s.GID = uid, gid
	}
	for _, p := range filepath.SplitList(v("RAZAR_SANDBOX_READONLY")) {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !filepath.IsAbs(p) {
			return s, &razar.ConfigError{File: "env", Field: "RAZAR_SANDBOX_READONLY", Msg: fmt.Sprintf("%q is not an absolute path", p), Fix: "list absolute paths separated by colons, e.g. /opt/venv:/usr/local/go"}
		}
		p = filepath.Clean(p)
		if abs, err := filepath.Abs(home); err == nil && home != "" && (p == abs || strings.HasPrefix(abs, p+"/") || strings.HasPrefix(p, abs+"/") || p == "/") {
			return s, &razar.ConfigError{File: "env", Field: "RAZAR_SANDBOX_READONLY", Msg: fmt.Sprintf("%s would show validators the RAZAR home %s (its config, identities and seeds)", p, abs), Fix: "list only what validators need outside the system directories, never the home or a directory above it"}
		}
		s.ReadOnly = append(s.ReadOnly, p)
	}
	return s, nil
}

// hostName is RAZAR_HOST, else the machine's hostname: the name alerts
// carry as their host label.
func (v Vars) hostName() (string, error) {
	if h := strings.TrimSpace(v("RAZAR_HOST")); h != "" {
		return h, nil
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "", &razar.ConfigError{File: "env", Field: "RAZAR_HOST", Msg: fmt.Sprintf("unset, and the hostname is unknown (%v)", err),
			Fix: "set RAZAR_HOST to the name alerts should carry for this machine"}
	}
	return h, nil
}

// statusURL is RAZAR_STATUS_URL, the status page as an operator reaches
// it, which alerts link to; "" lets the daemon derive it from the metrics
// listener. A value must be an absolute http or https URL.
func (v Vars) statusURL() (string, error) {
	s := strings.TrimSpace(v("RAZAR_STATUS_URL"))
	if s == "" {
		return "", nil
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &razar.ConfigError{File: "env", Field: "RAZAR_STATUS_URL", Msg: fmt.Sprintf("%q is not an http(s) URL", s),
			Fix: "set the status page's address as operators open it, e.g. http://razar-1.example:9360/, or unset it"}
	}
	return s, nil
}

// Warnings are the values RAZAR accepts but the runbook advises against.
func (s *Settings) Warnings() []string {
	var out []string
	if s.Warn == 0 {
		out = append(out, "RAZAR_ESCALATION_WARNING_THRESHOLD=0 sends no warning alert before rStar takes an incident; the runbook wants it ≥ 1 (fix: unset it for 3, or set 1 or more)")
	}
	return out
}
