package config

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/razar/razar"
)

// envFix is the fix every razar.env syntax error points to.
const envFix = `write KEY=VALUE, VALUE bare, 'single-quoted' (taken as is) or "double-quoted" (\", \\ and \n escapes)`

// ParseEnvFile parses config/razar.env: one KEY=VALUE a line, optionally
// after "export ". Blank lines and lines starting with # are ignored. VALUE
// is taken as written (surrounding blanks and a " #" comment removed),
// or within matching single quotes literally, or within double quotes with
// \" \\ and \n understood (any other backslash is kept). A quoted value ends
// at its closing quote on the same line; only blanks or a # comment may
// follow. KEY matches [A-Za-z_][A-Za-z0-9_]*. A later KEY replaces an
// earlier one.
//
// A bad line is a *razar.ConfigError (wrapping razar.ErrInvalidConfig) with File file
// and Field "line N". Errors never quote a value: the file holds secrets.
func ParseEnvFile(file string, data []byte) (map[string]string, error) {
	env := map[string]string{}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	n := 0
	for line := range strings.Lines(text) {
		n++
		key, value, ok, msg := parseEnvLine(line)
		if msg != "" {
			return nil, &razar.ConfigError{File: file, Field: "line " + strconv.Itoa(n), Msg: msg, Fix: envFix}
		}
		if ok {
			env[key] = value
		}
	}
	return env, nil
}

// LoadEnvFile reads and parses an env file (see ParseEnvFile). A missing
// file is no error: it gives an empty map. Any other read failure is a
// *razar.ConfigError.
func LoadEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, &razar.ConfigError{File: path, Msg: errText(err), Fix: "make it readable by RAZAR's user, or remove it"}
	}
	return ParseEnvFile(path, data)
}

// blank reports whether c is a space or a tab.
func blank(c byte) bool { return c == ' ' || c == '\t' }

// parseEnvLine parses one line. ok is false for a blank or comment line; msg
// says what is wrong with a bad one.
func parseEnvLine(line string) (key, value string, ok bool, msg string) {
	line = strings.TrimRight(line, "\r\n")
	line = strings.Trim(line, " \t")
	if line == "" || line[0] == '#' {
		return "", "", false, ""
	}
	if rest, found := strings.CutPrefix(line, "export"); found && rest != "" && blank(rest[0]) {
		line = strings.TrimLeft(rest, " \t")
	}
	k, v, found := strings.Cut(line, "=")
	if !found {
		return "", "", false, "no '=' on the line"
	}
	key = strings.TrimRight(k, " \t")
	if !validEnvKey(key) {
		return "", "", false, "the name before '=' is not a variable name (letters, digits and _, not starting with a digit)"
	}
	v = strings.TrimLeft(v, " \t")
	var rest string
	switch {
	case v == "":
	case v[0] == '\'':
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", "", false, key + ": the single quote is not closed on this line"
		}
		value, rest = v[1:1+end], v[2+end:]
	case v[0] == '"':
		var closed bool
		value, rest, closed = unquoteDouble(v[1:])
		if !closed {
			return "", "", false, key + ": the double quote is not closed on this line"
		}
	default:
		value = v
		// A # after a blank starts a comment, as in the shell.
		for i := 1; i < len(value); i++ {
			if value[i] == '#' && blank(value[i-1]) {
				value = value[:i]
				break
			}
		}
		value = strings.TrimRight(value, " \t")
	}
	// After a closing quote: blanks, then nothing or a # comment.
	if after := strings.TrimLeft(rest, " \t"); after != "" && (after[0] != '#' || len(after) == len(rest)) {
		return "", "", false, key + ": text after the closing quote (a # comment needs a blank before it)"
	}
	if strings.IndexByte(value, 0) >= 0 {
		return "", "", false, key + ": the value holds a NUL byte, which no environment variable can"
	}
	return key, value, true, ""
}

// unquoteDouble reads a double-quoted value up to its closing quote: s
// starts after the opening one. rest is what follows the closing quote.
func unquoteDouble(s string) (value, rest string, closed bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			switch s[i+1] {
			case '"', '\\':
				b.WriteByte(s[i+1])
				i++
			case 'n':
				b.WriteByte('\n')
				i++
			default:
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// validEnvKey reports whether k matches ^[A-Za-z_][A-Za-z0-9_]*$.
func validEnvKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		letter := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
