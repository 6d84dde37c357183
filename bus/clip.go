package bus

import "github.com/razar/razar/internal/cut"

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
// It is internal/cut's Middle, the one such cut of RAZAR.
func Clip(s string, max int) string { return cut.Middle(s, max) }
