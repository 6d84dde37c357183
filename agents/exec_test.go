package agents

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// writeExecScript writes an executable sh script into dir and returns its path.
func writeExecScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func execTask() razar.Task {
	return razar.Task{
		Incident:  "inc-20260101-0001",
		Component: "crown_router",
		Error:     "listen tcp :8101: bind: address already in use",
		Attempt:   3,
		Pass:      1,
		Rung:      "k2",
		Deadline:  time.Now().Add(time.Minute),
		History: []razar.Attempt{
			{Number: 1, Rung: "crown", Pass: 1, Outcome: razar.OutcomeNoFix, Summary: "triage: port in use"},
			{Number: 2, Rung: "kimicho", Pass: 1, Outcome: razar.OutcomeRejected, Reason: "health check still failing"},
		},
	}
}

func TestExecRepair(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name    string
		script  string
		want    razar.Fix
		wantErr []string // substrings of the error; nil means success
		notErr  string
	}{
		{name: "fixed", script: `cat >/dev/null; printf '%s\n' '{"status":"fixed","summary":"freed the port","diff":"--- a\n+++ b\n"}'`,
			want: razar.Fix{Status: razar.StatusFixed, Summary: "freed the port", Diff: "--- a\n+++ b\n"}},
		{name: "no_fix", script: `echo '{"status":"no_fix","summary":"nothing I can do"}'`,
			want: razar.Fix{Status: razar.StatusNoFix, Summary: "nothing I can do"}},
		{name: "error status is an answer", script: `echo '{"status":"error","summary":"model refused"}'`,
			want: razar.Fix{Status: razar.StatusError, Summary: "model refused"}},
		{name: "unknown fields ignored", script: `echo '{"status":"no_fix","summary":"s","confidence":0.3,"v":7}'`,
			want: razar.Fix{Status: razar.StatusNoFix, Summary: "s"}},
		{name: "log lines before JSON", script: `echo "loading model..."; echo '{"partial": true}'; echo "thinking"; echo '  {"status":"fixed","summary":"ok"}  '`,
			want: razar.Fix{Status: razar.StatusFixed, Summary: "ok"}},
		{name: "log lines after JSON", script: `echo '{"status":"no_fix","summary":"first"}'; echo done`,
			want: razar.Fix{Status: razar.StatusNoFix, Summary: "first"}},
		{name: "last valid line wins", script: `echo '{"status":"no_fix","summary":"first"}'; echo '{"status":"fixed","summary":"second"}'`,
			want: razar.Fix{Status: razar.StatusFixed, Summary: "second"}},
		{name: "pretty-printed after logs", script: `echo starting; printf '{\n  "status": "fixed",\n  "summary": "pretty"\n}\n'`,
			want: razar.Fix{Status: razar.StatusFixed, Summary: "pretty"}},
		{name: "CRLF lines", script: `printf 'log\r\n{"status":"no_fix","summary":"crlf"}\r\n'`,
			want: razar.Fix{Status: razar.StatusNoFix, Summary: "crlf"}},
		{name: "big log then reply under the limit", script: `head -c 1000000 /dev/zero | tr '\0' x; echo; echo '{"status":"no_fix","summary":"big"}'`,
			want: razar.Fix{Status: razar.StatusNoFix, Summary: "big"}},
		{name: "nonzero exit with a valid reply", script: `echo '{"status":"no_fix","summary":"gave up"}'; exit 2`,
			want: razar.Fix{Status: razar.StatusNoFix, Summary: "gave up"}},
		{name: "nonzero exit without JSON", script: `echo partial; echo "Traceback: boom" >&2; exit 3`,
			wantErr: []string{"exec agent k2: exit status 3 and no valid reply: stderr: Traceback: boom"}},
		{name: "nonzero exit, no stderr", script: `exit 5`,
			wantErr: []string{"exec agent k2: exit status 5 and no valid reply: stderr: (no stderr)"}},
		{name: "nonzero exit, long stderr keeps the tail", script: `i=0; while [ $i -lt 300 ]; do echo "stderr line $i" >&2; i=$((i+1)); done; echo LAST >&2; exit 1`,
			wantErr: []string{"exit status 1", "stderr: ...", "LAST"}, notErr: "stderr line 0\n"},
		{name: "garbage", script: `echo hello world`,
			wantErr: []string{`exec agent k2: reply is not JSON: "hello world"`}},
		{name: "long garbage is cut", script: `echo ` + long,
			wantErr: []string{`exec agent k2: reply is not JSON: "` + long[:80] + `..."`}, notErr: long[:81]},
		{name: "truncated JSON", script: `echo '{"status":"fixed","summ'`,
			wantErr: []string{`exec agent k2: reply is not JSON: "{\"status\":\"fixed\",\"summ"`}},
		{name: "JSON but not an object", script: `echo '["fixed"]'`,
			wantErr: []string{`reply is not JSON: "[\"fixed\"]"`}},
		{name: "invalid status", script: `echo '{"status":"done","summary":"x"}'`,
			wantErr: []string{`exec agent k2: reply status "done" is not fixed, no_fix or error`}},
		{name: "no status", script: `echo '{"summary":"x"}'`,
			wantErr: []string{`exec agent k2: reply has no "status"`}},
		{name: "empty stdout", script: `echo only-stderr >&2`,
			wantErr: []string{"exec agent k2: empty reply"}},
		{name: "oversized", script: `head -c 1100000 /dev/zero | tr '\0' a; echo '{"status":"fixed"}'`,
			wantErr: []string{"exec agent k2: reply over 1 MiB"}},
		{name: "endless output", script: `yes '{"status":"fixed"}'`,
			wantErr: []string{"exec agent k2: reply over 1 MiB"}},
		{name: "script not reading stdin", script: `echo '{"status":"no_fix"}'`,
			want: razar.Fix{Status: razar.StatusNoFix}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeExecScript(t, dir, "agent.sh", tt.script)
			fix, err := NewExec("k2", []string{"./agent.sh"}, dir, nil).Repair(t.Context(), execTask())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Repair = %v", err)
				}
				if !reflect.DeepEqual(fix, tt.want) {
					t.Errorf("Repair = %+v, want %+v", fix, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Repair = %+v, nil; want an error holding %q", fix, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Repair error = %q, want it to hold %q", err, w)
				}
			}
			if tt.notErr != "" && strings.Contains(err.Error(), tt.notErr) {
				t.Errorf("Repair error = %q, want it not to hold %q", err, tt.notErr)
			}
			if len(err.Error()) > 700 {
				t.Errorf("Repair error is %d bytes; want it short", len(err.Error()))
			}
		})
	}
}

