package razar

import (
	"regexp"
	"slices"
	"strings"
)

// A shape is one kind of secret recognised by its form, not its value: a
// NATS seed, a JWT, a private key block, a bearer token, an API key. Every
// Redactor, the zero value and a nil one included, replaces them.
type shape struct {
	name string
	re   *regexp.Regexp
	// keep is the submatch whose text stays in front of the replacement
	// (the "Bearer " of a bearer token), 0 for none.
	keep int
	// lead, when set, refuses a match preceded by a byte it reports true
	// for: "sk-" inside "task-..." is no key.
	lead func(byte) bool
	// trail, when set, refuses a match followed by a byte it reports true for.
	trail func(byte) bool
	// suffix is written after the replacement: the part of the match
	// after the secret that the expression had to consume.
	suffix string
	// secret, when set, decides on the match's secret part (after keep).
	secret func(string) bool
	// hints, when set, are strings one of which every match contains
	// (lower-cased when fold): a text with none of them is not searched,
	// so the expressions run only where a secret could be.
	hints []string
	fold  bool
}

func isBase32(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '2' && c <= '7' }
func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// mixed reports whether s has a lower-case letter, an upper-case letter
// and a digit, as every random key does and few words, paths or names do.
func mixed(s string) bool {
	var lo, up, dig bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		lo = lo || c >= 'a' && c <= 'z'
		up = up || c >= 'A' && c <= 'Z'
		dig = dig || c >= '0' && c <= '9'
	}
	return lo && up && dig
}

// tokenLike reports whether a bearer credential looks random rather than a
// word: it has a digit, or is too long for one ("Bearer authentication"
// is prose).
func tokenLike(s string) bool {
	if len(s) >= 24 {
		return true
	}
	return strings.ContainsAny(s, "0123456789")
}

// notMasked reports whether s is not already a mask: "xxxxx" (the bus's
// RedactURL), "****", Redacted.
func notMasked(s string) bool {
	return s != Redacted && strings.Trim(s, "x*") != ""
}

// shapes are the secret shapes every Redactor replaces. Each is anchored on
// a fixed prefix or a structure ordinary text does not have: hex digests,
// UUIDs, paths and words pass untouched (redact_test.go checks).
var shapes = []shape{
	// PEM private keys and NATS seed blocks, whole, in raw text or inside a
	// JSON string (where the newlines are \n); a block cut before its END
	// line loses everything that looks like its body.
	{name: "private key block", hints: []string{"-----BEGIN "}, re: regexp.MustCompile(
		`-----BEGIN [A-Z0-9 ]*(?:PRIVATE KEY|NKEY SEED)-----(?:(?s:.*?)-----END [A-Z0-9 ]*(?:PRIVATE KEY|NKEY SEED)-*|(?:[A-Za-z0-9+/=:,. \t\r\n-]|\\[nrt])*)`)},
	// NATS nkey seeds: "S" and the key type (user, account, operator,
	// server, cluster, curve), then 56 more base32 characters.
	{name: "NATS seed", re: regexp.MustCompile(`S[UAONCX][A-Z2-7]{56}`), lead: isBase32, trail: isBase32},
	// JWTs: base64url header and payload, each a JSON object ("eyJ" is
	// `{"`), and the signature.
	{name: "JWT", hints: []string{"eyJ"}, re: regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)},
	// An Authorization header's credential: after a scheme always, without
	// one when it looks random (`authorization = get_token()` is code).
	{name: "authorization header", hints: []string{"authorization"}, fold: true, re: regexp.MustCompile(`(?i)(authorization\\?["']?\s*[:=]\s*\\?["']?(?:bearer|basic|token|digest)\s+)[A-Za-z0-9\-._~+/]{4,}=*`), keep: 1},
	{name: "authorization value", hints: []string{"authorization"}, fold: true, re: regexp.MustCompile(`(?i)(authorization\\?["']?\s*[:=]\s*\\?["']?)[A-Za-z0-9\-._~+/]{8,}=*`), keep: 1, secret: tokenLike},
	// The password of a URL's user information (scheme://user:password@host).
	{name: "URL password", hints: []string{"://"}, re: regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@`), keep: 1, suffix: "@", secret: notMasked},
	// A bearer token anywhere else.
	{name: "bearer token", hints: []string{"bearer"}, fold: true, re: regexp.MustCompile(`(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*`), keep: 1, secret: tokenLike},
	// API keys of the common providers.
	{name: "sk- API key", hints: []string{"sk-"}, re: regexp.MustCompile(`sk-[A-Za-z0-9_-]{20,}`), lead: isKeyChar, secret: mixed},
	{name: "Stripe key", hints: []string{"k_live_", "k_test_"}, re: regexp.MustCompile(`[sr]k_(?:live|test)_[A-Za-z0-9]{10,}`), lead: isKeyChar},
	{name: "GitHub token", hints: []string{"gh", "github_pat_"}, re: regexp.MustCompile(`(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`), lead: isKeyChar},
	{name: "GitLab token", hints: []string{"glpat-"}, re: regexp.MustCompile(`glpat-[A-Za-z0-9_-]{20,}`), lead: isKeyChar},
	{name: "AWS access key id", hints: []string{"AKIA", "ASIA"}, re: regexp.MustCompile(`(?:AKIA|ASIA)[A-Z0-9]{16}`), lead: isAlnum, trail: isAlnum},
	{name: "Slack token", hints: []string{"xox"}, re: regexp.MustCompile(`xox[abposr]-[A-Za-z0-9-]{10,}`), lead: isKeyChar},
	{name: "Google API key", hints: []string{"AIza"}, re: regexp.MustCompile(`AIza[0-9A-Za-z_-]{35}`), lead: isKeyChar},
}

// ScrubShapes returns s with every secret shape replaced by Redacted. It is
// what a nil Redactor does; a Redactor also replaces its known values and
// patterns.
func ScrubShapes(s string) string {
	lower := "" // s lower-cased, made once when a folded hint needs it
	for i := range shapes {
		sh := &shapes[i]
		if len(sh.hints) > 0 {
			in := s
			if sh.fold {
				if lower == "" {
					lower = strings.ToLower(s)
				}
				in = lower
			}
			if !slices.ContainsFunc(sh.hints, func(h string) bool { return strings.Contains(in, h) }) {
				continue
			}
		}
		if t := sh.scrub(s); t != s {
			s, lower = t, ""
		}
	}
	return s
}

func (sh *shape) scrub(s string) string {
	locs := sh.re.FindAllStringSubmatchIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, loc := range locs {
		start, end := loc[0], loc[1]
		secretFrom := start
		if sh.keep > 0 && loc[2*sh.keep] >= 0 {
			secretFrom = loc[2*sh.keep+1]
		}
		if sh.lead != nil && start > 0 && sh.lead(s[start-1]) ||
			sh.trail != nil && end < len(s) && sh.trail(s[end]) ||
			sh.secret != nil && !sh.secret(strings.TrimSuffix(s[secretFrom:end], sh.suffix)) ||
			secretFrom == end {
			continue
		}
		b.WriteString(s[last:secretFrom])
		b.WriteString(Redacted)
		b.WriteString(sh.suffix)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
