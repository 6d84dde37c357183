package supervisor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/supervisor"
)

// TestAnUnreadableQuarantineFileKeepsTheQuarantineAndSaysWhy: garbage in
// quarantine/a.json (a torn write, a bad edit) is no release: after a
// RAZAR restart a stays quarantined and unstarted, its status naming the
// file and `razar release a`; the release then lifts it.
func TestAnUnreadableQuarantineFileKeepsTheQuarantineAndSaysWhy(t *testing.T) {
	comps := func() []config.Component {
		return []config.Component{{Name: "a", Priority: 1, Command: counted("a", "exec sleep 600")}}
	}
	h := newHost(t, comps(), supervisor.Config{})
	h.sup.Close()
	path := filepath.Join(h.home, "quarantine", "a.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{\"component\":\"a\",\"inci\x00garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	h.sup = h.start(comps())
	a := h.comp("a")
	if a.Status != bus.StatusQuarantined || !strings.Contains(a.LastError, "quarantine/a.json is unreadable") || !strings.Contains(a.LastError, "razar release a") {
		t.Fatalf("a with a garbage quarantine file: %+v, want quarantined, saying why", a)
	}
	_ = h.bootTicking() // halts, as with any quarantined component; it rewrites the state file
	st, err := supervisor.ReadState(h.home)
	if err != nil || !containsQuarantined(st, "a") {
		t.Fatalf("%s does not list a as quarantined: %+v", razar.Home("").StateFile(), st)
	}
	if n := h.starts("a"); n != 0 {
		t.Fatalf("a started %d times while quarantined", n)
	}
	if err := h.sup.Release(t.Context(), "a"); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("quarantine file after the release: %v", err)
	}
}

func containsQuarantined(st *bus.MissionState, name string) bool {
	for _, c := range st.Components {
		if c.Name == name {
			return c.Status == bus.StatusQuarantined
		}
	}
	return false
}
