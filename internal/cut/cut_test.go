package cut_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/razar/razar/internal/cut"
)

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"one":            "one",
		"one\ntwo":       "one",
		"\nsecond":       "",
		"é line\r\nnext": "é line\r",
	} {
		if got := cut.FirstLine(in); got != want {
			t.Errorf("FirstLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHead(t *testing.T) {
	for _, tt := range []struct {
		s        string
		n        int
		ellipsis string
		want     string
	}{
		{"short", 10, "…", "short"},
		{"exactly10!", 10, "…", "exactly10!"},
		{"a longer line", 8, "...", "a longer..."},
		{"a longer line", 8, "…", "a longer…"},
		{"héllo", 2, "…", "h…"}, // 'é' is two bytes: not split
		{"abc", 0, "…", "…"},
		{"abc", -1, "…", "…"},
	} {
		got := cut.Head(tt.s, tt.n, tt.ellipsis)
		if got != tt.want {
			t.Errorf("Head(%q, %d, %q) = %q, want %q", tt.s, tt.n, tt.ellipsis, got, tt.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Head(%q, %d) split a UTF-8 sequence: %q", tt.s, tt.n, got)
		}
	}
}

func TestMiddleKeepsHeadAndTailAndMarksTheCut(t *testing.T) {
	s := strings.Repeat("a", 500) + strings.Repeat("z", 500)
	got := cut.Middle(s, 200)
	if len(got) > 200 || !strings.HasPrefix(got, "aaa") || !strings.HasSuffix(got, "zzz") || !cut.Marked(got) {
		t.Fatalf("Middle = %q (%d bytes)", got, len(got))
	}
	if cut.Middle("fits", 10) != "fits" || cut.Marked("fits") {
		t.Fatal("a text that fits is changed or marked")
	}
	if got := cut.Middle(s, 5); got != "aaaaa" {
		t.Fatalf("Middle with no room for the marker = %q", got)
	}
}

func TestSanitizeKeepsALineOnItsLine(t *testing.T) {
	t.Parallel()
	got := cut.Sanitize("a\tb\nc\x1b[2J\rd\u202eе\xff")
	if strings.ContainsAny(got, "\t\n\r\x1b\u202e") || !strings.HasPrefix(got, "a b c[2Jd") || !strings.HasSuffix(got, "\ufffd") {
		t.Errorf("Sanitize = %q", got)
	}
}

func TestCleanKeepsLinesAndDropsWhatHidesText(t *testing.T) {
	t.Parallel()
	in := "line one\tcol\nc\x1b[2J\rd\u202ee\u2028f\u0085g\xff\ufffdh\n"
	if got, want := cut.Clean(in), "line one\tcol\nc[2Jdefgh\n"; got != want {
		t.Errorf("Clean = %q, want %q", got, want)
	}
}
