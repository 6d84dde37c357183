package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/config"
)

// A component is launched the way boot launches it (launch: its own
// session, output to its log) and dumps its environment: it sees its
// declared env, the base variables and RAZAR_COMPONENT, never a rung's key
// or anything else RAZAR was started with.
func TestComponentSeesItsDeclaredEnvAndNoneOfRazars(t *testing.T) {
	planted := map[string]string{
		"KIMI2_API_KEY":   "sk-kimi2-planted-1111",
		"AIRSTAR_API_KEY": "sk-airstar-planted-2222",
		"RSTAR_API_KEY":   "sk-rstar-planted-3333",
		"OPENAI_API_KEY":  "sk-openai-planted-4444",
		"RAZAR_HOME":      "/srv/razar",
	}
	for k, v := range planted {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	c := config.Component{Name: "web", Command: []string{"env"}, Workdir: dir, Env: map[string]string{"LOG_LEVEL": "info"}}
	logPath := filepath.Join(dir, "web.log")
	p, err := launch(c, logPath, "")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("env did not exit")
	}
	if p.err != nil {
		t.Fatalf("env: %v", p.err)
	}
	out, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			seen[k] = v
		}
	}
	if seen["LOG_LEVEL"] != "info" || seen["RAZAR_COMPONENT"] != "web" || seen["PATH"] != os.Getenv("PATH") {
		t.Errorf("component env lacks its own variables: %v", seen)
	}
	for k, v := range planted {
		if _, ok := seen[k]; ok || strings.Contains(string(out), v) {
			t.Errorf("component sees RAZAR's %s", k)
		}
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "LANG": true, "TZ": true, "TMPDIR": true, "LOG_LEVEL": true, "RAZAR_COMPONENT": true}
	for k := range seen {
		if !allowed[k] {
			t.Errorf("component inherited %s", k)
		}
	}
}
