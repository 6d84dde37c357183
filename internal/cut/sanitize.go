package cut

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// hidden reports whether r is a character that changes how a terminal or a
// page shows text rather than showing itself: a control character (C0,
// DEL, C1: escape sequences, carriage returns) or a bidirectional control
// that reorders what is shown. It is the one list Sanitize and Clean drop.
func hidden(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

// Sanitize makes text from a component, a rung or a client safe to print
// on one line of an operator's terminal or to echo back: tabs and line
// breaks become spaces, so it stays on its line and in its column; every
// other control character (escape sequences, carriage returns, C1
// controls) and the bidirectional overrides that reorder what is shown are
// dropped; invalid UTF-8 shows as U+FFFD.
func Sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\u2028' || r == '\u2029':
			return ' '
		case hidden(r):
			return -1
		}
		return r
	}, s)
}

// Clean makes untrusted text that keeps its lines (a log tail, a diff)
// safe to show: newlines and tabs stay; every other control character,
// the bidirectional controls, U+2028 and U+2029, and invalid UTF-8 (and
// U+FFFD itself) are dropped.
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == utf8.RuneError || r == '\u2028' || r == '\u2029' || hidden(r):
			return -1
		}
		return r
	}, s)
}
