// Package cut shortens text for messages, logs and the wire, one way each:
// the first line of a text (FirstLine), a head with an ellipsis (Head), and
// a head and tail around a marker naming what was cut (Middle, behind
// bus.Clip). No cut ever splits a UTF-8 sequence. It also makes untrusted
// text safe to show, dropping control characters and bidirectional
// controls by one list: on one line of a terminal (Sanitize: ctl, the
// host's guard) or keeping its lines (Clean: the status page).
//
// It is a leaf: standard library only, so every layer may use it (patch
// and workspace included, which must not import bus).
//
// Concurrency: every function is pure and safe to call from any goroutine.
package cut
