package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/razar/razar/internal/wait"
)

// Every goroutine Watch starts returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// closedWithin reports whether ch is closed before d passes.
func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// startSleep starts `sleep 600` as a child; the cleanup kills and reaps it
// if the test did not.
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

func identify(t *testing.T, pid int) ID {
	t.Helper()
	id, err := Identify(pid)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestIdentifySelf(t *testing.T) {
	id := identify(t, os.Getpid())
	if id.PID != os.Getpid() || id.Start == 0 {
		t.Fatalf("Identify(self) = %+v", id)
	}
	if again := identify(t, os.Getpid()); again != id {
		t.Fatalf("second Identify(self) = %+v, first %+v", again, id)
	}
	if !id.Alive() {
		t.Fatal("Alive() = false for this very process")
	}
}

func TestIdentifyNoSuchProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// No pid is ever above pid_max, and none is 0 or negative.
	for _, pid := range []int{max + 1, 0, -1} {
		if _, err := Identify(pid); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Identify(%d) error = %v, want one wrapping os.ErrNotExist", pid, err)
		}
		if (ID{PID: pid}).Alive() {
			t.Errorf("ID{PID: %d}.Alive() = true", pid)
		}
	}
}

// The command name sits in parentheses and may itself hold spaces and ')'.
func TestIdentifyOddCommandName(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip(err)
	}
	odd := filepath.Join(t.TempDir(), "a) (b c) d")
	if err := os.Symlink(sleep, odd); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	wait.Until(t, 5*time.Second, func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
		return strings.Contains(string(b), "(a) (b c) d)")
	}, "the child's comm never became its odd name")
	id := identify(t, cmd.Process.Pid)
	// Misparsed, the start would be some other field: the child started
	// after this test process, and no earlier than a tick before now.
	self := identify(t, os.Getpid())
	if id.Start < self.Start || !id.Alive() {
		t.Fatalf("Identify(child) = %+v (alive %v), this process started at %d", id, id.Alive(), self.Start)
	}
}

func TestParseStatRejectsGarbage(t *testing.T) {
	for _, s := range []string{"", "1 (x", "1 (x) S 1 2 3", "1 (x) SS" + strings.Repeat(" 1", 30), "1 (x) S" + strings.Repeat(" z", 30)} {
		if st, err := parseStat(1, []byte(s)); err == nil {
			t.Errorf("parseStat(%q) = %+v, want an error", s, st)
		}
	}
	st, err := parseStat(1, []byte("1 (a) b) R"+strings.Repeat(" 7", 18)+" 99 5 6\n"))
	if err != nil || st.state != 'R' || st.start != 99 {
		t.Errorf("parseStat = %+v, %v; want state R start 99", st, err)
	}
}

