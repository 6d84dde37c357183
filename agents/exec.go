package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/pgcmd"
	"github.com/razar/razar/internal/tailbuf"
)

// Limits of the exec backend.
const (
	// MaxExecReply bounds what an exec agent may write to stdout.
	MaxExecReply = 1 << 20
	// execStderrTail is how much of a failed script's stderr an error quotes.
	execStderrTail = 512
	// execQuote is how much of a garbage reply an error quotes.
	execQuote = 80
	// execWaitDelay bounds the wait for the output pipes once the script has
	// exited or been killed, so an escaped grandchild holding them open
	// cannot hang the attempt.
	execWaitDelay = 2 * time.Second
	// execMaxObjectTries bounds how many multi-line JSON objects the reply
	// parser tries, so a huge reply cannot make parsing quadratic.
	execMaxObjectTries = 8
)

// Exec is the exec backend: it runs an operator's script once per attempt,
// writes the escalation JSON to its stdin and reads the result JSON from its
// stdout. It holds no state between attempts and is safe for concurrent use;
// each Repair runs its own process.
type Exec struct {
	name    string
	command []string
	dir     string
	env     []string
}

var _ razar.Agent = (*Exec)(nil)

// NewExec returns the exec backend of agent name. command is the script and
// its arguments; a relative command path containing a slash ("./fix.sh")
// resolves against dir, which is also the script's working directory (the
// current one when empty). The script's environment is pgcmd.BaseEnv (PATH,
// HOME, LANG, TZ, TMPDIR) plus env ("KEY=value" entries: the rung's own
// credential, see Resolved.Env) plus the task variables Repair documents;
// nothing else of RAZAR's environment, so no other rung's key, reaches it.
// An empty command is reported by Repair.
func NewExec(name string, command []string, dir string, env []string) *Exec {
	return &Exec{
		name:    name,
		command: append([]string(nil), command...),
		dir:     dir,
		env:     append([]string(nil), env...),
	}
}

// execReply is what a script writes on stdout.
type execReply struct {
	Status  razar.Status `json:"status"`
	Summary string       `json:"summary"`
	Diff    string       `json:"diff"`
}

// Repair runs the script for one attempt. The script gets the escalation
// JSON (bus.Escalation) on stdin and RAZAR_INCIDENT, RAZAR_COMPONENT,
// RAZAR_ATTEMPT, RAZAR_RUNG and RAZAR_WORKDIR in its environment (the
// escalation's "workdir" and RAZAR_WORKDIR are the component's workdir, or
// dir made absolute when the task names none), and
// answers with {"status": "fixed"|"no_fix"|"error", "summary": ..., "diff": ...}
// on stdout. Log lines may come first: the last line (or trailing
// pretty-printed object) that is a JSON object with a valid status is the
// reply. A valid reply is used even when the script exits non-zero.
//
// The script runs in its own process group, killed as a whole when ctx ends;
// with no deadline on ctx, t.Deadline applies, else config.DefaultAgentTimeout.
//
// Every error names the agent. Repair fails when the command is empty
// (wrapping razar.ErrInvalidConfig) or cannot start; when the deadline passes
// ("timed out after ...", matching context.DeadlineExceeded) or ctx is
// cancelled (matching context.Canceled); when stdout exceeds MaxExecReply
// ("reply over 1 MiB"); when the script exits non-zero without a valid reply
// (the exit status and the tail of stderr); and when a zero exit leaves no
// valid reply (what was wrong with it, quoting at most 80 characters).
func (e *Exec) Repair(ctx context.Context, t razar.Task) (razar.Fix, error) {
	if len(e.command) == 0 || e.command[0] == "" {
		return razar.Fix{}, fmt.Errorf("exec agent %s: %w: no command", e.name, razar.ErrInvalidConfig)
	}
	ctx, cancel := withTaskDeadline(ctx, t)
	defer cancel()
	dl, _ := ctx.Deadline()
	limit := max(time.Until(dl), 0).Round(time.Millisecond)

	cmd, stdout, stderr, err := e.script(ctx, t, dl)
	if err != nil {
		return razar.Fix{}, err
	}
	if err := cmd.Start(); err != nil {
		return razar.Fix{}, e.startErr(ctx, limit, err)
	}
	waitErr := cmd.Wait()
	return e.reply(ctx, limit, stdout, stderr, waitErr)
}

