package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// ID is a process identity: its pid and its start time in clock ticks since
// boot (field 22 of /proc/<pid>/stat). Two processes that share a pid, one
// after the other, have different start times.
type ID struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// String gives the ID for logs: "pid 4242 (start 81234)".
func (id ID) String() string { return fmt.Sprintf("pid %d (start %d)", id.PID, id.Start) }

// stat is what this package reads from /proc/<pid>/stat.
type stat struct {
	state byte
	start uint64
}

// readStat reads and parses /proc/<pid>/stat. A missing process is an error
// wrapping os.ErrNotExist.
func readStat(pid int) (stat, error) {
	if pid <= 0 {
		return stat{}, fmt.Errorf("proc: pid %d: %w", pid, os.ErrNotExist)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		// ESRCH: the process ended between the open and the read.
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			return stat{}, fmt.Errorf("proc: pid %d: %w", pid, os.ErrNotExist)
		}
		return stat{}, fmt.Errorf("proc: pid %d: %w", pid, err)
	}
	return parseStat(pid, b)
}

// parseStat parses the text of /proc/<pid>/stat: "pid (comm) state ppid ...".
// comm is the executable's name as the process set it: it may hold spaces
// and ')', so the fields start after the last ')'.
func parseStat(pid int, b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("proc: pid %d: /proc/%d/stat has no ')' after the command name", pid, pid)
	}
	// fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 20 || len(fields[0]) != 1 {
		return stat{}, fmt.Errorf("proc: pid %d: /proc/%d/stat is too short (%d fields after the command name)", pid, pid, len(fields))
	}
	start, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return stat{}, fmt.Errorf("proc: pid %d: start time in /proc/%d/stat: %w", pid, pid, err)
	}
	return stat{state: fields[0][0], start: start}, nil
}

// Identify returns the identity of the process with this pid. When there is
// no such process the error wraps os.ErrNotExist; any other error means
// /proc could not be read or parsed.
func Identify(pid int) (ID, error) {
	st, err := readStat(pid)
	if err != nil {
		return ID{}, err
	}
	return ID{PID: pid, Start: st.start}, nil
}

// Alive reports whether the process id names is still running: its pid
// exists, has the same start time (it was not reused by another process)
// and is neither a zombie ('Z') nor dead ('X'). Any error reading /proc
// counts as not alive.
func (id ID) Alive() bool {
	st, err := readStat(id.PID)
	return err == nil && st.start == id.Start && st.state != 'Z' && st.state != 'X'
}

// SignalName returns the signal's name, such as "SIGKILL", or "signal N"
// for a number without one.
func SignalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return "signal " + strconv.Itoa(int(sig))
}

// ExitText says how a process ended, given the error from exec.Cmd.Wait:
// "exited with status 0" for nil, "exited with status 3",
// "killed by SIGKILL", "killed by SIGSEGV (core dumped)". Any other error
// (Wait's own failures) is returned as its text.
func ExitText(err error) string {
	if err == nil {
		return "exited with status 0"
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err.Error()
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return err.Error()
	case ws.Exited():
		return "exited with status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		s := "killed by " + SignalName(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return err.Error()
}