func TestAliveFalseAfterExitAndReap(t *testing.T) {
	cmd := startSleep(t)
	id := identify(t, cmd.Process.Pid)
	if !id.Alive() {
		t.Fatal("Alive() = false for a running sleep")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if id.Alive() {
		t.Fatal("Alive() = true after the process was killed and reaped")
	}
}

// A killed child not yet reaped is a zombie: still in /proc, not alive.
func TestAliveFalseForZombie(t *testing.T) {
	cmd := startSleep(t)
	id := identify(t, cmd.Process.Pid)
	_ = cmd.Process.Kill()
	wait.Until(t, 5*time.Second, func() bool { return !id.Alive() }, "Alive() stayed true after SIGKILL")
	b, err := os.ReadFile("/proc/" + strconv.Itoa(id.PID) + "/stat")
	if err != nil {
		t.Fatalf("the unreaped child left /proc: %v", err)
	}
	if s := string(b); s[strings.LastIndexByte(s, ')')+2] != 'Z' {
		t.Fatalf("unreaped child is not a zombie: %q", s)
	}
	_ = cmd.Wait()
}

// A pid reused by another process has another start time.
func TestAliveFalseForReusedPID(t *testing.T) {
	id := identify(t, os.Getpid())
	for _, start := range []uint64{id.Start - 1, id.Start + 1, 0} {
		if (ID{PID: id.PID, Start: start}).Alive() {
			t.Errorf("Alive() = true for this pid with start %d (real %d)", start, id.Start)
		}
	}
}

func TestWatchClosesWhenKilled(t *testing.T) {
	cmd := startSleep(t)
	id := identify(t, cmd.Process.Pid)
	gone := Watch(context.Background(), id)
	if isClosed(gone) || !id.Alive() {
		t.Fatal("Watch closed while the process runs")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if !closedWithin(gone, 5*time.Second) {
		t.Fatal("Watch did not close after the process was killed and reaped")
	}
}

// The case Watch exists for: a process that is not our child.
func TestWatchClosesForAdoptedProcess(t *testing.T) {
	// sh starts sleep in the background and exits: sleep is reparented.
	out, err := exec.Command("sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	id := identify(t, pid)
	gone := Watch(context.Background(), id)
	if isClosed(gone) {
		t.Fatal("Watch closed while the process runs")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(gone, 5*time.Second) {
		t.Fatal("Watch did not close after the adopted process was killed")
	}
	if id.Alive() {
		t.Fatal("Alive() = true after Watch said gone")
	}
}

func TestWatchClosesAtOnceWhenAlreadyGone(t *testing.T) {
	cmd := startSleep(t)
	id := identify(t, cmd.Process.Pid)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if !closedWithin(Watch(context.Background(), id), 5*time.Second) {
		t.Fatal("Watch of a reaped process did not close")
	}
	self := identify(t, os.Getpid())
	if !closedWithin(Watch(context.Background(), ID{PID: self.PID, Start: self.Start + 1}), 5*time.Second) {
		t.Fatal("Watch of a reused pid did not close")
	}
}

func TestWatchReturnsWhenContextEnds(t *testing.T) {
	cmd := startSleep(t)
	id := identify(t, cmd.Process.Pid)
	ctx, cancel := context.WithCancel(context.Background())
	gone := Watch(ctx, id)
	cancel()
	// Retries until the goroutine behind Watch has returned.
	goleak.VerifyNone(t)
	if isClosed(gone) {
		t.Fatal("Watch closed on a cancelled context: that would say the process is gone")
	}
}

// Where pidfds work, Watch must use them rather than fall back quietly.
func TestPidfdPathUsable(t *testing.T) {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		t.Skipf("pidfd_open refused here (%v): Watch polls", err)
	}
	unix.Close(fd)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone, usable := waitPidfd(ctx, identify(t, os.Getpid()))
	if gone || !usable {
		t.Fatalf("waitPidfd(cancelled, self) = gone %v usable %v, want false true", gone, usable)
	}
}

// The pidfd itself wakes the watcher: no fallback polling in disguise.
func TestWaitPidfdWakesOnExit(t *testing.T) {
	cmd := startSleep(t)
	id := identify(t, cmd.Process.Pid)
	type result struct{ gone, usable bool }
	done := make(chan result)
	go func() {
		g, u := waitPidfd(context.Background(), id)
		done <- result{g, u}
	}()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	select {
	case r := <-done:
		if !r.gone || !r.usable {
			if _, err := unix.PidfdOpen(os.Getpid(), 0); err != nil {
				t.Skipf("pidfd_open refused here: %v", err)
			}
			t.Fatalf("waitPidfd = gone %v usable %v, want true true", r.gone, r.usable)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waitPidfd did not return after the process was killed")
	}
}

// The fallback for kernels without pidfds.
func TestPollAlive(t *testing.T) {
	cmd := startSleep(t)
	id := identify(t, cmd.Process.Pid)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if pollAlive(ctx, id, time.Millisecond) {
		t.Fatal("pollAlive said gone for a running process")
	}
	done := make(chan bool)
	go func() { done <- pollAlive(context.Background(), id, 10*time.Millisecond) }()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	select {
	case g := <-done:
		if !g {
			t.Fatal("pollAlive returned false without a cancelled context")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pollAlive did not notice the process was killed")
	}
}

func TestSignalName(t *testing.T) {
	for sig, want := range map[syscall.Signal]string{
		syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM", syscall.SIGSEGV: "SIGSEGV", syscall.Signal(200): "signal 200",
	} {
		if got := SignalName(sig); got != want {
			t.Errorf("SignalName(%d) = %q, want %q", int(sig), got, want)
		}
	}
}

func TestExitText(t *testing.T) {
	tests := []struct{ script, want string }{
		{"exit 0", "exited with status 0"},
		{"exit 3", "exited with status 3"},
		{"kill -KILL $$", "killed by SIGKILL"},
		{"kill -TERM $$", "killed by SIGTERM"},
	}
	for _, tt := range tests {
		if got := ExitText(exec.Command("sh", "-c", tt.script).Run()); got != tt.want {
			t.Errorf("ExitText(sh -c %q) = %q, want %q", tt.script, got, tt.want)
		}
	}
	if got := ExitText(errors.New("exec: Wait was already called")); got != "exec: Wait was already called" {
		t.Errorf("ExitText(other error) = %q", got)
	}
}

func TestExitTextCoreDump(t *testing.T) {
	cmd := exec.Command("sh", "-c", "ulimit -c unlimited 2>/dev/null || exit 99; kill -SEGV $$")
	cmd.Dir = t.TempDir() // core_pattern may be a plain file name
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Run = %v", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if ws.Exited() && ws.ExitStatus() == 99 {
		t.Skip("core dumps are limited to 0 bytes here")
	}
	if !ws.CoreDump() {
		pattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
		t.Skipf("the kernel wrote no core (core_pattern %q); got %q", strings.TrimSpace(string(pattern)), ExitText(err))
	}
	if got := ExitText(err); got != "killed by SIGSEGV (core dumped)" {
		t.Fatalf("ExitText = %q", got)
	}
}
