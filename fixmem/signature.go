package fixmem

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// MaxNormalized bounds the normalised text a signature hashes: a failure
// whose first 4 KiB agree after masking is the same failure; a log tail
// beyond that is noise.
const MaxNormalized = 4 << 10

// mask is one rule of Normalize: what it matches becomes with.
type mask struct {
	re   *regexp.Regexp
	with string
	keep func(match string) bool // when set, a match it reports is left as is
}

// masks are applied in order: the longest, most specific shapes first, so a
// timestamp is masked whole before its digits would be masked one by one.
var masks = []mask{
	// RFC 3339 and log timestamps: 2026-12-02T02:20:38.123Z, 2026/12/02 02:20:38.
	{re: regexp.MustCompile(`\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?`), with: "<time>"},
	{re: regexp.MustCompile(`\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b`), with: "<time>"},
	// Temp paths, up to the next space, quote or colon: t.TempDir(),
	// mktemp -d (razar-demo.XXXXXX), macOS's /var/folders.
	{re: regexp.MustCompile(`(?:/private)?(?:/tmp|/var/tmp|/var/folders|/dev/shm)/[^\s'":,;)\]]*`), with: "<tmp>"},
	// UUIDs, 0x numbers, and runs of 6+ hex digits holding both a digit
	// and a letter (commit ids, patch and incident suffixes): a run of
	// digits alone is a number, a run of letters alone a word.
	{re: regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), with: "<id>"},
	{re: regexp.MustCompile(`(?i)\b0x[0-9a-f]+\b`), with: "<hex>"},
	{re: regexp.MustCompile(`(?i)\b[0-9a-f]{6,}\b`), with: "<hex>", keep: func(run string) bool {
		return !strings.ContainsAny(run, "0123456789") || !strings.ContainsAny(strings.ToLower(run), "abcdef")
	}},
	// pids and ports by their words, then host:port.
	{re: regexp.MustCompile(`(?i)\bpid[ =:]*\d+`), with: "pid <pid>"},
	{re: regexp.MustCompile(`(?i)\bport[ =:]*\d+`), with: "port <port>"},
	{re: regexp.MustCompile(`:\d{2,5}\b`), with: ":<port>"},
	// Every other number (durations, counts, sizes, exit statuses).
	{re: regexp.MustCompile(`\d+`), with: "<n>"},
}

// space collapses runs of blanks and line breaks to one space, so a
// re-wrapped log tail signs the same.
var space = regexp.MustCompile(`\s+`)

// Normalize masks what differs between two occurrences of one failure:
// timestamps (<time>), temp paths (<tmp>), UUIDs (<id>), 0x numbers and
// hex ids of 6 or more digits mixing digits and letters (<hex>), pids
// (pid <pid>), ports (port <port>, :<port>) and every other number (<n>).
// White space is collapsed and the result cut at MaxNormalized bytes.
func Normalize(text string) string {
	// Masking never needs more than the part that is kept: cut first, so a
	// long log tail costs no more than MaxNormalized bytes of matching.
	s := text
	if len(s) > 2*MaxNormalized {
		s = strings.ToValidUTF8(s[:2*MaxNormalized], "")
	}
	for _, m := range masks {
		if m.keep == nil {
			s = m.re.ReplaceAllString(s, m.with)
			continue
		}
		s = m.re.ReplaceAllStringFunc(s, func(match string) string {
			if m.keep(match) {
				return match
			}
			return m.with
		})
	}
	s = strings.TrimSpace(space.ReplaceAllString(s, " "))
	if len(s) > MaxNormalized {
		s = strings.ToValidUTF8(s[:MaxNormalized], "")
	}
	return s
}

// SignatureLen is how many hex digits of the hash a signature keeps.
const SignatureLen = 16

// Signature is the failure signature of component failing with failure:
// "sig-" and the first SignatureLen hex digits of the SHA-256 of the
// component, a NUL and Normalize(failure). Two occurrences of one failure
// sign alike; another component's identical text does not.
func Signature(component, failure string) string {
	h := sha256.Sum256([]byte(component + "\x00" + Normalize(failure)))
	return "sig-" + hex.EncodeToString(h[:])[:SignatureLen]
}

// ValidSignature reports whether s has Signature's shape, for operator input.
func ValidSignature(s string) bool { return sigShape.MatchString(s) }

var sigShape = regexp.MustCompile(`^sig-[0-9a-f]{16}$`)
