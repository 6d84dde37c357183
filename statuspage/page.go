package statuspage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/razar/razar/internal/cut"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/tailfile"
)

// Status is what the status page reads of the running RAZAR at each
// request: the status view `razar status` shows and the fix memory.
type Status interface {
	// StatusView is the host, its components, incidents, rungs and
	// approvals, as `razar status` shows them.
	StatusView(ctx context.Context) (*bus.StatusView, error)
	// FixMemory is the fix memory's counters and newest signatures; nil
	// when the memory is off.
	FixMemory() *FixMemory
}

// FixMemory is the status page's fix memory: its counters and the newest
// signatures (docs/FIXES.md).
type FixMemory struct {
	Hits, Misses, Stale, Heals, Learned float64
	Entries                             []FixEntry
	More                                int // signatures past Entries
}

// FixEntry is one remembered failure signature on the status page.
type FixEntry struct {
	Signature, Component, Failure string
	Fixes, Usable                 int
	Pinned                        bool
}

// Page serves the status page at / and each incident's view at
// /incident/<id>: the components by chakra layer, open incidents at their
// rung, patches waiting for approval, and the latest escalations and
// patches, each incident linked to its view. It refreshes itself and fits
// a phone. Everything in it is escaped: component output and rung text are
// not trusted.
type Page struct {
	// Status is the running RAZAR's view; required.
	Status Status
	// Incidents is where an incident's view reads the record of truth;
	// required.
	Incidents Source
	// Escalations and Patches are the logs/ mirror files whose newest
	// lines the page lists (razar_ai_invocations.json, patch_history.jsonl).
	Escalations, Patches string
	// Warn is told of a page that could not be rendered; incident is ""
	// for the status page itself. Optional.
	Warn func(err error, msg, incident string)
}

var _ http.Handler = (*Page)(nil)

// IncidentPrefix is the path of the incident view: /incident/<id>.
const IncidentPrefix = "/incident/"

// ServeHTTP serves the status page and the incident views.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, IncidentPrefix) {
		p.incident(w, r)
		return
	}
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	view, err := p.Status.StatusView(ctx)
	if err != nil {
		http.Error(w, "status: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	page := p.data(view)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusTemplate.Execute(w, page); err != nil {
		p.warn(err, "status page", "")
	}
}

// data is what the status page's template shows of view.
func (p *Page) data(view *bus.StatusView) statusPageData {
	page := statusPageData{Now: time.Now(), View: view, Host: view.Mission.Host}
	if page.Host == "" && view.Host != nil {
		page.Host = view.Host.Name
	}
	layers := map[string][]bus.ComponentView{}
	for _, c := range view.Mission.Components {
		layer := c.Chakra
		if layer == "" {
			layer = "(no chakra)"
		}
		layers[layer] = append(layers[layer], c)
	}
	for name, comps := range layers {
		page.Layers = append(page.Layers, chakraLayer{Name: name, Components: comps})
	}
	sort.Slice(page.Layers, func(i, j int) bool { return layerOrder(page.Layers[i].Name) < layerOrder(page.Layers[j].Name) })
	for _, inc := range view.Incidents {
		if inc.State == "open" {
			page.Open = append(page.Open, inc)
		}
	}
	page.Fixes = p.Status.FixMemory()
	page.Escalations = recentRecords(p.Escalations, 10)
	page.Patches = recentRecords(p.Patches, 10)
	return page
}

func (p *Page) warn(err error, msg, incident string) {
	if p.Warn != nil {
		p.Warn(err, msg, incident)
	}
}

// incident serves /incident/<id>: what each rung of the incident saw and
// did, read from the store. An id that is not one, or that the store does
// not know, is a 404 page saying so.
func (p *Page) incident(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, IncidentPrefix)
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	inc, err := Load(ctx, p.Incidents, id)
	switch {
	case errors.Is(err, ErrBadID):
		NotFound(w, id, "That is not an incident id.")
		return
	case errors.Is(err, razar.ErrNotFound):
		NotFound(w, id, "Neither the incidents RAZAR keeps nor the audit stream hold it.")
		return
	case err != nil:
		http.Error(w, "incident "+id+": "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, inc); err != nil {
		p.warn(err, "incident page", id)
		http.Error(w, "incident page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(page.Bytes())
}

type statusPageData struct {
	Now         time.Time
	Host        string // whose mission this is
	View        *bus.StatusView
	Layers      []chakraLayer
	Open        []*bus.IncidentRecord
	Escalations []bus.AuditRecord
	Patches     []bus.AuditRecord
	Fixes       *FixMemory
}

type chakraLayer struct {
	Name       string
	Components []bus.ComponentView
}

// layerOrder sorts the chakra layers root to crown, unknown ones after.
func layerOrder(name string) int {
	for i, n := range []string{"root", "sacral", "solar", "solar_plexus", "heart", "throat", "third_eye", "brow", "crown"} {
		if n == name {
			return i
		}
	}
	return 100
}

// recentRecords reads the newest n JSON lines of a logs/ mirror file,
// newest first.
func recentRecords(path string, n int) []bus.AuditRecord {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	tail, err := tailfile.Lines(f, st.Size(), n)
	if err != nil {
		return nil
	}
	var out []bus.AuditRecord
	sc := bufio.NewScanner(bytes.NewReader(bytes.Join(tail, nil)))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var r bus.AuditRecord
		if json.Unmarshal([]byte(cut.Clean(sc.Text())), &r) == nil {
			out = append(out, r)
		}
	}
	// Newest first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
