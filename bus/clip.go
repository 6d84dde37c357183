package bus

import (
	"strconv"
	"unicode/utf8"
)

// Limits on what one escalation carries, so no message nears the server's
// max payload (1 MiB by default) however long an incident runs.
const (
	MaxErrorBytes   = 8 << 10
	MaxSummaryBytes = 8 << 10
	// MaxDiffBytes is the largest patch a rung may send, the patch
	// engine's own limit: a bigger one is refused, not cut (a cut diff no
	// longer applies).
	MaxDiffBytes = 256 << 10
	// MaxContextBytes bounds the encoded escalation; older attempts' diffs and
	// summaries are cut harder until it fits.
	MaxContextBytes = 512 << 10
	// MaxResultBytes is the largest encoded result stream RAZAR_RESULTS
	// stores: the diffs of every candidate together (the rung runtime
	// keeps them under 640 KiB), their summaries, the error, and the JSON
	// escaping of all of it. A bigger publish is refused, nothing stored.
	MaxResultBytes = 1 << 20
)

// Clip shortens s to at most max bytes, keeping its head and tail around a
// visible marker, "…[razar: cut N bytes]…", where N is exactly what was
// removed. s is returned as is when it fits; a cut never splits a UTF-8
// sequence. With max too small for the marker, s is truncated without one.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	// The marker's length depends on N, and N on the marker's length:
	// settle it with the widest N possible.
	markerLen := len(clipMarker(len(s)))
	keep := max - markerLen
	if keep < 8 {
		return cutAt(s, max)
	}
	head := cutAt(s, keep*2/3)
	tail := tailFrom(s, keep-len(head))
	return head + clipMarker(len(s)-len(head)-len(tail)) + tail
}

func clipMarker(n int) string { return "\n…[razar: cut " + strconv.Itoa(n) + " bytes]…\n" }

// cutAt returns the longest prefix of s of at most n bytes that does not end
// inside a UTF-8 sequence.
func cutAt(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// tailFrom returns the longest suffix of s of at most n bytes that does not
// start inside a UTF-8 sequence.
func tailFrom(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}
