package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/logrot"
	"github.com/razar/razar/internal/pgcmd"
	"github.com/razar/razar/internal/proc"
	"github.com/razar/razar/internal/runas"
)

// process is one running component. It runs in its own session (so its
// own process group), its stdout and stderr going straight to its log file,
// not through a pipe into RAZAR: a crash, SIGKILL or OOM of RAZAR leaves it
// running, and the next RAZAR adopts it from its pid file.
type process struct {
	id      proc.ID
	started time.Time
	logFrom int64 // size of the log at launch: output before it is an earlier run's
	adopted bool
	exited  chan struct{} // closed when the process has exited
	err     error         // Wait's error, set before exited is closed; adopted: unknown
}

// pidFile is state/components/<name>.json: what the next RAZAR needs to
// adopt a component that outlived this one.
type pidFile struct {
	Component string    `json:"component"`
	ID        proc.ID   `json:"process"`
	Spec      string    `json:"spec"` // specHash of the entry it was started from
	LogFrom   int64     `json:"log_from"`
	Started   time.Time `json:"started"`
}

// launch starts c's command in its own session with c's env and workdir,
// as c's user and group when set, stdout and stderr appended to logPath
// after marker (the start marker line, see logrot.StartMarker).
//
// RAZAR opens the log and the child inherits the descriptor, so a
// component running as another user writes its log without any right on
// the file; its workdir it must reach (and write, if it writes there) by
// its own rights.
func launch(c config.Component, logPath, marker string) (*process, error) {
	who, err := runas.Resolve(c.User, c.Group)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w (fix: set an existing \"user\"/\"group\" in boot_config.json, and run RAZAR as root to switch users)", c.Name, err)
	}
	out, err := logrot.Open(logPath, 0o640)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	defer out.Close() // the child holds its own descriptor
	// A marked line before each start, so the raw output reads as runs in
	// time (razar logs); this run's output is what follows it.
	_, _ = out.WriteString(marker)
	from := logrot.Size(logPath)
	// Never cancelled: stop ends the process, with the group's grace period.
	env := append(who.Env(), c.EnvList()...)
	cmd, err := pgcmd.Command(context.Background(), c.Command, c.Workdir, append(env, "RAZAR_COMPONENT="+c.Name), 0)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// A session of its own: its group id is its pid, so stop reaches every
	// process it forks, and no terminal signal of RAZAR's reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: who.Credential()}
	if err := cmd.Start(); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			fix := "check command and workdir in boot_config.json"
			if who != nil && errors.Is(pe.Err, os.ErrPermission) {
				fix = fmt.Sprintf("let uid %d reach the workdir and run the command (chmod/chown them; RAZAR changes no owner itself)", who.Cred.Uid)
			}
			return nil, fmt.Errorf("start %s: %s: %v (fix: %s)", c.Name, pe.Path, pe.Err, fix)
		}
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	pid := cmd.Process.Pid
	id, err := proc.Identify(pid)
	if err != nil { // it exited already: no start time to read, none needed
		id = proc.ID{PID: pid}
	}
	p := &process{id: id, started: time.Now(), logFrom: from, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// adopt takes over a process an earlier RAZAR started. Its exit is noticed
// through proc.Watch until ctx ends; its exit status cannot be known.
func adopt(ctx context.Context, pf *pidFile) *process {
	p := &process{id: pf.ID, started: pf.Started, logFrom: pf.LogFrom, adopted: true, exited: make(chan struct{})}
	gone := proc.Watch(ctx, pf.ID)
	go func() {
		select {
		case <-gone:
			close(p.exited)
		case <-ctx.Done():
		}
	}()
	return p
}

// running reports whether the process has not exited.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// exitText describes how the process ended.
func (p *process) exitText() string {
	if p.adopted {
		return "exited (adopted after a RAZAR restart: exit status unknown)"
	}
	return proc.ExitText(p.err)
}

// stop sends SIGTERM to the process group, then SIGKILL after grace, and
// waits for the leader to exit. The group is killed at the end either way,
// so no child it forked outlives it. An adopted process is signalled only
// while it is still the process that was adopted, never a reused pid.
func (p *process) stop(grace time.Duration) {
	if p.id.PID <= 0 {
		return
	}
	if p.adopted && !p.id.Alive() {
		return
	}
	if p.running() {
		_ = syscall.Kill(-p.id.PID, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			_ = syscall.Kill(-p.id.PID, syscall.SIGKILL)
			if p.adopted {
				waitGone(p, grace)
			} else {
				<-p.exited
			}
		}
	}
	_ = syscall.Kill(-p.id.PID, syscall.SIGKILL)
}

// waitGone waits up to d for an adopted process to be gone after SIGKILL.
func waitGone(p *process, d time.Duration) {
	select {
	case <-p.exited:
	case <-time.After(d):
	}
}

func (s *Supervisor) pidPath(name string) string {
	return razar.Home(s.cfg.Home).PIDFile(name)
}

// writePidFile records a launched process for adoption after a RAZAR restart.
func (s *Supervisor) writePidFile(spec config.Component, p *process) {
	pf := pidFile{Component: spec.Name, ID: p.id, Spec: specHash(spec), LogFrom: p.logFrom, Started: p.started.UTC()}
	data, _ := json.Marshal(pf)
	path := s.pidPath(spec.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
		err = homedir.WriteAtomic(path, append(data, '\n'), 0o600)
		if err == nil {
			return
		}
	}
	s.log.Warn().Str("component", spec.Name).Str("file", path).Msg("could not write the pid file: a RAZAR restart will not adopt this process")
}

// removePidFile forgets a process that RAZAR stopped.
func (s *Supervisor) removePidFile(name string) {
	if err := os.Remove(s.pidPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn().Err(err).Str("component", name).Msg("could not remove the pid file")
	}
}

// readPidFile returns the recorded process of name, or nil.
func (s *Supervisor) readPidFile(name string) *pidFile {
	data, err := os.ReadFile(s.pidPath(name))
	if err != nil {
		return nil
	}
	var pf pidFile
	if json.Unmarshal(data, &pf) != nil || pf.ID.PID <= 0 || pf.Component != name {
		s.log.Warn().Str("component", name).Str("file", s.pidPath(name)).Msg("ignoring an unreadable pid file")
		return nil
	}
	return &pf
}

// specHash identifies a boot_config entry: a changed entry is restarted on
// reload and not adopted as it was.
func specHash(c config.Component) string {
	data, _ := json.Marshal(c)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// holdPath is state/components/<name>.stopped: an operator's stop, kept
// across RAZAR restarts until `razar start`.
func (s *Supervisor) holdPath(name string) string {
	return razar.Home(s.cfg.Home).ComponentHold(name)
}

// hold is what a .stopped file records.
type hold struct {
	Actor string    `json:"actor"`
	Time  time.Time `json:"time"`
	// Reason is why RAZAR, not an operator, holds it (a restored
	// component that failed its health check), shown as its last error.
	Reason string `json:"reason,omitempty"`
}

// writeHoldReason records an operator's stop with the reason RAZAR holds
// it, so a RAZAR restart keeps both.
func (s *Supervisor) writeHoldReason(name, actor, reason string) {
	data, _ := json.Marshal(hold{Actor: actor, Time: time.Now().UTC(), Reason: reason})
	if err := homedir.WriteAtomic(s.holdPath(name), append(data, '\n'), 0o600); err != nil {
		s.log.Warn().Err(err).Str("component", name).Msg("could not record why the component is held")
	}
}

func (s *Supervisor) writeHold(name, actor string) {
	data, _ := json.Marshal(hold{Actor: actor, Time: time.Now().UTC()})
	path := s.holdPath(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
		if err = homedir.WriteAtomic(path, append(data, '\n'), 0o600); err == nil {
			return
		}
	}
	s.log.Warn().Str("component", name).Str("file", path).Msg("could not record the stop: a RAZAR restart will start this component")
}

func (s *Supervisor) removeHold(name string) {
	if err := os.Remove(s.holdPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn().Err(err).Str("component", name).Msg("could not remove the recorded stop")
	}
}

// loadHolds marks the components an operator stopped before a restart.
func (s *Supervisor) loadHolds() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.comps {
		if data, err := os.ReadFile(s.holdPath(name)); err == nil {
			c.held = true
			var h hold
			if json.Unmarshal(data, &h) == nil && h.Reason != "" {
				c.lastError = h.Reason
			}
		}
	}
}
