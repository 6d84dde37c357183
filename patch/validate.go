package patch

import (
	"context"
	"errors"
	"fmt"
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

// Validate runs argv, the component's validate command, in dir (normally a
// Stage directory) and returns the last ValidateOutputTail bytes of its
// combined stdout and stderr. A relative command path with a slash
// ("./check.sh") resolves against dir; a bare name is looked up in PATH.
// Empty argv means there is nothing to validate: "", nil.
//
// The command is untrusted: the patch it judges may have changed any file
// it reads. So it gets no environment of RAZAR's but the child base
// (internal/pgcmd: PATH, HOME, LANG, TZ, TMPDIR) plus env, the component's
// declared variables; it runs in its own process group, which is killed
// when it exits (what it left running goes with it) or at the deadline; on
// Linux it gets SIGKILL if RAZAR dies, and, where NetworkIsolation reports
// ok, it runs in new user, network and PID namespaces: no network at all,
// and nothing it forks outlives it. Where the kernel refuses the
// namespaces it runs with the host's network, and NetworkIsolation says so.
//
// The command gets timeout (DefaultValidateTimeout when not positive); at the
// deadline its whole process group is killed and the error is a
// *ValidateError with TimedOut set, saying "timed out after ...". A non-zero
// exit is a *ValidateError naming the exit status; both wrap
// ErrValidationFailed. If ctx ends first the error wraps ctx's error
// instead, since the patch was not at fault.
func Validate(ctx context.Context, argv []string, dir string, env []string, timeout time.Duration) (outputTail string, err error) {
	if len(argv) == 0 {
		return "", nil
	}
	if timeout <= 0 {
		timeout = DefaultValidateTimeout
	}
	name := commandName(argv)
	tctx, cancel := context.WithTimeoutCause(ctx, timeout, errValidateTimeout)
	defer cancel()
	isolate, _ := NetworkIsolation()
	start := func(isolate bool) (*exec.Cmd, *tailbuf.Buffer, error) {
		cmd, err := pgcmd.Command(tctx, argv, dir, env, validateWaitDelay)
		if err != nil {
			return nil, nil, err
		}
		sandbox(cmd, isolate)
		out := tailbuf.New(ValidateOutputTail)
		// One writer for both streams: os/exec copies them in one goroutine.
		cmd.Stdout = out
		cmd.Stderr = out
		return cmd, out, cmd.Start()
	}
	cmd, out, err := start(isolate)
	if err != nil && isolate && cmd != nil && refused(err) && ctx.Err() == nil {
		// The probe passed but the kernel refuses now (a sysctl changed):
		// run it anyway, as on a host without namespaces, and say so.
		loseIsolation(refusal(err))
		cmd, out, err = start(false)
	}
	if cmd == nil {
		return "", &ValidateError{Command: name, ExitCode: -1, Err: err}
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("validate %s: %w", name, context.Cause(ctx))
		}
		return "", &ValidateError{Command: name, ExitCode: -1, Err: fmt.Errorf("start: %w", err)}
	}
	if awaitExit(cmd.Process.Pid) {
		// It exited but is not reaped: its group id is still its own.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	waitErr := cmd.Wait()
	tailText := out.String()

	// The context's verdict wins over what the killed process reported.
	switch {
	case context.Cause(tctx) == errValidateTimeout:
		return tailText, &ValidateError{Command: name, ExitCode: -1, TimedOut: true, Timeout: timeout, Err: context.DeadlineExceeded}
	case ctx.Err() != nil:
		return tailText, fmt.Errorf("validate %s: %w", name, context.Cause(ctx))
	case waitErr == nil:
		return tailText, nil
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		return tailText, &ValidateError{Command: name, ExitCode: ee.ExitCode(), Err: waitErr}
	}
	return tailText, &ValidateError{Command: name, ExitCode: -1, Err: waitErr}
}

// commandName is argv as errors show it.
func commandName(argv []string) string {
	s := strings.Join(argv, " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
