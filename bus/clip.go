package bus

import (
	"fmt"
	"unicode/utf8"
)

// Limits on what one escalation carries, so no message nears the server's
// max payload (1 MiB by default) however long an incident runs.
const (
	MaxErrorBytes   = 8 << 10
	MaxSummaryBytes = 8 << 10
	MaxDiffBytes    = 64 << 10
	// MaxContextBytes bounds the encoded escalation; older attempts' diffs and
	// summaries are cut harder until it fits.
	MaxContextBytes = 512 << 10
)

// Clip shortens s to at most max bytes, keeping its head and tail around a
// visible marker that says how much was cut. s is returned as is when it fits.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	marker := fmt.Sprintf("\n…[razar: cut %d bytes]…\n", len(s)-max)
	if max <= len(marker)+2 {
		return marker
	}
	keep := max - len(marker)
	head := keep * 2 / 3
	tail := keep - head
	h := s[:head]
	for len(h) > 0 && !utf8.ValidString(h) {
		h = h[:len(h)-1]
	}
	t := s[len(s)-tail:]
	for len(t) > 0 && !utf8.ValidString(t) {
		t = t[1:]
	}
	return h + marker + t
}
