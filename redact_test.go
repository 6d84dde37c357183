package razar

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	r, err := NewRedactor([]string{"sk-live-abcdef", "abc", "sk-live-abcdef-longer"}, []string{`password=\S+`})
	if err != nil {
		t.Fatal(err)
	}
	in := "key sk-live-abcdef-longer and sk-live-abcdef, password=hunter2 abc"
	got := r.Redact(in)
	want := "key [REDACTED] and [REDACTED], [REDACTED] abc"
	if got != want {
		t.Fatalf("Redact = %q, want %q", got, want)
	}
	task := r.Task(Task{Error: "boom sk-live-abcdef", History: []Attempt{{Summary: "password=x", Diff: "+sk-live-abcdef"}}})
	if strings.Contains(task.Error+task.History[0].Summary+task.History[0].Diff, "sk-live") || strings.Contains(task.History[0].Summary, "password=x") {
		t.Fatalf("task not redacted: %+v", task)
	}
	task = r.Task(Task{
		Workspace: &Workspace{LogTail: "key sk-live-abcdef", Files: []FileText{{Path: "a.conf", Text: "token=sk-live-abcdef"}}},
		Tools: ToolsFunc(func(context.Context, ToolRequest) (ToolReply, error) {
			return ToolReply{OK: true, Text: "1\tsk-live-abcdef", Matches: []Match{{Text: "password=hunter2"}}}, nil
		}),
	})
	rep, _ := task.Tools.Call(context.Background(), ToolRequest{Op: ToolRead})
	if seen := task.Workspace.LogTail + task.Workspace.Files[0].Text + rep.Text + rep.Matches[0].Text; strings.Contains(seen, "sk-live") || strings.Contains(seen, "hunter2") {
		t.Fatalf("workspace or tool answer not redacted: %q", seen)
	}
	var nilR *Redactor
	if nilR.Redact("x sk") != "x sk" {
		t.Fatal("nil redactor changed text")
	}
	if _, err := NewRedactor(nil, []string{"("}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad pattern: %v", err)
	}
}

// A secret is redacted in every form it is commonly written in, not just
// verbatim: base64 (std, raw, URL, raw URL), URL-escaped and hex.
func TestRedactorCatchesEncodedForms(t *testing.T) {
	const secret = "sk-live/ab+cd?ef=gh ij~>>" // written differently in every encoding
	r, err := NewRedactor([]string{secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(secret)
	forms := map[string]string{
		"verbatim":      secret,
		"base64":        base64.StdEncoding.EncodeToString(b),
		"base64 raw":    base64.RawStdEncoding.EncodeToString(b),
		"base64url":     base64.URLEncoding.EncodeToString(b),
		"base64url raw": base64.RawURLEncoding.EncodeToString(b),
		"query escape":  url.QueryEscape(secret),
		"path escape":   url.PathEscape(secret),
		"hex":           hex.EncodeToString(b),
		"HEX":           strings.ToUpper(hex.EncodeToString(b)),
	}
	distinct := map[string]bool{}
	for name, form := range forms {
		distinct[form] = true
		got := r.Redact("before " + form + " after")
		if got != "before [REDACTED] after" {
			t.Errorf("%s form %q: Redact = %q", name, form, got)
		}
	}
	if len(distinct) < 8 {
		t.Fatalf("the test secret has only %d distinct forms; pick one that tells them apart", len(distinct))
	}
}

func TestShortSecretsAreIgnoredInEveryForm(t *testing.T) {
	r, err := NewRedactor([]string{"abc", " ab "}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"abc", "YWJj", "616263", "ab"} {
		if got := r.Redact("x " + s); got != "x "+s {
			t.Errorf("Redact(%q) = %q: a short value shreds ordinary text", s, got)
		}
	}
}

// A pattern that does not compile is an error, but never switches off the
// redaction of the known secrets or of the patterns that do compile.
func TestBadPatternKeepsRedactingSecrets(t *testing.T) {
	r, err := NewRedactor([]string{"sk-live-abcdef"}, []string{"(", `password=\S+`})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `"("`) {
		t.Fatalf("err = %v, want ErrInvalidConfig naming the pattern", err)
	}
	if got := r.Redact("key sk-live-abcdef password=hunter2"); got != "key [REDACTED] [REDACTED]" {
		t.Fatalf("Redact = %q", got)
	}
}

// Every free text of an attempt (Attempt.Texts, the list bus.ScrubAttempt
// walks too) is redacted in a task's history and in an attempt a tool
// returns, and nothing else of the attempt changes.
func TestRedactorTaskRedactsEveryAttemptText(t *testing.T) {
	const secret = "sk-live-abcdef"
	r, err := NewRedactor([]string{secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := Attempt{Rung: "k2", DiffSHA256: "ab"}
	texts := a.Texts()
	if len(texts) == 0 {
		t.Fatal("Attempt.Texts lists nothing")
	}
	for _, f := range texts {
		*f.Field = "x " + secret
	}
	check := func(where string, got Attempt) {
		t.Helper()
		for i, f := range got.Texts() {
			if *f.Field != "x "+Redacted {
				t.Errorf("%s: text %d of the attempt = %q, want it redacted", where, i, *f.Field)
			}
		}
		if got.Rung != "k2" || got.DiffSHA256 != "ab" {
			t.Errorf("%s: names or hashes changed: %+v", where, got)
		}
	}
	task := r.Task(Task{History: []Attempt{a}})
	check("history", task.History[0])
	task = r.Task(Task{Tools: ToolsFunc(func(context.Context, ToolRequest) (ToolReply, error) {
		c := a
		return ToolReply{OK: true, Attempt: &c}, nil
	})})
	rep, _ := task.Tools.Call(context.Background(), ToolRequest{Op: ToolRead})
	check("tool reply", *rep.Attempt)
	if *a.Texts()[0].Field != "x "+secret {
		t.Error("Task changed the caller's attempt")
	}
}
