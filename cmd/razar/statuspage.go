package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/mirror"
)

// statusPage serves the status page at / on the metrics listener: the
// components by chakra layer, open incidents at their rung, patches waiting
// for approval, and the latest escalations and patches, each incident
// linked to its view (/incident/<id>, statuspage_incident.go). It refreshes
// itself and fits a phone. Everything in it is escaped: component output
// and rung text are not trusted.
func (d *daemon) statusPage(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, incidentPrefix) {
		d.incidentPage(w, r)
		return
	}
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	view, err := d.statusView(ctx, bus.AllComponents)
	if err != nil {
		http.Error(w, "status: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
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
	page.Fixes = d.fixMemoryView()
	page.Escalations = recentRecords(d.c.path(mirror.InvocationsFile), 10)
	page.Patches = recentRecords(d.c.path(mirror.PatchHistoryFile), 10)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusTemplate.Execute(w, page); err != nil {
		d.log.Warn().Err(err).Msg("status page")
	}
}

type statusPageData struct {
	Now         time.Time
	Host        string // whose mission this is
	View        *bus.StatusView
	Layers      []chakraLayer
	Open        []*bus.IncidentRecord
	Escalations []bus.AuditRecord
	Patches     []bus.AuditRecord
	Fixes       *fixMemoryView
}

// fixMemoryView is the status page's fix memory: its counters and the
// newest signatures (docs/FIXES.md).
type fixMemoryView struct {
	Hits, Misses, Stale, Heals, Learned float64
	Entries                             []fixmem.Entry
	More                                int
}

// fixMemoryView reads the fix memory's counters and newest signatures; nil
// when the memory is off.
func (d *daemon) fixMemoryView() *fixMemoryView {
	mem := d.orch.Fixes()
	if mem == nil || d.fixMetrics == nil {
		return nil
	}
	v := &fixMemoryView{}
	for _, c := range []struct {
		to *float64
		c  prometheus.Counter
	}{{&v.Hits, d.fixMetrics.Hits}, {&v.Misses, d.fixMetrics.Misses}, {&v.Stale, d.fixMetrics.Stale}, {&v.Heals, d.fixMetrics.Heals}, {&v.Learned, d.fixMetrics.Learned}} {
		var m dto.Metric
		if c.c.Write(&m) == nil {
			*c.to = m.GetCounter().GetValue()
		}
	}
	v.Entries = mem.List()
	if n := len(v.Entries) - 10; n > 0 {
		v.Entries, v.More = v.Entries[:10], n
	}
	return v
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

// recentRecords reads the newest n JSON lines of a logs/ mirror file.
func recentRecords(path string, n int) []bus.AuditRecord {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var tail bytes.Buffer
	if _, err := printTail(&tail, f, n); err != nil {
		return nil
	}
	var out []bus.AuditRecord
	sc := bufio.NewScanner(&tail)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var r bus.AuditRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	// Newest first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return time.Since(t).Round(time.Second).String() + " ago"
	},
	"in": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return "in " + time.Until(t).Round(time.Second).String()
	},
	"clock": func(t time.Time) string { return t.Local().Format("15:04:05") },
	"stamp": func(iso string) string {
		if t, err := time.Parse(time.RFC3339Nano, iso); err == nil {
			return t.Local().Format("15:04:05")
		}
		return iso
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>RAZAR {{.Host}}: {{.View.Mission.Health}}</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:0;padding:12px;background:#fafafa;color:#222}
h1{font-size:20px;margin:0 0 8px} h2{font-size:16px;margin:18px 0 6px}
.health{padding:2px 8px;border-radius:4px;color:#fff}
.next{background:#ffebee;border-left:4px solid #c62828;padding:6px 10px;margin:8px 0}
.healthy{background:#2e7d32}.degraded{background:#ef6c00}.halted{background:#c62828}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #e0e0e0;padding:4px 6px;text-align:left;vertical-align:top}
th{font-weight:600;background:#f0f0f0}
.st-healthy{color:#2e7d32}.st-quarantined,.st-failed{color:#c62828;font-weight:600}.st-escalated,.st-restarting{color:#ef6c00}
code{background:#eee;padding:1px 4px;border-radius:3px}
.small{color:#666;font-size:13px}
@media (max-width:600px){.wide{display:none}}
</style></head><body>
<h1>RAZAR {{.Host}} <span class="health {{.View.Mission.Health}}">{{.View.Mission.Health}}</span></h1>
<div class="small">host {{.Host}}{{with .View.Host}} · home {{.Home}}{{end}} · updated {{clock .Now}}{{with .View.Mission.Cycle}} · cycle {{.}}{{end}} · refreshes every 5 s</div>
{{with .View.Mission}}{{if .Next}}<p class="next">Boot cycle {{.Halted}} halted. Next step: <b>{{.Next}}</b></p>{{end}}
{{if .Problems}}<ul class="problems">{{range .Problems}}<li>{{.}}</li>{{end}}</ul>{{end}}{{end}}
{{range .Layers}}
<h2>{{.Name}}</h2>
<table><tr><th>component</th><th>state</th><th>restarts</th><th class="wide">last exit</th><th>next</th></tr>
{{range .Components}}<tr><td>{{.Name}}{{if .Held}} (stopped by an operator){{end}}</td>
<td class="st-{{.Status}}">{{.Status}}{{with .Rung}} · {{.}}{{end}}{{if not .NextAttempt.IsZero}} · next attempt {{in .NextAttempt}} ({{clock .NextAttempt}}){{else if and (eq .Status "escalated") (not .Rung)}} · between attempts{{end}}</td>
<td>{{.Restarts}}</td><td class="wide">{{.LastExit}}</td>
<td>{{if not .NextRestart.IsZero}}restart {{in .NextRestart}}{{with .Backoff}} (backoff {{.}}){{end}}{{end}}</td></tr>
{{end}}</table>
{{end}}
<h2>Open incidents</h2>
{{if .Open}}<table><tr><th>incident</th><th>component</th><th>rung</th><th>attempts</th><th class="wide">opened</th></tr>
{{range .Open}}<tr><td><a href="/incident/{{.ID}}">{{.ID}}</a></td><td>{{.Component}}</td>
<td>{{with .Pending}}{{.Rung}} (attempt {{.Attempt}}, pass {{.Pass}}){{else}}between attempts{{with .LastRung}} (last: {{.}}){{end}}{{end}}</td>
<td>{{len .Attempts}}</td><td class="wide">{{ago .Opened}}</td></tr>
{{end}}</table>{{else}}<p class="small">none</p>{{end}}
{{if .View.Approvals}}<h2>Waiting for approval</h2>
<table><tr><th>patch</th><th>component</th><th>rung</th><th>run</th></tr>
{{range .View.Approvals}}<tr><td>{{.Patch}}</td><td>{{.Component}}</td><td>{{.Rung}}</td>
<td><code>razar approve {{.Component}} {{.Patch}}</code> before {{clock .Until}}</td></tr>
{{end}}</table>{{end}}
<h2>Rungs</h2>
<table><tr><th>rung</th><th>state</th><th class="wide">detail</th></tr>
{{range .View.Agents}}<tr><td>{{if .Display}}{{.Display}}{{else}}{{.Name}}{{end}}</td><td>{{if .Ready}}ready{{else}}unavailable{{end}}</td><td class="wide">{{.Reason}}</td></tr>
{{end}}</table>
{{with .Fixes}}<h2>Fix memory</h2>
<p>{{.Heals}} healed from memory · {{.Hits}} hits · {{.Misses}} misses · {{.Stale}} stale · {{.Learned}} learned</p>
{{if .Entries}}<table><tr><th>signature</th><th>component</th><th>fixes</th><th class="wide">failure</th></tr>
{{range .Entries}}<tr><td><code>{{.Signature}}</code>{{if .Pinned}} (pinned){{end}}</td><td>{{.Component}}</td><td>{{.Usable}} of {{.Fixes}} usable</td><td class="wide small">{{.Failure}}</td></tr>
{{end}}</table>{{with .More}}<p class="small">… {{.}} more: <code>razar fixes list</code></p>{{end}}{{else}}<p class="small">nothing remembered yet</p>{{end}}
{{end}}
<h2>Recent escalations and attempts</h2>
{{if .Escalations}}<table>{{range .Escalations}}<tr><td class="small">{{stamp .TimestampISO}}</td><td>{{.Component}}</td>
<td>{{.Event}} {{if .AgentDisplay}}{{.AgentDisplay}}{{else}}{{.Agent}}{{end}} {{.Outcome}}{{with .Summary}}: {{.}}{{end}}{{with .Incident}} <a href="/incident/{{.}}">{{.}}</a>{{end}}</td></tr>{{end}}</table>
{{else}}<p class="small">none</p>{{end}}
<h2>Recent patches</h2>
{{if .Patches}}<table>{{range .Patches}}<tr><td class="small">{{stamp .TimestampISO}}</td><td>{{.Component}}</td>
<td>{{.Event}} {{.PatchID}}{{with .Reason}}: {{.}}{{end}}{{with .Incident}} <a href="/incident/{{.}}">{{.}}</a>{{end}}</td></tr>{{end}}</table>
{{else}}<p class="small">none</p>{{end}}
<p class="small"><a href="/metrics">/metrics</a></p>
</body></html>
`))
