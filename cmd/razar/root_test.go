package main

import (
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/razar/razar/internal/clihelp"
)

// TestOneDashLongFlagsAreTakenAsBefore: Go's flag package took -home and
// -json; pflag would read them as shorthands. The value of a flag is left
// as typed, whatever it looks like.
func TestOneDashLongFlagsAreTakenAsBefore(t *testing.T) {
	t.Parallel()
	root := newCLI(".", io.Discard, io.Discard, os.LookupEnv).newRoot()
	for _, tt := range []struct{ in, want []string }{
		{[]string{"-home", "h", "status", "-json"}, []string{"--home", "h", "status", "--json"}},
		{[]string{"-home=h", "status"}, []string{"--home=h", "status"}},
		{[]string{"escalate", "web", "--error", "-home"}, []string{"escalate", "web", "--error", "-home"}},
		{[]string{"escalate", "web", "-error", "-json"}, []string{"escalate", "web", "--error", "-json"}},
		{[]string{"logs", "web", "-f", "-n", "2"}, []string{"logs", "web", "-f", "-n", "2"}},
		{[]string{"status", "--", "-json"}, []string{"status", "--", "-json"}},
		{[]string{"status", "-bogus"}, []string{"status", "-bogus"}},
	} {
		if got := clihelp.SingleDash(root, tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("singleDash(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEveryCommandHasItsFlagsForCompletion(t *testing.T) {
	t.Parallel()
	c := newCLI(".", io.Discard, io.Discard, os.LookupEnv)
	root := c.newRoot()
	for path, flag := range map[string]string{"boot": "retries", "rotate-keys": "secrets-dir", "verify-monitoring": "exporter",
		"status": "json", "logs": "n", "fixes pin": "fix", "memory init": "source", "identity add": "role"} {
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil || cmd.Flags().Lookup(flag) == nil {
			t.Errorf("razar %s has no --%s for help, completion and man pages (%v)", path, flag, err)
		}
	}
}
