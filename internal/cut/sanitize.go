package cut

import "strings"

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
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		case (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f' || r == '\u061c':
			return -1
		}
		return r
	}, s)
}