// TestExecRepairInput checks what the script is given: the escalation on
// stdin, the RAZAR_* variables, the extra env and the working directory.
func TestExecRepairInput(t *testing.T) {
	dir := t.TempDir()
	writeExecScript(t, dir, "agent.sh", `cat > stdin.json
printf '%s|%s|%s|%s|%s|%s|%s' "$RAZAR_INCIDENT" "$RAZAR_COMPONENT" "$RAZAR_ATTEMPT" "$RAZAR_RUNG" "$RAZAR_WORKDIR" "$EXTRA" "$(pwd -P)" > env.txt
echo '{"status":"no_fix","summary":"read it"}'`)
	task := execTask()
	ctx, cancel := context.WithDeadline(t.Context(), task.Deadline)
	defer cancel()

	fix, err := NewExec("k2", []string{"./agent.sh"}, dir, []string{"EXTRA=yes", "RAZAR_RUNG=spoofed"}).Repair(ctx, task)
	if err != nil {
		t.Fatalf("Repair = %v", err)
	}
	if fix.Status != razar.StatusNoFix || fix.Summary != "read it" {
		t.Errorf("Repair = %+v", fix)
	}

	raw, err := os.ReadFile(filepath.Join(dir, "stdin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var esc bus.Escalation
	if err := bus.Decode(raw, &esc); err != nil {
		t.Fatalf("stdin is not a valid escalation: %v\n%s", err, raw)
	}
	if !strings.HasPrefix(string(raw), `{"v":1,`) {
		t.Errorf("stdin = %s, want it to start with the version", raw)
	}
	got := esc.Task()
	if got.Incident != task.Incident || got.Component != task.Component || got.Error != task.Error ||
		got.Attempt != task.Attempt || got.Pass != task.Pass || got.Rung != task.Rung {
		t.Errorf("escalation task = %+v, want %+v", got, task)
	}
	if !esc.Deadline.Equal(task.Deadline) {
		t.Errorf("deadline = %v, want %v", esc.Deadline, task.Deadline)
	}
	if esc.Workdir != dir {
		t.Errorf("workdir = %q, want %q", esc.Workdir, dir)
	}
	if len(esc.Context) != 2 || esc.Context[1].Reason != "health check still failing" {
		t.Errorf("context = %+v, want the two earlier attempts", esc.Context)
	}

	env, err := os.ReadFile(filepath.Join(dir, "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{task.Incident, task.Component, "3", "k2", dir, "yes", realDir}, "|")
	if string(env) != want {
		t.Errorf("script saw %q, want %q", env, want)
	}
}

func TestExecRepairEmptyHistory(t *testing.T) {
	dir := t.TempDir()
	writeExecScript(t, dir, "agent.sh", `cat > stdin.json; echo '{"status":"no_fix"}'`)
	task := execTask()
	task.History = nil
	if _, err := NewExec("crown", []string{"./agent.sh"}, dir, nil).Repair(t.Context(), task); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "stdin.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"context":[]`) {
		t.Errorf("stdin = %s, want \"context\":[]", raw)
	}
}

func TestExecRepairCommandPaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeExecScript(t, filepath.Join(dir, "bin"), "fix.sh", `test -d bin && echo "{\"status\":\"no_fix\",\"summary\":\"$1\"}"`)
	writeExecScript(t, dir, "plain.sh", `echo "{\"status\":\"no_fix\",\"summary\":\"$1\"}"`)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		command []string
		dir     string
		want    string // the summary; "" means an error
		wantErr string
	}{
		{name: "relative to dir", command: []string{"./bin/fix.sh", "a"}, dir: dir, want: "a"},
		{name: "relative without dot", command: []string{"bin/fix.sh", "b"}, dir: dir, want: "b"},
		{name: "dir itself relative", command: []string{"./bin/fix.sh", "c"}, dir: rel, want: "c"},
		{name: "absolute", command: []string{filepath.Join(dir, "bin", "fix.sh"), "d"}, dir: dir, want: "d"},
		{name: "from PATH", command: []string{"sh", "./plain.sh", "e"}, dir: dir, want: "e"},
		{name: "missing", command: []string{"./nope.sh"}, dir: dir, wantErr: "exec agent k2: start ./nope.sh: no such file or directory"},
		{name: "empty command", command: nil, dir: dir, wantErr: "exec agent k2: invalid configuration: no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fix, err := NewExec("k2", tt.command, tt.dir, nil).Repair(t.Context(), execTask())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Repair = %+v, %v; want an error holding %q", fix, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Repair = %v", err)
			}
			if fix.Summary != tt.want {
				t.Errorf("summary = %q, want %q", fix.Summary, tt.want)
			}
		})
	}
}

