package proc

import (
	"context"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pollEvery is how often Watch checks on a process when pidfds are not
// available.
const pollEvery = 200 * time.Millisecond

// Watch returns a channel that is closed when the process id names is gone:
// it exited, or its pid now belongs to another process. It is for processes
// that are not RAZAR's children (adopted after a restart), which RAZAR cannot
// Wait for; a process already gone closes the channel at once.
//
// Watch waits on a pidfd (pidfd_open(2)) through the runtime's poller, so a
// watch costs no thread; where pidfds are refused (ENOSYS on old kernels,
// EPERM under some seccomp filters) it checks Alive every 200ms instead.
//
// When ctx ends first the channel stays open and the goroutine behind it
// returns: select on ctx.Done() as well.
func Watch(ctx context.Context, id ID) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		done, usable := waitPidfd(ctx, id)
		if !usable {
			done = pollAlive(ctx, id, pollEvery)
		}
		if done {
			close(gone)
		}
	}()
	return gone
}

// waitPidfd waits on a pidfd until the process is gone (gone true) or ctx
// ends (gone false). usable false means pidfds cannot be used here and
// nothing was waited for.
func waitPidfd(ctx context.Context, id ID) (gone, usable bool) {
	if id.PID <= 0 {
		return true, true
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return true, true
	case err != nil:
		return false, false
	}
	// Non-blocking, so os.NewFile registers it with the runtime's poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return false, false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	// The pid may have been reused between id being taken and the open: the
	// pidfd would then name the newcomer. Checked after the open, a live
	// match means the pidfd is ours.
	if !id.Alive() {
		return true, true
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false, false
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	// A pidfd turns readable when its process exits. Read calls the func,
	// and while it returns false parks until the poller says readable.
	err = rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		return err == nil && n > 0
	})
	switch {
	case err == nil:
		return true, true
	case ctx.Err() != nil:
		return false, true
	}
	// Not pollable after all ("waiting for unsupported file type").
	return false, false
}

// pollAlive checks id.Alive every interval until the process is gone
// (true) or ctx ends (false).
func pollAlive(ctx context.Context, id ID, interval time.Duration) bool {
	if !id.Alive() {
		return true
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			if !id.Alive() {
				return true
			}
		}
	}
}
