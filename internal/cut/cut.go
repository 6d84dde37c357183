package cut

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// FirstLine returns s up to its first newline, or s whole when it has none.
func FirstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Head returns s when it is at most n bytes long, and otherwise its first
// n bytes (fewer when the n-th byte is inside a UTF-8 sequence) followed
// by ellipsis ("…" or "...").
func Head(s string, n int, ellipsis string) string {
	if len(s) <= n {
		return s
	}
	return prefix(s, max(n, 0)) + ellipsis
}

// Middle shortens s to at most max bytes, keeping its head and tail around
// a visible marker, "…[razar: cut N bytes]…", where N is exactly what was
// removed. s is returned as is when it fits. With max too small for the
// marker, s is truncated without one.
func Middle(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	// The marker's length depends on N, and N on the marker's length:
	// settle it with the widest N possible.
	markerLen := len(marker(len(s)))
	keep := max - markerLen
	if keep < 8 {
		return prefix(s, max)
	}
	head := prefix(s, keep*2/3)
	tail := suffix(s, keep-len(head))
	return head + marker(len(s)-len(head)-len(tail)) + tail
}

// Marked reports whether s holds Middle's marker: it was cut.
func Marked(s string) bool { return strings.Contains(s, markerStart) }

const markerStart = "…[razar: cut "

func marker(n int) string { return "\n" + markerStart + strconv.Itoa(n) + " bytes]…\n" }

// prefix returns the longest prefix of s of at most n bytes that does not
// end inside a UTF-8 sequence.
func prefix(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// suffix returns the longest suffix of s of at most n bytes that does not
// start inside a UTF-8 sequence.
func suffix(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}
