package jetstream

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrStoreLocked is returned by LockStore when another process holds the store.
var ErrStoreLocked = errors.New("the store is in use by another RAZAR")

// LockFile is the lock of a store directory, beside the JetStream data.
const LockFile = "razar.lock"

// LockStore takes an exclusive lock on dir's store for this process, so two
// servers never share one JetStream store. The lock dies with the process;
// unlock releases it earlier. A held lock fails with ErrStoreLocked, naming
// the holder's pid when it is known.
func LockStore(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		holder := strings.TrimSpace(string(b[:n]))
		if _, perr := strconv.Atoi(holder); perr == nil {
			return nil, fmt.Errorf("%s: %w (pid %s)", dir, ErrStoreLocked, holder)
		}
		return nil, fmt.Errorf("%s: %w", dir, ErrStoreLocked)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// StoreHeld says whether a process holds dir's store lock (a RAZAR with its
// embedded server runs there), and its pid when the lock file names one.
// It takes no lock: a free lock is tried and let go at once. A CLI waiting
// on a RAZAR polls it to notice within moments that RAZAR died under it.
func StoreHeld(dir string) (pid int, held bool) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, false
	}
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, _ = strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return pid, true
}
