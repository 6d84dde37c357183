package patch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/razar/razar/internal/pgcmd"
	"github.com/razar/razar/internal/tailbuf"
)

// DefaultValidateTimeout bounds Validate when its timeout is not positive.
const DefaultValidateTimeout = 2 * time.Minute

// ValidateOutputTail is how much of the validate command's combined output
// Validate returns: the last 4 KiB.
const ValidateOutputTail = 4 << 10

// validateWaitDelay bounds how long Validate waits for the output pipe after
// the process exited or was killed, in case a grandchild left the process
// group holding it open.
const validateWaitDelay = time.Second

// ValidateError says the validate command did not pass. It wraps
// ErrValidationFailed and Err: an *exec.ExitError for a non-zero exit,
// context.DeadlineExceeded for a timeout, the start error otherwise.
type ValidateError struct {
	Command  string        // argv joined, as errors show it
	ExitCode int           // -1 when the command did not exit by itself
	TimedOut bool          // killed at the deadline
	Timeout  time.Duration // the deadline it had
	Err      error
}

func (e *ValidateError) Error() string {
	switch {
	case e.TimedOut:
		return fmt.Sprintf("validate %s: timed out after %s", e.Command, e.Timeout)
	case e.ExitCode >= 0:
		return fmt.Sprintf("validate %s: exit status %d", e.Command, e.ExitCode)
	}
	return fmt.Sprintf("validate %s: %v", e.Command, e.Err)
}

// Unwrap returns ErrValidationFailed and the cause.
func (e *ValidateError) Unwrap() []error { return []error{ErrValidationFailed, e.Err} }

var errValidateTimeout = errors.New("validate timeout")

// Result is what one validate command left: the last ValidateOutputTail
// bytes of its combined stdout and stderr, and how it was contained.
type Result struct {
	Output    string
	Isolation Isolation
}

// Validate runs argv in dir in the strict sandbox: Sandbox{}.Validate,
// returning the output tail alone.
func Validate(ctx context.Context, argv []string, dir string, env []string, timeout time.Duration) (outputTail string, err error) {
	r, err := Sandbox{}.Validate(ctx, argv, dir, env, timeout)
	return r.Output, err
}

// Validate runs argv, a component's validate command or any check a rung
// asks for, in dir (normally a Stage directory) inside s (see Sandbox:
// dir is the only tree it can write, and nothing of the RAZAR home or the
// real workdir is there), and returns the last ValidateOutputTail bytes of
// its combined stdout and stderr with how it was contained. A relative
// command path with a slash ("./check.sh") resolves against dir; a bare
// name is looked up, inside the sandbox, in the PATH the command gets.
// Empty argv means there is nothing to validate: a zero Result, nil.
//
// The command is untrusted: the patch it judges may have changed any file
// it reads. So it gets no environment of RAZAR's but the child base
// (internal/pgcmd: PATH, LANG, TZ, with HOME and TMPDIR the sandbox's
// private /tmp) plus env, the component's declared variables; it runs in
// its own process group, which is killed when it exits (what it left
// running goes with it) or at the deadline; it gets SIGKILL if RAZAR dies,
// and as PID 1 of its own PID namespace nothing it forks outlives it.
//
// Where the sandbox cannot be built the command does not run: the error is
// a *SandboxError wrapping ErrSandboxRefused, saying why and the fix. With
// s.Weak the command runs anyway, as RAZAR's user with RAZAR's view of the
// filesystem (and without network where NetworkIsolation reports ok), and
// the Result's Isolation says so. A sandbox setting that is wrong
// (ReadOnly holding dir, a root UID) is a *SandboxError in either mode.
//
// The command gets timeout (DefaultValidateTimeout when not positive); at
// the deadline its whole process group is killed and the error is a
// *ValidateError with TimedOut set, saying "timed out after ...". A
// non-zero exit, or a command that cannot be started, is a *ValidateError
// naming the exit status or the start error; both wrap
// ErrValidationFailed. If ctx ends first the error wraps ctx's error
// instead, since the patch was not at fault.
func (s Sandbox) Validate(ctx context.Context, argv []string, dir string, env []string, timeout time.Duration) (Result, error) {
	if len(argv) == 0 {
		return Result{}, nil
	}
	if timeout <= 0 {
		timeout = DefaultValidateTimeout
	}
	name := commandName(argv)
	tctx, cancel := context.WithTimeoutCause(ctx, timeout, errValidateTimeout)
	defer cancel()
	verdict := func(tail string) (Result, error, bool) {
		r, ok, err := ctxVerdict(ctx, tctx, name, timeout, tail)
		return r, err, ok
	}

	out := tailbuf.New(ValidateOutputTail)
	var iso Isolation
	cmd, iso, done, why, err := startSandboxed(tctx, s, argv, dir, env, out)
	if why != "" {
		if r, err, ok := verdict(""); ok {
			return r, err
		}
		if !s.Weak {
			return Result{}, &SandboxError{Why: "the sandbox that keeps rung-written code to its copy cannot be built: " + why + " (" + refusedFix + ")"}
		}
		cmd, iso, err = startWeak(tctx, argv, dir, env, out)
		iso.Weak = why
	}
	defer done()
	var se *SandboxError
	if errors.As(err, &se) {
		return Result{}, err
	}
	if cmd == nil || err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if r, err, ok := verdict(""); ok {
			return r, err
		}
		return Result{Isolation: iso}, &ValidateError{Command: name, ExitCode: -1, Err: fmt.Errorf("start: %w", err)}
	}
	if awaitExit(cmd.Process.Pid) {
		// It exited but is not reaped: its group id is still its own.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	waitErr := cmd.Wait()
	tailText := out.String()

	if r, err, ok := verdict(tailText); ok {
		r.Isolation = iso
		return r, err
	}
	return exitResult(name, tailText, iso, waitErr)
}

