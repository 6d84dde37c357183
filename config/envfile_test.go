package config

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleEnv is a razar.env as an operator writes one.
const exampleEnv = `# Credentials for the repair rungs. Keep this file 0600.
export OPENAI_API_KEY=sk-test-123
KIMI_TOKEN='p@ss w#rd $HOME'
K2_ENDPOINT="http://127.0.0.1:8088/v1"   # the local model
GREETING="say \"hi\"\nthen leave"
EMPTY=

  INDENTED = spaced value # trailing comment
URL=http://example.test/path#fragment
`

func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name string
		data string
		want map[string]string
	}{
		{"example", exampleEnv, map[string]string{
			"OPENAI_API_KEY": "sk-test-123",
			"KIMI_TOKEN":     "p@ss w#rd $HOME",
			"K2_ENDPOINT":    "http://127.0.0.1:8088/v1",
			"GREETING":       "say \"hi\"\nthen leave",
			"EMPTY":          "",
			"INDENTED":       "spaced value",
			"URL":            "http://example.test/path#fragment",
		}},
		{"empty file", "", map[string]string{}},
		{"only comments and blanks", "# a\n\n   \n\t# b\n", map[string]string{}},
		{"last duplicate wins", "A=1\nA=2\n", map[string]string{"A": "2"}},
		{"CRLF and BOM", "\uFEFFA=1\r\nB='2'\r\n", map[string]string{"A": "1", "B": "2"}},
		{"no final newline", "A=1", map[string]string{"A": "1"}},
		{"export prefix, with tabs", "export\tA=1\nexport  B=2\n", map[string]string{"A": "1", "B": "2"}},
		{"a variable named export", "export=1\nexported=2\n", map[string]string{"export": "1", "exported": "2"}},
		{"single quotes are literal", `A='a\nb\"c'`, map[string]string{"A": `a\nb\"c`}},
		{"double-quote escapes", `A="q\" bs\\ nl\n other\t $X"`, map[string]string{"A": "q\" bs\\ nl\n other\\t $X"}},
		{"empty quotes", `A=""` + "\nB=''", map[string]string{"A": "", "B": ""}},
		{"equals in value", "A=b=c\n", map[string]string{"A": "b=c"}},
		{"quote inside bare value", `A=it's"fine"`, map[string]string{"A": `it's"fine"`}},
		{"comment after quotes", `A="x" # c` + "\nB='y'\t#c", map[string]string{"A": "x", "B": "y"}},
		{"underscore and digits", "_A1=1\n__=2\n", map[string]string{"_A1": "1", "__": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvFile("razar.env", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("ParseEnvFile = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseEnvFileErrors(t *testing.T) {
	tests := []struct {
		name, data, line string
		msg              []string
	}{
		{"no equals", "A=1\n# ok\nsk-secret-token\n", "line 3", []string{"no '='"}},
		{"export without value", "export A\n", "line 1", []string{"no '='"}},
		{"empty key", "=1\n", "line 1", []string{"variable name"}},
		{"key starts with a digit", "1A=x\n", "line 1", []string{"variable name"}},
		{"key with a dash", "\nMY-KEY=x\n", "line 2", []string{"variable name"}},
		{"key with a space", "MY KEY=x\n", "line 1", []string{"variable name"}},
		{"unclosed single quote", "A='abc\n", "line 1", []string{"A:", "single quote"}},
		{"unclosed double quote", `A="abc`, "line 1", []string{"A:", "double quote"}},
		{"escaped closing quote", `A="abc\"`, "line 1", []string{"double quote"}},
		{"mismatched quotes", `A="abc'`, "line 1", []string{"double quote"}},
		{"text after quote", `A="abc"def`, "line 1", []string{"after the closing quote"}},
		{"comment glued to quote", `A='abc'#c`, "line 1", []string{"after the closing quote"}},
		{"NUL in value", "A=a\x00b\n", "line 1", []string{"NUL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEnvFile("config/razar.env", []byte(tt.data))
			wantConfigError(t, err, "config/razar.env", tt.line, tt.msg...)
			// The file holds credentials: an error quotes none of it.
			for _, secret := range []string{"sk-secret-token", "abc", "MY-KEY", "MY KEY"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error quotes %q from the file: %v", secret, err)
				}
			}
		})
	}
}

func TestLoadEnvFile(t *testing.T) {
	dir := t.TempDir()
	env, err := LoadEnvFile(filepath.Join(dir, "razar.env"))
	if err != nil || env == nil || len(env) != 0 {
		t.Fatalf("LoadEnvFile(missing) = %v, %v; want an empty map", env, err)
	}
	path := filepath.Join(dir, "razar.env")
	if err := os.WriteFile(path, []byte(exampleEnv), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err = LoadEnvFile(path)
	if err != nil || env["KIMI_TOKEN"] != "p@ss w#rd $HOME" {
		t.Fatalf("LoadEnvFile = %v, %v", env, err)
	}
	if err := os.WriteFile(path, []byte("A=1\nbad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadEnvFile(path)
	wantConfigError(t, err, path, "line 2")
	// A directory where the file should be cannot be read.
	_, err = LoadEnvFile(dir)
	checkParseError(t, err, dir)
}

// envKey is the rule for names, written independently of the parser's own check.
var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func FuzzParseEnvFile(f *testing.F) {
	f.Add([]byte(exampleEnv))
	f.Add([]byte("export A=1\nB='x y'\nC=\"a\\\"b\\\\c\\nd\"  # c\n"))
	f.Add([]byte("\uFEFFA=1\r\n#c\r\n\r\n"))
	f.Add([]byte(`A="unclosed`))
	f.Add([]byte("A='x'y\n1B=2\n=3\nexport\n"))
	f.Add([]byte("A=a\x00b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvFile("fuzz.env", data)
		if err != nil {
			checkParseError(t, err, "fuzz.env")
			return
		}
		for k, v := range env {
			if !envKey.MatchString(k) {
				t.Fatalf("accepted invalid key %q", k)
			}
			// What is accepted must be usable as an environment variable.
			if strings.ContainsRune(v, 0) {
				t.Fatalf("accepted a NUL in %s", k)
			}
		}
	})
}
