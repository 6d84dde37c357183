package tailfile

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	long := strings.Repeat("x", block+10) + "\n"
	tests := []struct {
		name string
		text string
		n    int
		want string
	}{
		{name: "empty", text: "", n: 3, want: ""},
		{name: "fewer lines than asked", text: "a\nb\n", n: 5, want: "a\nb\n"},
		{name: "last n", text: "a\nb\nc\nd\n", n: 2, want: "c\nd\n"},
		{name: "unfinished last line", text: "a\nb\nc", n: 2, want: "b\nc"},
		{name: "lines across blocks", text: "first\n" + long + "last\n", n: 2, want: long + "last\n"},
		{name: "one line longer than a block", text: "first\n" + long, n: 1, want: long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, err := Lines(strings.NewReader(tt.text), int64(len(tt.text)), tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(bytes.Join(lines, nil)); got != tt.want {
				t.Errorf("Lines(%d) = %.40q, want %.40q", tt.n, got, tt.want)
			}
			if len(lines) > tt.n {
				t.Errorf("%d lines, asked for %d", len(lines), tt.n)
			}
		})
	}
}

type failingReader struct{}

var errRead = errors.New("disk on fire")

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errRead }

func TestLinesReturnsTheReadError(t *testing.T) {
	if _, err := Lines(failingReader{}, 10, 1); !errors.Is(err, errRead) {
		t.Fatalf("err = %v, want %v", err, errRead)
	}
}
