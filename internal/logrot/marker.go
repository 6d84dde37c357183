package logrot

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/razar/razar/internal/homedir"
)

// Start markers. RAZAR writes one line into a component's log before each
// start, "--- razar <time>: starting <name> (mark <tag>)", so the raw
// output reads as runs in time. The component writes the same file, so the
// tag is what tells RAZAR's line from a copy the component printed: an
// HMAC of the name and time under a key only RAZAR's user can read
// (razar.Home.LogMarkKey). A component without that key cannot make
// a line that verifies; readers (razar logs, the output tail a rung is
// shown) mark every other line that looks like a marker as the component's.
//
// A component that runs as RAZAR's own user can read the key, as it can
// read everything else of RAZAR's: the boot warns about it (issue 18.3).

// MarkerPrefix begins every start marker, and every line taken for one.
const MarkerPrefix = "--- razar "

// ForgedPrefix is put before a line that looks like a start marker but is
// not RAZAR's when a reader shows it.
const ForgedPrefix = "[written by the component] "

// markKeyLen is the key's size in bytes.
const markKeyLen = 32

// EnsureMarkKey returns the key at path, creating it (random, 0600, in a
// 0700 directory, written atomically) when it does not exist.
func EnsureMarkKey(path string) ([]byte, error) {
	key, err := ReadMarkKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	key = make([]byte, markKeyLen)
	_, _ = rand.Read(key) // crypto/rand.Read does not fail
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("start marker key: %w", err)
	}
	if err := homedir.WriteAtomic(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("start marker key: %w", err)
	}
	return key, nil
}

// ReadMarkKey reads the key at path. A missing file wraps os.ErrNotExist; a
// file that is not a key says so, with the fix.
func ReadMarkKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("start marker key: %w", err)
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil || len(key) != markKeyLen {
		return nil, fmt.Errorf("start marker key %s is not %d hex-encoded bytes (fix: remove it; the next razar boot writes a new one)", path, markKeyLen)
	}
	return key, nil
}

// StartMarker is the line, newline included, that marks a start of
// component name at t.
func StartMarker(key []byte, name string, t time.Time) string {
	ts := t.UTC().Format(markerTime)
	return MarkerPrefix + ts + ": starting " + name + " (mark " + markTag(key, name, ts) + ")\n"
}

// markerTime is a marker's time: UTC to the millisecond, so two starts in
// one second have distinct markers.
const markerTime = "2006-01-02T15:04:05.000Z07:00"

func markTag(key []byte, name, ts string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("razar start marker\x00" + name + "\x00" + ts))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// LooksLikeMarker reports whether line (without its newline) would be
// taken for a start marker by a reader: it begins, after blanks and
// invisible characters, with MarkerPrefix.
func LooksLikeMarker(line string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(line, invisible), MarkerPrefix)
}

func invisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// Genuine reports whether line (without its newline) is a start marker
// RAZAR wrote with key, for component name. A nil key verifies nothing.
func Genuine(key []byte, name, line string) bool {
	if len(key) == 0 {
		return false
	}
	rest, ok := strings.CutPrefix(line, MarkerPrefix)
	if !ok {
		return false
	}
	ts, rest, ok := strings.Cut(rest, ": starting ")
	if !ok {
		return false
	}
	n, tag, ok := strings.Cut(rest, " (mark ")
	if !ok || n != name || !strings.HasSuffix(tag, ")") {
		return false
	}
	tag = strings.TrimSuffix(tag, ")")
	return hmac.Equal([]byte(tag), []byte(markTag(key, name, ts)))
}

// Markers tells RAZAR's start markers from lines a component wrote to look
// like them, over a log read in order. The zero value verifies nothing.
type Markers struct {
	Key  []byte
	Name string
	// Flagged counts the lines Line has shown as the component's.
	Flagged int
	seen    map[string]bool // times of the genuine markers seen
}

// Line returns line (without its newline) as a reader shows it: a genuine
// marker as it is, any other line that looks like one behind ForgedPrefix.
// A genuine marker seen before (a component that could read its log and
// printed a copy) counts as forged.
func (m *Markers) Line(line string) string {
	if !LooksLikeMarker(line) {
		return line
	}
	if Genuine(m.Key, m.Name, line) {
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, MarkerPrefix), ": starting ")
		if !m.seen[ts] {
			if m.seen == nil {
				m.seen = map[string]bool{}
			}
			m.seen[ts] = true
			return line
		}
	}
	m.Flagged++
	return ForgedPrefix + line
}

// Text is Line over every line of text.
func (m *Markers) Text(text string) string {
	if !strings.Contains(text, MarkerPrefix) {
		return text
	}
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		body, nl := strings.CutSuffix(l, "\n")
		out := m.Line(body)
		if nl {
			out += "\n"
		}
		lines[i] = out
	}
	return strings.Join(lines, "")
}
