package razar

import (
	"errors"
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
	var nilR *Redactor
	if nilR.Redact("x sk") != "x sk" {
		t.Fatal("nil redactor changed text")
	}
	if _, err := NewRedactor(nil, []string{"("}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad pattern: %v", err)
	}
}