// withTaskDeadline bounds ctx by the task's deadline (or the default agent
// timeout) when ctx has none of its own.
func withTaskDeadline(ctx context.Context, t razar.Task) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	deadline := t.Deadline
	if deadline.IsZero() {
		deadline = time.Now().Add(config.DefaultAgentTimeout)
	}
	return context.WithDeadline(ctx, deadline)
}

// script prepares the command for task t: the escalation on its stdin, the
// attempt's RAZAR_* variables, and bounded buffers for its output.
func (e *Exec) script(ctx context.Context, t razar.Task, dl time.Time) (*exec.Cmd, *execLimited, *tailbuf.Buffer, error) {
	dir, err := filepath.Abs(e.dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("exec agent %s: dir: %w", e.name, err)
	}
	// The component's workdir when the escalation names one, else the rung's dir.
	workdir := t.Workdir
	if workdir == "" {
		workdir = dir
	}
	t.Workdir = workdir
	esc := bus.EscalationOf(t, dl)
	payload, err := bus.Encode(esc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("exec agent %s: %w", e.name, err)
	}

	cmd, err := pgcmd.Command(ctx, e.command, e.dir, e.env, execWaitDelay)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("exec agent %s: %w", e.name, err)
	}
	cmd.Env = append(cmd.Env, // last, so they win over any entry of env
		"RAZAR_INCIDENT="+t.Incident,
		"RAZAR_COMPONENT="+t.Component,
		"RAZAR_ATTEMPT="+strconv.Itoa(t.Attempt),
		"RAZAR_RUNG="+t.Rung,
		"RAZAR_WORKDIR="+workdir,
	)
	cmd.Stdin = bytes.NewReader(payload)
	stdout := &execLimited{max: MaxExecReply}
	stderr := tailbuf.New(execStderrTail)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	return cmd, stdout, stderr, nil
}

// startErr says why the script did not start: the deadline, or the
// start error without its path wrapping.
func (e *Exec) startErr(ctx context.Context, limit time.Duration, err error) error {
	if ctx.Err() != nil {
		return e.ctxErr(ctx, limit)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("exec agent %s: start %s: %w", e.name, e.command[0], err)
}

// reply reads the finished script's answer, or says why there is none:
// an oversized reply, the deadline, its exit with stderr's tail, pipes
// that outlived it, or a reply that does not parse.
func (e *Exec) reply(ctx context.Context, limit time.Duration, stdout *execLimited, stderr *tailbuf.Buffer, waitErr error) (razar.Fix, error) {
	switch {
	case stdout.over: // the cause, even if the script then outlived the deadline
		return razar.Fix{}, fmt.Errorf("exec agent %s: reply over 1 MiB", e.name)
	case ctx.Err() != nil:
		return razar.Fix{}, e.ctxErr(ctx, limit)
	}
	fix, parseErr := parseExecReply(stdout.buf.Bytes())
	if parseErr == nil {
		return fix, nil
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		tail := strings.TrimSpace(stderr.String())
		if tail == "" {
			tail = "(no stderr)"
		}
		return razar.Fix{}, fmt.Errorf("exec agent %s: %s and no valid reply: stderr: %s", e.name, ee, tail)
	}
	if waitErr != nil { // the pipes outlived the script past the wait delay
		return razar.Fix{}, fmt.Errorf("exec agent %s: %w", e.name, waitErr)
	}
	return razar.Fix{}, fmt.Errorf("exec agent %s: %w", e.name, parseErr)
}

// ctxErr is the error of an attempt cut off by ctx.
func (e *Exec) ctxErr(ctx context.Context, limit time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("exec agent %s: %w", e.name, execTimeout(limit))
	}
	return fmt.Errorf("exec agent %s: %w", e.name, ctx.Err())
}