func TestExecRepairEmptyCommandIsConfigError(t *testing.T) {
	_, err := NewExec("k2", []string{""}, "", nil).Repair(t.Context(), execTask())
	if !errors.Is(err, razar.ErrInvalidConfig) {
		t.Fatalf("Repair = %v, want razar.ErrInvalidConfig", err)
	}
}

// TestExecRepairDeadline runs scripts that hang past the deadline; Repair
// must kill them, with their children, and say it timed out.
func TestExecRepairDeadline(t *testing.T) {
	tests := []struct {
		name   string
		script string
		ctxTO  time.Duration // 0: no ctx deadline, the task's deadline applies
	}{
		{name: "hang", script: `sleep 1000`, ctxTO: 300 * time.Millisecond},
		{name: "child holds stdout", script: `echo working; sleep 1000 & wait`, ctxTO: 300 * time.Millisecond},
		{name: "reply then hang", script: `echo '{"status":"fixed"}'; sleep 1000`, ctxTO: 300 * time.Millisecond},
		{name: "task deadline", script: `sleep 1000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeExecScript(t, dir, "agent.sh", tt.script)
			task := execTask()
			ctx := t.Context()
			if tt.ctxTO > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTO)
				defer cancel()
			} else {
				task.Deadline = time.Now().Add(300 * time.Millisecond)
			}
			fix, err := NewExec("k2", []string{"./agent.sh"}, dir, nil).Repair(ctx, task)
			if err == nil {
				t.Fatalf("Repair = %+v, nil; want a timeout", fix)
			}
			if !strings.Contains(err.Error(), "exec agent k2: timed out after ") {
				t.Errorf("Repair error = %q, want it to say it timed out", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Repair error = %v, want it to match context.DeadlineExceeded", err)
			}
		})
	}
}

func TestExecRepairCancelled(t *testing.T) {
	dir := t.TempDir()
	writeExecScript(t, dir, "agent.sh", `sleep 1000`)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := NewExec("k2", []string{"./agent.sh"}, dir, nil).Repair(ctx, execTask())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Repair = %v, want context.Canceled", err)
	}
}

func TestParseExecReply(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    razar.Fix
		wantErr string
	}{
		{name: "plain", out: `{"status":"fixed","summary":"s","diff":"d"}`, want: razar.Fix{Status: razar.StatusFixed, Summary: "s", Diff: "d"}},
		{name: "blank lines around", out: "\n\n{\"status\":\"no_fix\"}\n\n", want: razar.Fix{Status: razar.StatusNoFix}},
		{name: "pretty only", out: "{\n \"status\": \"error\"\n}", want: razar.Fix{Status: razar.StatusError}},
		{name: "pretty with trailing log", out: "{\n \"status\": \"error\"\n}\nbye", wantErr: `reply is not JSON: "bye"`},
		{name: "bad then good", out: "{\"status\":\"nope\"}\n{\"status\":\"no_fix\"}", want: razar.Fix{Status: razar.StatusNoFix}},
		{name: "good then bad", out: "{\"status\":\"no_fix\"}\n{\"status\":\"nope\"}", want: razar.Fix{Status: razar.StatusNoFix}},
		{name: "status wrong type", out: `{"status":1}`, wantErr: `reply is not JSON: "{\"status\":1}"`},
		{name: "empty", out: " \n\t", wantErr: "empty reply"},
		{name: "long status quoted short", out: `{"status":"` + strings.Repeat("é", 100) + `"}`,
			wantErr: `reply status "` + strings.Repeat("é", 40) + `..." is not fixed, no_fix or error`},
		{name: "binary", out: "\x00\xff\xfe", wantErr: `reply is not JSON: "\x00\xff\xfe"`},
		{name: "escapes count when cutting", out: strings.Repeat("\xf2", 45), wantErr: `reply is not JSON: "` + strings.Repeat(`\xf2`, 20) + `..."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fix, err := parseExecReply([]byte(tt.out))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr && !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("parseExecReply = %+v, %v; want error %q", fix, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(fix, tt.want) {
				t.Fatalf("parseExecReply = %+v, %v; want %+v", fix, err, tt.want)
			}
		})
	}
}

func FuzzParseExecReply(f *testing.F) {
	for _, s := range []string{
		`{"status":"fixed","summary":"freed the port","diff":"--- a\n+++ b\n"}`,
		"loading...\n{\"status\":\"no_fix\"}\n",
		"{\n  \"status\": \"error\"\n}\n",
		"hello world",
		`{"status":"done"}`,
		"{\n{\n{\n",
		"",
		"\xd4" + strings.Repeat("\xf2", 44), // found by fuzzing: escapes quadruple the quoted length
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		fix, err := parseExecReply(out)
		if err == nil && !fix.Status.Valid() {
			t.Fatalf("parseExecReply(%q) = %+v with an invalid status and no error", out, fix)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Fatalf("parseExecReply(%q) error is %d bytes", out, len(err.Error()))
		}
	})
}