// ctxVerdict is the verdict of the validation's contexts, when one ended
// (ok): it wins over what a killed process reported. tctx is ctx with the
// validation's timeout.
func ctxVerdict(ctx, tctx context.Context, name string, timeout time.Duration, tail string) (r Result, ok bool, err error) {
	switch {
	case context.Cause(tctx) == errValidateTimeout:
		return Result{Output: tail}, true, &ValidateError{Command: name, ExitCode: -1, TimedOut: true, Timeout: timeout, Err: context.DeadlineExceeded}
	case ctx.Err() != nil:
		return Result{Output: tail}, true, fmt.Errorf("validate %s: %w", name, context.Cause(ctx))
	}
	return Result{}, false, nil
}

// exitResult is the validation's result from how its command exited.
func exitResult(name, tail string, iso Isolation, waitErr error) (Result, error) {
	res := Result{Output: tail, Isolation: iso}
	if waitErr == nil {
		return res, nil
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		return res, &ValidateError{Command: name, ExitCode: ee.ExitCode(), Err: waitErr}
	}
	return res, &ValidateError{Command: name, ExitCode: -1, Err: waitErr}
}

// startWeak starts argv as validate commands ran before the sandbox: as
// RAZAR's user, in new user, network and PID namespaces where
// NetworkIsolation reports ok, with nothing but a process group otherwise.
func startWeak(ctx context.Context, argv []string, dir string, env []string, out io.Writer) (*exec.Cmd, Isolation, error) {
	iso := Isolation{UID: os.Getuid(), GID: os.Getgid()}
	isolate, _ := NetworkIsolation()
	start := func(isolate bool) (*exec.Cmd, error) {
		cmd, err := pgcmd.Command(ctx, argv, dir, env, validateWaitDelay)
		if err != nil {
			return nil, err
		}
		sandbox(cmd, isolate)
		// One writer for both streams: os/exec copies them in one goroutine.
		cmd.Stdout = out
		cmd.Stderr = out
		return cmd, cmd.Start()
	}
	cmd, err := start(isolate)
	if err != nil && isolate && cmd != nil && refused(err) && ctx.Err() == nil {
		// The probe passed but the kernel refuses now (a sysctl changed):
		// run it anyway, as on a host without namespaces, and say so.
		loseIsolation(refusal(err))
		isolate = false
		cmd, err = start(false)
	}
	iso.Network = !isolate
	if err != nil {
		return nil, iso, err
	}
	return cmd, iso, nil
}

// commandName is argv as errors show it.
func commandName(argv []string) string {
	s := strings.Join(argv, " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// Probe builds s once, around `true` in a scratch directory, and reports
// how a validate command would be contained: what RAZAR logs at start. The
// error is a *SandboxError when the strict sandbox cannot be built (with
// s.Weak, the Isolation says weak instead), or the probe's own failure.
func (s Sandbox) Probe(ctx context.Context) (Isolation, error) {
	dir, err := os.MkdirTemp("", "razar-sandbox-probe-")
	if err != nil {
		return Isolation{}, fmt.Errorf("sandbox probe: %w", err)
	}
	defer os.RemoveAll(dir)
	r, err := s.Validate(ctx, []string{"true"}, dir, nil, 30*time.Second)
	return r.Isolation, err
}