// execTimeout is an attempt that ran out of time.
type execTimeout time.Duration

func (d execTimeout) Error() string { return "timed out after " + time.Duration(d).String() }
func (execTimeout) Unwrap() error   { return context.DeadlineExceeded }

// Timeout reports true, as net.Error timeouts do.
func (execTimeout) Timeout() bool { return true }

// parseExecReply finds the reply in a script's stdout: the last line that is
// a JSON object with a valid status, or failing that the last multi-line
// object (pretty-printed) that starts on a line of its own. The error says
// what was wrong with the output; it never panics.
func parseExecReply(out []byte) (razar.Fix, error) {
	text := strings.TrimSpace(string(out))
	if text == "" {
		return razar.Fix{}, errors.New(`empty reply (want {"status": "fixed"|"no_fix"|"error", ...} on stdout)`)
	}
	lines := strings.Split(text, "\n")
	var badStatus error // the last JSON object whose status was wrong
	try := func(s string) (razar.Fix, bool) {
		var r execReply
		if json.Unmarshal([]byte(s), &r) != nil {
			return razar.Fix{}, false
		}
		if !r.Status.Valid() {
			if badStatus == nil {
				if r.Status == "" {
					badStatus = errors.New(`reply has no "status" (want fixed, no_fix or error)`)
				} else {
					badStatus = fmt.Errorf("reply status %s is not fixed, no_fix or error", quoteCut(string(r.Status)))
				}
			}
			return razar.Fix{}, false
		}
		return razar.Fix{Status: r.Status, Summary: r.Summary, Diff: r.Diff}, true
	}
	// Single-line objects, last first.
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
			continue
		}
		if fix, ok := try(line); ok {
			return fix, nil
		}
	}
	// A pretty-printed object: from a line that opens one to the end. The
	// last line alone was tried above.
	starts := make([]int, len(lines)) // byte offset of each line in text
	for i := 1; i < len(lines); i++ {
		starts[i] = starts[i-1] + len(lines[i-1]) + 1
	}
	for i, tries := len(lines)-2, 0; i >= 0 && tries < execMaxObjectTries; i-- {
		if !strings.HasPrefix(strings.TrimSpace(lines[i]), "{") {
			continue
		}
		tries++
		if fix, ok := try(text[starts[i]:]); ok {
			return fix, nil
		}
	}
	if badStatus != nil {
		return razar.Fix{}, badStatus
	}
	last := ""
	for i := len(lines) - 1; i >= 0 && last == ""; i-- {
		last = strings.TrimSpace(lines[i])
	}
	return razar.Fix{}, fmt.Errorf("reply is not JSON: %s", quoteCut(last))
}

// quoteCut quotes s, cut so the quoted text holds at most execQuote bytes
// (escapes count at their quoted length; valid runes are not split), with
// "..." appended when it was cut.
func quoteCut(s string) string {
	if q := strconv.Quote(s); len(q) <= execQuote+2 {
		return q
	}
	for cut := min(len(s), execQuote); cut > 0; cut-- {
		if cut < len(s) && !utf8.RuneStart(s[cut]) {
			continue
		}
		if q := strconv.Quote(s[:cut]); len(q) <= execQuote+2 {
			return q[:len(q)-1] + `..."`
		}
	}
	return `"..."`
}

// execLimited keeps up to max bytes. A write past max fails, which closes the
// pipe so the script gets EPIPE instead of filling memory. It is written by
// one os/exec goroutine and read after Wait returns.
type execLimited struct {
	max  int
	buf  bytes.Buffer
	over bool
}

var errExecReplyTooLarge = errors.New("reply over 1 MiB")

func (l *execLimited) Write(p []byte) (int, error) {
	if l.buf.Len()+len(p) > l.max {
		l.over = true
		return 0, errExecReplyTooLarge
	}
	return l.buf.Write(p)
}
