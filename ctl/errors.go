package ctl

import "fmt"

// ExitError carries the exit status of a command with its one-line message.
type ExitError struct {
	Code int // 2 bad usage, 1 the job failed, 0 help was printed
	Err  error
}

// Error is the one line main prints after "razar: ".
func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap is the error inside, for errors.Is and errors.As.
func (e *ExitError) Unwrap() error { return e.Err }

// UsageError is a bad command line: exit 2.
func UsageError(format string, a ...any) error { return usageErr(format, a...) }

// Failed is a job that failed: exit 1.
func Failed(format string, a ...any) error { return failed(format, a...) }

func usageErr(format string, a ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, a...)}
}

func failed(format string, a ...any) error {
	return &ExitError{Code: 1, Err: fmt.Errorf(format, a...)}
}
