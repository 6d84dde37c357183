package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/pgcmd"
	"github.com/razar/razar/internal/runas"
	"github.com/razar/razar/internal/tailbuf"
)

// DefaultProbeTimeout bounds one health check whose HealthCheck.Timeout is unset.
const DefaultProbeTimeout = 5 * time.Second

// probeOutputTail is how much of a failed command probe's combined output
// its error quotes.
const probeOutputTail = 512

// probeWaitDelay bounds how long a command probe waits for its output pipes
// once the process has exited or been killed, so a grandchild that escaped
// the process group and kept the pipe open cannot hang the probe.
const probeWaitDelay = time.Second

// Probe runs one health check and returns nil when the component is healthy.
//
// A command probe runs hc.Command in workdir (when non-empty) with env
// appended to the current environment, in its own process group; exit status
// 0 is healthy. A relative command path containing a slash ("./check.sh")
// resolves against workdir. An http probe GETs hc.HTTP and wants a 2xx
// status. A tcp probe wants a connection to hc.TCP.
//
// Each probe is bounded by hc.Timeout, or DefaultProbeTimeout when unset, and
// by ctx's deadline, whichever is sooner; when the bound passes a command
// probe's whole process group is killed.
//
// The error names the probe kind and target, such as
// "http probe http://127.0.0.1:8101/ready: status 503". A probe that ran out
// of time says "timed out after ..." and matches context.DeadlineExceeded; a
// cancelled ctx gives an error matching context.Canceled. A health check with
// no command, http or tcp set gives an error matching razar.ErrInvalidConfig.
func Probe(ctx context.Context, hc razar.HealthCheck, workdir string, env []string) error {
	return probeAs(ctx, hc, workdir, env, nil)
}

// Component runs c's health check as c's own processes run: in its
// workdir, with its env, as its "user" and "group" (internal/runas) when
// set. A user that cannot be resolved fails the probe with the reason.
func Component(ctx context.Context, c config.Component) error {
	if c.HealthCheck == nil {
		return fmt.Errorf("health check: none: %w", razar.ErrInvalidConfig)
	}
	who, err := runas.Resolve(c.User, c.Group)
	if err != nil {
		return fmt.Errorf("%s probe: %w", c.HealthCheck.Kind(), err)
	}
	return probeAs(ctx, *c.HealthCheck, c.Workdir, append(who.Env(), c.EnvList()...), who.Credential())
}

func probeAs(ctx context.Context, hc razar.HealthCheck, workdir string, env []string, cred *syscall.Credential) error {
	timeout := DefaultProbeTimeout
	if hc.Timeout > 0 {
		timeout = time.Duration(hc.Timeout)
	}
	limit := timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := max(time.Until(dl), 0); left < limit {
			limit = left
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var kind, target string
	var err error
	switch kind = hc.Kind(); kind {
	case "command":
		target = probeCommandName(hc.Command)
		err = probeCommand(ctx, hc.Command, workdir, env, cred)
	case "http":
		target = hc.HTTP
		err = probeHTTP(ctx, hc.HTTP)
	case "tcp":
		target = hc.TCP
		err = probeTCP(ctx, hc.TCP)
	default:
		return fmt.Errorf("health check: none of command, http or tcp is set: %w", razar.ErrInvalidConfig)
	}
	if err == nil {
		return nil
	}
	// The context's verdict wins over whatever the probe saw as it was cut off
	// (a killed process, a closed connection).
	switch ctx.Err() {
	case context.DeadlineExceeded:
		err = probeTimeout(limit.Round(time.Millisecond))
	case context.Canceled:
		err = context.Canceled
	}
	return fmt.Errorf("%s probe %s: %w", kind, target, err)
}

// probeTimeout is a probe that ran out of time.
type probeTimeout time.Duration

func (d probeTimeout) Error() string { return "timed out after " + time.Duration(d).String() }
func (probeTimeout) Unwrap() error   { return context.DeadlineExceeded }

// Timeout reports true, as net.Error timeouts do.
func (probeTimeout) Timeout() bool { return true }

// probeCommandName is a command probe's target as errors show it.
func probeCommandName(argv []string) string {
	s := strings.Join(argv, " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func probeCommand(ctx context.Context, argv []string, workdir string, env []string, cred *syscall.Credential) error {
	cmd, err := pgcmd.Command(ctx, argv, workdir, env, probeWaitDelay)
	if err != nil {
		return err
	}
	cmd.SysProcAttr.Credential = cred
	out := tailbuf.New(probeOutputTail)
	// One writer for both streams: os/exec then copies them in a single
	// goroutine, so out needs no lock.
	cmd.Stdout = out
	cmd.Stderr = out

	if err := cmd.Start(); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("start: %w", pe.Err)
		}
		return fmt.Errorf("start: %w", err)
	}
	err = cmd.Wait()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if tail := strings.TrimSpace(out.String()); tail != "" {
			return fmt.Errorf("%s: %s", ee, tail)
		}
		return fmt.Errorf("%s (no output)", ee)
	}
	return err
}

func probeHTTP(ctx context.Context, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return probeURLError(err)
	}
	// A fresh client per probe keeps no state between probes; the default
	// transport's idle connections are reused across them.
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return probeURLError(err)
	}
	// Drain a little so the connection can be reused, then close.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// probeURLError drops the `Get "url":` prefix the target already names.
func probeURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func probeTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) {
			return oe.Err // "connect: connection refused"; the target names the address
		}
		return err
	}
	return conn.Close()
}
