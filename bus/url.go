package bus

import (
	"net/url"
	"strings"
)

// redactedSecret stands in for a URL's password or token.
const redactedSecret = "xxxxx"

// RedactURL returns s, a NATS URL or a comma-separated list of them as
// --nats and $RAZAR_NATS_URL take, with every credential replaced by
// "xxxxx", so it can be printed or put in an error. A password is redacted
// as url.URL.Redacted does; a user without a password is redacted too,
// since NATS reads nats://TOKEN@host as a token. An entry that does not
// parse loses everything between "://" (or its start) and its last "@".
func RedactURL(s string) string {
	if !strings.Contains(s, "@") {
		return s // nothing to hide; the common case
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactOne(p)
	}
	return strings.Join(parts, ",")
}

func redactOne(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil && u.Host != "" && !strings.Contains(u.Host, "@") {
		if _, ok := u.User.Password(); ok {
			return keepSpace(s, u.Redacted())
		}
		u.User = url.User(redactedSecret)
		return keepSpace(s, u.String())
	}
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		start = i + len("://")
	} else {
		start = len(s) - len(strings.TrimLeft(s, " \t"))
	}
	return s[:start] + redactedSecret + s[at:]
}

// keepSpace keeps the blanks around an entry of a list as they were.
func keepSpace(orig, redacted string) string {
	trimmed := strings.TrimSpace(orig)
	i := strings.Index(orig, trimmed)
	return orig[:i] + redacted + orig[i+len(trimmed):]
}
