// Package cut shortens text for messages, logs and the wire, one way each:
// the first line of a text (FirstLine), a head with an ellipsis (Head), and
// a head and tail around a marker naming what was cut (Middle, behind
// bus.Clip). No cut ever splits a UTF-8 sequence. It also makes untrusted
// text safe to show on one line of a terminal (Sanitize), the one way ctl
// and the host's guard drop control characters and bidirectional overrides.
//
// It is a leaf: standard library only, so every layer may use it (patch
// and workspace included, which must not import bus).
//
// Concurrency: every function is pure and safe to call from any goroutine.
package cut
