package statuspage

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// status is a running RAZAR as the page reads it.
type status struct {
	view *bus.StatusView
	err  error
	fix  *FixMemory
}

func (s status) StatusView(context.Context) (*bus.StatusView, error) { return s.view, s.err }
func (s status) FixMemory() *FixMemory                               { return s.fix }

// noIncidents is a store that holds no incident.
type noIncidents struct{}

func (noIncidents) Incident(context.Context, string) (*bus.IncidentRecord, uint64, error) {
	return nil, 0, razar.ErrNotFound
}

func (noIncidents) Scan(context.Context, string, time.Time, bool, func(uint64, string, []byte) error) error {
	return nil
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

// The page shows the components by chakra layer, root first, the open
// incidents linked to their views, the fix memory and the newest mirror
// records first; what a component or a rung wrote is escaped.
func TestPageShowsTheMissionEscapedAndNewestFirst(t *testing.T) {
	dir := t.TempDir()
	esc := filepath.Join(dir, "invocations.json")
	lines := `{"event":"escalation","component":"web","summary":"first"}` + "\n" +
		`{"event":"escalation","component":"web","summary":"second"}` + "\n"
	if err := os.WriteFile(esc, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	view := &bus.StatusView{
		Host: &bus.HostInfo{Name: "razar-1", Home: "/srv/razar"},
		Mission: &bus.MissionState{Health: bus.HealthDegraded, Components: []bus.ComponentView{
			{Name: "api", Chakra: "crown", Status: bus.StatusHealthy},
			{Name: "web", Chakra: "root", Status: bus.StatusEscalated, LastExit: "<script>alert(1)</script>"},
		}},
		Incidents: []*bus.IncidentRecord{{ID: "inc-1", Component: "web", State: "open"}, {ID: "inc-0", Component: "web", State: "healed"}},
	}
	page := &Page{Status: status{view: view, fix: &FixMemory{Heals: 3, Entries: []FixEntry{{Signature: "sig-1", Component: "web", Fixes: 2, Usable: 1}}}},
		Incidents: noIncidents{}, Escalations: esc, Patches: filepath.Join(dir, "missing.jsonl")}
	code, body := get(t, page, "/")
	if code != http.StatusOK {
		t.Fatalf("GET /: %d\n%s", code, body)
	}
	for _, want := range []string{"RAZAR razar-1", `href="/incident/inc-1"`, "sig-1", "3 healed from memory", "&lt;script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, `href="/incident/inc-0"`) {
		t.Error("the page shows an unescaped script or a healed incident as open")
	}
	if strings.Index(body, "<h2>root</h2>") > strings.Index(body, "<h2>crown</h2>") {
		t.Error("the crown layer comes before the root")
	}
	if strings.Index(body, "second") > strings.Index(body, "first") {
		t.Error("the mirror's records are not newest first")
	}
}

// A path that is no page is a 404, an incident the store does not hold is
// the incident view's 404 saying so, and a RAZAR that cannot say its
// status is a 503 saying why.
func TestPageAnswersWhatItCannotShow(t *testing.T) {
	var warned []string
	page := &Page{Status: status{err: errors.New("supervisor gone")}, Incidents: noIncidents{},
		Warn: func(err error, msg, incident string) { warned = append(warned, msg) }}
	if code, _ := get(t, page, "/favicon.ico"); code != http.StatusNotFound {
		t.Errorf("GET /favicon.ico: %d, want 404", code)
	}
	if code, body := get(t, page, "/incident/inc-20260101-000000-aaaaaa"); code != http.StatusNotFound || !strings.Contains(body, "Neither the incidents RAZAR keeps") {
		t.Errorf("unknown incident: %d\n%s", code, body)
	}
	if code, body := get(t, page, "/incident/a.b"); code != http.StatusNotFound || !strings.Contains(body, "not an incident id") {
		t.Errorf("bad incident id: %d\n%s", code, body)
	}
	if code, body := get(t, page, "/"); code != http.StatusServiceUnavailable || !strings.Contains(body, "supervisor gone") {
		t.Errorf("GET / without a status: %d\n%s", code, body)
	}
	if len(warned) != 0 {
		t.Errorf("warned of %q: nothing failed to render", warned)
	}
}
